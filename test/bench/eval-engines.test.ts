import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import { createEngine, joinWords, parseTesseractTsv, ppuDictionary, ppuLine } from '../../bench/lib/engines.js'
import { resolveModelPaths } from '../../src/models/assets.js'

const HEADER = 'level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext'
const row = (level: number, b: number, p: number, l: number, w: number, box: [number, number, number, number], text = '', conf = -1): string =>
  [level, 1, b, p, l, w, ...box, conf, text].join('\t')

describe('joinWords', () => {
  it.each([
    [['Hello', 'world'], 'Hello world'],
    [['博物', '馆', '每'], '博物馆每'],
    [['合计', '12.50'], '合计 12.50'],
    [['使用', 'ATM', '登录'], '使用 ATM 登录'],
    [['订单号：', 'A123'], '订单号： A123'],
    [[], ''],
  ])('%j → %s', (words, expected) => {
    expect(joinWords(words)).toBe(expected)
  })
})

describe('parseTesseractTsv', () => {
  it('groups words by block/paragraph/line and boxes each line with its level-4 row', () => {
    const tsv = [
      HEADER,
      row(1, 0, 0, 0, 0, [0, 0, 800, 600]),
      row(2, 1, 0, 0, 0, [40, 30, 400, 80]),
      row(3, 1, 1, 0, 0, [40, 30, 400, 80]),
      row(4, 1, 1, 1, 0, [40, 30, 300, 24]),
      row(5, 1, 1, 1, 1, [40, 30, 100, 24], 'Thank', 96),
      row(5, 1, 1, 1, 2, [150, 32, 60, 22], 'you', 95),
      row(4, 1, 1, 2, 0, [40, 80, 120, 30]),
      row(5, 1, 1, 2, 1, [40, 80, 60, 30], '谢谢', 90),
      row(5, 1, 1, 2, 2, [100, 80, 60, 30], '惠顾', 91),
      // A line whose only word is blank produces no line.
      row(4, 2, 1, 1, 0, [500, 500, 10, 10]),
      row(5, 2, 1, 1, 1, [500, 500, 10, 10], ' ', 95),
    ].join('\n')
    expect(parseTesseractTsv(tsv)).toEqual([
      {
        text: 'Thank you',
        box: [[40, 30], [340, 30], [340, 54], [40, 54]],
        words: [
          { text: 'Thank', box: [[40, 30], [140, 30], [140, 54], [40, 54]] },
          { text: 'you', box: [[150, 32], [210, 32], [210, 54], [150, 54]] },
        ],
      },
      {
        text: '谢谢惠顾',
        box: [[40, 80], [160, 80], [160, 110], [40, 110]],
        words: [
          { text: '谢谢', box: [[40, 80], [100, 80], [100, 110], [40, 110]] },
          { text: '惠顾', box: [[100, 80], [160, 80], [160, 110], [100, 110]] },
        ],
      },
    ])
  })

  it('falls back to the union of word boxes without a level-4 row, and ignores short rows', () => {
    const tsv = [HEADER, row(5, 3, 1, 1, 1, [10, 10, 20, 10], 'a'), row(5, 3, 1, 1, 2, [40, 5, 20, 20], 'b'), 'garbage\trow'].join('\n')
    expect(parseTesseractTsv(tsv)).toMatchObject([{ text: 'a b', box: [[10, 5], [60, 5], [60, 25], [10, 25]] }])
  })

  it('returns nothing for an empty page', () => {
    expect(parseTesseractTsv(`${HEADER}\n${row(1, 0, 0, 0, 0, [0, 0, 10, 10])}\n`)).toEqual([])
  })
})

describe('ppu-paddle-ocr', () => {
  it('ppuDictionary puts a space line after the keys, one more entry than the file has', () => {
    // ppu-paddle-ocr splits at newlines; it must get classes − 1 = keys + 1 entries, the last a space
    expect(ppuDictionary('a\nb\nc').split(/\r?\n/)).toEqual(['a', 'b', 'c', ' '])
    // a file that ends with a newline (or CRLF) gets no empty entry
    expect(ppuDictionary('a\nb\nc\n').split(/\r?\n/)).toEqual(['a', 'b', 'c', ' '])
    expect(ppuDictionary('a\r\nb\r\n').split(/\r?\n/)).toEqual(['a', 'b', ' '])
    const keys = readFileSync(resolveModelPaths().keys, 'utf8')
    const shipped = keys.split(/\r?\n/)
    expect(shipped).toHaveLength(6623)
    const given = ppuDictionary(keys).split(/\r?\n/)
    expect(given).toHaveLength(6624)
    expect(given.slice(0, 6623)).toEqual(shipped)
    expect(given.at(-1)).toBe(' ')
  })

  it('ppuLine turns its axis-aligned box into four clockwise points', () => {
    expect(ppuLine({ text: 'hi', confidence: 0.9, box: { x: 10, y: 20, width: 30, height: 5 } })).toEqual({
      text: 'hi',
      box: [[10, 20], [40, 20], [40, 25], [10, 25]],
    })
  })

  it('reads a real photo with the shipped PP-OCRv4 files, characters not shifted, fetching nothing', async () => {
    // ppu-paddle-ocr downloads (fetch) any model file it is not given
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockRejectedValue(new Error('no network in this test'))
    const engine = await createEngine('ppu')
    try {
      expect(engine.describe).toMatch(/^ppu-paddle-ocr 6\./)
      const lines = await engine.read('test/fixtures/real/images/scene/easyocr_chinese.jpg')
      const texts = lines.map((l) => l.text)
      // with the dictionary as shipped these read 泷犀房, 彤34 …: every index one off
      expect(texts).toEqual(expect.arrayContaining(['愚园路', '西', '东', '315', '309']))
      const road = lines.find((l) => l.text === '愚园路')!
      // the sign's text sits around x 189–469, y 75–165 (labels.jsonl)
      const xs = road.box!.map(([x]) => x)
      const ys = road.box!.map(([, y]) => y)
      expect(Math.min(...xs)).toBeGreaterThan(150)
      expect(Math.max(...xs)).toBeLessThan(500)
      expect(Math.min(...ys)).toBeGreaterThan(60)
      expect(Math.max(...ys)).toBeLessThan(180)
      expect(fetchSpy).not.toHaveBeenCalled()
    } finally {
      await engine.close()
      fetchSpy.mockRestore()
    }
  }, 120_000)
})
