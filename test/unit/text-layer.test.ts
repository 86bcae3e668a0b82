import { getDocument, OPS } from 'pdfjs-dist/legacy/build/pdf.mjs'
import { PDFDocument, StandardFonts } from 'pdf-lib'
import { describe, expect, it } from 'vitest'
import { openPdf } from '../../src/document/pdf.js'
import { embeddedLines, glyphsFromOperators, hasRealText, linesRotation, MIN_TEXT_CHARS, visibleChars, type GlyphLike, type TextItemLike } from '../../src/document/text-layer.js'
import type { OcrLine, Point } from '../../src/types.js'
import { cjkPdf, makePdf, textPage } from '../fixtures/pdfs.js'

/** A horizontal item of `size` pt whose baseline starts at (x, y); width = 0.5 × size per character. */
const item = (str: string, x: number, y: number, size = 10, extra: Partial<TextItemLike> = {}): TextItemLike => ({
  str,
  transform: [size, 0, 0, size, x, y],
  width: str.length * size * 0.5,
  fontName: 'f',
  hasEOL: false,
  ...extra,
})
const styles = { f: { ascent: 0.8, descent: -0.2 } }
/** A 100 × 100 pt page at 72 dpi: y flips. */
const flip = (x: number, y: number): Point => [x, 100 - y]
const lines = (items: TextItemLike[]) => embeddedLines(items, styles, flip, 100, 100)

describe('embeddedLines', () => {
  it('one item → one line boxed from descent to ascent, clockwise from top-left, score 1', () => {
    expect(lines([item('ABCD', 10, 50)])).toEqual([{ text: 'ABCD', score: 1, box: [[10, 42], [30, 42], [30, 52], [10, 52]] }])
  })

  it('items on one baseline merge: touching ones directly, a word gap as a space', () => {
    const got = lines([item('AB', 10, 50), item('CD', 20, 50), item('EF', 33, 50)])
    expect(got.map((l) => l.text)).toEqual(['ABCD EF'])
    expect(got[0]!.box[1][0]).toBe(43)
  })

  it('a gap wider than MAX_WORD_GAP × size (a table column) or another baseline starts a new line', () => {
    const got = lines([item('LEFT', 5, 50), item('RIGHT', 40, 50), item('BELOW', 5, 30)])
    expect(got.map((l) => l.text)).toEqual(['LEFT', 'RIGHT', 'BELOW'])
  })

  it('hasEOL closes a line; whitespace-only items become one space and are not boxed', () => {
    const got = lines([item('AB', 10, 50, 10, { hasEOL: true }), item('CD', 20, 50), item(' ', 30, 50), item('EF', 35, 50)])
    expect(got.map((l) => l.text)).toEqual(['AB', 'CD EF'])
  })

  it('lines come out in reading order (top to bottom), whatever the content order', () => {
    expect(lines([item('LOW', 10, 20), item('HIGH', 10, 80)]).map((l) => l.text)).toEqual(['HIGH', 'LOW'])
  })

  it('text running down the page (rotated item) is boxed along its direction; the page reads at 270°', () => {
    // direction (0, −1) in PDF space = down the page after the flip
    const got = lines([{ str: 'DOWN', transform: [0, -10, 10, 0, 50, 90], width: 20, fontName: 'f', hasEOL: false }])
    expect(got[0]!.box).toEqual([[58, 10], [58, 30], [48, 30], [48, 10]])
    expect(linesRotation(got)).toBe(270)
    expect(linesRotation(lines([item('FLAT', 10, 50)]))).toBe(0)
  })

  it('a font without ascent/descent (NaN from pdf.js) gets the defaults; boxes are clipped to the page', () => {
    const got = embeddedLines([item('EDGE', 90, 99, 10, { fontName: 'g' })], { g: { ascent: NaN, descent: NaN } }, flip, 100, 100)
    expect(got[0]!.box).toEqual([[90, 0], [100, 0], [100, 3], [90, 3]])
  })
})

describe('hasRealText', () => {
  it(`needs ${MIN_TEXT_CHARS} visible characters; whitespace and U+FFFD do not count`, () => {
    expect(visibleChars([{ str: ' a\u00a0b\tc\n' }, { str: '\uFFFD\uFFFD' }])).toBe(3)
    expect(hasRealText([{ str: '12' }, { str: ' 3 ' }])).toBe(false)
    expect(hasRealText([{ str: 'Page' }])).toBe(true)
    expect(hasRealText([{ str: '你好世界' }])).toBe(true)
  })
})

/** Glyphs of `str` on the baseline y from x, each `widths[i]` wide (a number: all the same). */
function glyphRow(str: string, x: number, y: number, widths: number | number[]): GlyphLike[] {
  let at = x
  return Array.from(str).map((ch, i) => {
    const w = typeof widths === 'number' ? widths : widths[i]!
    const g: GlyphLike = { unicode: ch, start: [at, y], end: [at + w, y] }
    at += w
    return g
  })
}
const wordBoxes = (l: OcrLine): [string, number, number][] => l.words!.map((w) => [w.text, w.box[0][0], w.box[1][0]])

describe('embeddedLines with glyphs: words', () => {
  it('boxes each word from its own glyphs\' advances, across the line\'s height', () => {
    // "Hi you" drawn with uneven widths: H 8, i 2, space 3, y 5, o 5, u 5 (item width 28)
    const glyphs = glyphRow('Hi you', 10, 50, [8, 2, 3, 5, 5, 5])
    const [l] = embeddedLines([item('Hi you', 10, 50, 10, { width: 28 })], styles, flip, 100, 100, glyphs)
    expect(l!.text).toBe('Hi you')
    expect(wordBoxes(l!)).toEqual([['Hi', 10, 20], ['you', 23, 38]])
    expect(l!.words![1]!.box).toEqual([[23, 42], [38, 42], [38, 52], [23, 52]])
    expect(l!.words!.every((w) => w.score === 1)).toBe(true)
  })

  it('makes each CJK character a word, splits a ligature glyph between its letters, and merges items into one line', () => {
    const glyphs = [...glyphRow('你好', 10, 50, 10), ...glyphRow('\ufb01ne', 30, 50, [8, 4, 4])]
    const items = [item('你好', 10, 50, 10, { width: 20 }), item('fine', 30, 50, 10, { width: 16 })]
    const [l] = embeddedLines(items, styles, flip, 100, 100, glyphs)
    expect(l!.text).toBe('你好fine')
    expect(wordBoxes(l!)).toEqual([['你', 10, 20], ['好', 20, 30], ['fine', 30, 46]])
    // the ligature's 8 units go half to f, half to i: a word starting at "i" would begin at 34
    const [l2] = embeddedLines([item('fi ne', 30, 50, 10, { width: 19 })], styles, flip, 100, 100, [...glyphRow('\ufb01', 30, 50, 8), ...glyphRow(' ne', 38, 50, [3, 4, 4])])
    expect(wordBoxes(l2!)).toEqual([['fi', 30, 38], ['ne', 41, 49]])
  })

  it('spreads an item evenly over its width when its glyphs do not match or do not span it', () => {
    // glyphs of other text: no match
    const [a] = embeddedLines([item('ab cd', 10, 50, 10, { width: 25 })], styles, flip, 100, 100, glyphRow('zzzzz', 10, 50, 5))
    expect(wordBoxes(a!)).toEqual([['ab', 10, 20], ['cd', 25, 35]])
    // matching glyphs far narrower than the item (a font whose units the replay misreads)
    const [b] = embeddedLines([item('ab cd', 10, 50, 10, { width: 25 })], styles, flip, 100, 100, glyphRow('ab cd', 10, 50, 1))
    expect(wordBoxes(b!)).toEqual([['ab', 10, 20], ['cd', 25, 35]])
  })

  it('gives no words without glyphs', () => {
    expect(embeddedLines([item('ABCD', 10, 50)], styles, flip, 100, 100)[0]!.words).toBeUndefined()
  })
})

describe('glyphsFromOperators', () => {
  it('replays Tm, Tf, Tz, Tc, Tw, Ts, TJ numbers, TD/T* and the CTM', () => {
    const g = (unicode: string, isSpace = false) => ({ unicode, width: 500, isSpace })
    const fns = [OPS.save, OPS.transform, OPS.beginText, OPS.setFont, OPS.setHScale, OPS.setTextMatrix, OPS.showText, OPS.setCharSpacing, OPS.setWordSpacing, OPS.showText, OPS.setLeadingMoveText, OPS.setTextRise, OPS.showText, OPS.nextLine, OPS.showText, OPS.restore, OPS.showText]
    const args = [
      null,
      [2, 0, 0, 2, 10, 20], // cm: scale 2, move (10, 20)
      null,
      ['F1', 10],
      [50], // Tz 50 %: a 500-unit glyph advances 2.5
      [[1, 0, 0, 1, 5, 5]],
      [[g('A'), -1000, g('B')]], // A at x 5; −1000 moves 10 × 0.5 = 5 further: B at 5 + 2.5 + 5
      [1], // Tc 1
      [4], // Tw 4 (spaces only)
      [[g('C'), g(' ', true), g('D')]],
      [0, -20], // TD: new line 20 down, leading 20
      [3], // Ts 3
      [[g('E')]],
      null, // T*: another 20 down
      [[g('F')]],
      null,
      [[g('G')]], // after Q the CTM is the identity again
    ]
    const glyphs = glyphsFromOperators(fns, args, OPS)
    const at = (p: Point): Point => [10 + 2 * p[0], 20 + 2 * p[1]]
    expect(glyphs.map((x) => x.unicode).join('')).toBe('ABC DEFG')
    expect(glyphs[0]).toEqual({ unicode: 'A', start: at([5, 5]), end: at([7.5, 5]) })
    expect(glyphs[1]!.start).toEqual(at([12.5, 5]))
    // C: 15 → 15 + (5 + 1) × 0.5 = 18; the space adds Tw: (5 + 1 + 4) × 0.5
    expect([glyphs[2]!.start, glyphs[3]!.start, glyphs[4]!.start]).toEqual([at([15, 5]), at([18, 5]), at([23, 5])])
    expect(glyphs[5]!.start).toEqual(at([5, -12])) // TD 20 down, rise 3
    expect(glyphs[6]!.start).toEqual(at([5, -32])) // T*: the leading TD set
    expect(glyphs[7]!.start).toEqual([8, -32]) // no CTM: the text matrix where F left it, rise 3
  })

  it('places the glyphs of a real PDF where pdf.js\'s text items start and end', async () => {
    const bytes = await makePdf([textPage(['Kerning AV and fi', 'Second line'], { size: 20 })])
    const doc = await getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, verbosity: 0 }).promise
    try {
      const p = await doc.getPage(1)
      const { fnArray, argsArray } = await p.getOperatorList()
      const glyphs = glyphsFromOperators(fnArray, argsArray, OPS)
      const items = (await p.getTextContent()).items.filter((it) => 'str' in it && it.str.trim() !== '') as { str: string; transform: number[]; width: number }[]
      let k = 0
      for (const it of items) {
        const mine = glyphs.slice(k, (k += Array.from(it.str).length))
        expect(mine.map((g) => g.unicode).join('')).toBe(it.str)
        expect(mine[0]!.start[0]).toBeCloseTo(it.transform[4]!, 3)
        expect(mine[0]!.start[1]).toBeCloseTo(it.transform[5]!, 3)
        expect(mine[mine.length - 1]!.end[0] - mine[0]!.start[0]).toBeCloseTo(it.width, 3)
      }
    } finally {
      await doc.destroy()
    }
  })
})

describe('born-digital PDF pages with words (openPdf, words: true)', () => {
  const read = async (bytes: Uint8Array, words: boolean, dpi = 72) => {
    const doc = await openPdf(bytes, { maxPixels: 40_000_000, maxPages: 5, dpi, pdfText: 'embedded', words })
    try {
      const p = await doc.page(0)
      if (p.kind !== 'text') throw new Error('expected a text page')
      return p.lines
    } finally {
      await doc.close()
    }
  }

  it('boxes words from Helvetica\'s own advances, at the page\'s dpi', async () => {
    const src = await PDFDocument.create()
    const font = await src.embedFont(StandardFonts.Helvetica)
    const pg = src.addPage([400, 200])
    pg.drawText('Hello born digital world', { x: 40, y: 120, size: 20, font })
    const bytes = await src.save()
    const [line] = await read(bytes, true, 144) // 2 px per point
    expect(line!.text).toBe('Hello born digital world')
    let x = 40
    const want = line!.text.split(' ').map((w) => {
      const box: [string, number, number] = [w, 2 * x, 2 * (x + font.widthOfTextAtSize(w, 20))]
      x += font.widthOfTextAtSize(`${w} `, 20)
      return box
    })
    // within a point (pdf.js's Helvetica metrics against pdf-lib's; boxes are whole pixels)
    expect(wordBoxes(line!).map((w) => w[0])).toEqual(want.map((w) => w[0]))
    wordBoxes(line!).forEach(([, a, b], i) => {
      expect(Math.abs(a - want[i]![1])).toBeLessThanOrEqual(2)
      expect(Math.abs(b - want[i]![2])).toBeLessThanOrEqual(2)
    })
    // an even spread of the 24 characters would put "digital" 8 px further left
    const [x0, x1] = [line!.box[0][0], line!.box[1][0]]
    expect(want[2]![1] - (x0 + ((x1 - x0) * 11) / 24)).toBeGreaterThan(6)
    // words span the line's height
    for (const w of line!.words!) expect([w.box[0][1], w.box[2][1]]).toEqual([line!.box[0][1], line!.box[2][1]])
    expect((await read(bytes, false))[0]!.words).toBeUndefined()
  })

  it('gives CJK characters a word each and keeps a page\'s /Rotate', async () => {
    const cjk = await read(cjkPdf(), true)
    expect(cjk[0]!.words!.map((w) => w.text)).toEqual(Array.from('你好世界光学字符识别'))
    expect(cjk[1]!.words!.map((w) => w.text)).toEqual(['Hello', 'second', 'line'])
    // each character's box follows the one before it
    const xs = cjk[0]!.words!.map((w) => w.box[0][0])
    expect(xs.every((v, i) => i === 0 || v > xs[i - 1]!)).toBe(true)
    const [turned] = await read(await makePdf([textPage(['Rotated page text'], { size: 20, rotate: 90 })]), true)
    expect(turned!.words!.map((w) => w.text)).toEqual(['Rotated', 'page', 'text'])
    // /Rotate 90: the text runs down the displayed page, each word below the one before
    const ys = turned!.words!.map((w) => w.box[0][1])
    expect(ys[1]! > ys[0]! && ys[2]! > ys[1]!).toBe(true)
  })
})
