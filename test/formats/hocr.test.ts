import { describe, expect, it } from 'vitest'
import { renderHocr } from '../../src/formats/hocr.js'
import { escapeXml } from '../../src/formats/xml.js'
import type { OcrLine, Quad } from '../../src/types.js'
import { page, rect, result, sampleResult, wordLine, xmlErrors, xpath } from './support.js'

const el = (cls: string): string => `//*[local-name()='div' or local-name()='p' or local-name()='span'][@class='${cls}']`

describe('hOCR', () => {
  const r = sampleResult()
  const doc = renderHocr(r, 'scan "1" & co.png')

  it('is well-formed XHTML (libxml2)', () => {
    expect(xmlErrors(doc)).toBe('')
  })

  it('declares the system and capabilities it uses', () => {
    expect(xpath(doc, "string(//*[local-name()='meta'][@name='ocr-system']/@content)")).toMatch(/^ocrserve \d+\.\d+\.\d+/)
    expect(xpath(doc, "string(//*[local-name()='meta'][@name='ocr-capabilities']/@content)")).toBe('ocr_page ocr_carea ocr_par ocr_line')
    expect(xpath(doc, "string(//*[local-name()='meta'][@name='ocr-number-of-pages']/@content)")).toBe('2')
  })

  it('has one ocr_page per page with image, bbox and ppageno', () => {
    expect(xpath(doc, `count(${el('ocr_page')})`)).toBe('2')
    expect(xpath(doc, `string((${el('ocr_page')})[1]/@title)`)).toBe('image "scan 1 & co.png"; bbox 0 0 800 600; ppageno 0')
    expect(xpath(doc, `string((${el('ocr_page')})[2]/@title)`)).toBe('image "scan 1 & co.png"; bbox 0 0 640 480; ppageno 1')
  })

  it('nests carea > par > line, lines in reading order with their exact text', () => {
    expect(xpath(doc, `count(${el('ocr_page')}/*[@class='ocr_carea']/*[@class='ocr_par']/*[@class='ocr_line'])`)).toBe('4')
    const texts = [1, 2, 3, 4].map((i) => xpath(doc, `string((${el('ocr_line')})[${i}])`))
    expect(texts).toEqual(r.pages.flatMap((p) => p.lines.map((l) => l.text)))
    expect(xpath(doc, `count(${el('ocrx_word')})`)).toBe('0')
  })

  it('gives each line bbox, baseline or textangle, and x_wconf', () => {
    const titles = [1, 2, 3, 4].map((i) => xpath(doc, `string((${el('ocr_line')})[${i}]/@title)`))
    expect(titles[0]).toBe('bbox 40 50 640 90; baseline 0 0; x_wconf 99')
    expect(titles[1]).toBe('bbox 40 120 460 164; baseline 0 0; x_wconf 91')
    // the 30° quad: top-left (100, 400), 300 × 30 → bounds of its corners, and its angle
    expect(titles[2]).toBe('bbox 100 250 375 426; textangle 30; x_wconf 50')
    expect(titles[3]).toBe('bbox 20 30 320 66; baseline 0 0; x_wconf 75')
  })

  it('gives a slanted line its baseline slope and offset from the bbox bottom-left', () => {
    // bottom edge from (10, 60) to (210, 64): slope 0.02; bbox bottom y = 64 → offset at x=0 is -4
    const slanted = result([page(1, 300, 100, [{ text: 'x', score: 1, box: [[10, 40], [210, 44], [210, 64], [10, 60]] }])])
    const d = renderHocr(slanted)
    expect(xpath(d, `string(${el('ocr_line')}/@title)`)).toBe('bbox 10 40 210 64; baseline 0.02 -4; x_wconf 100')
  })

  it('omits carea/par on a page without lines and clips boxes to the page', () => {
    const r2 = result([page(1, 100, 50, []), page(2, 100, 50, [{ text: 'edge', score: 0.4, box: rect(-5, 40, 120, 20) }])])
    const d = renderHocr(r2)
    expect(xmlErrors(d)).toBe('')
    expect(xpath(d, `count((${el('ocr_page')})[1]/*)`)).toBe('0')
    expect(xpath(d, `string(${el('ocr_line')}/@title)`)).toBe('bbox 0 40 100 50; baseline 0 10; x_wconf 40') // the quad's bottom edge (y 60) lies below the clipped bbox
  })
})

/** Axis-aligned integer bounds of a quad, as hOCR's bbox writes them. */
const bbox = (q: Quad): string => `${Math.floor(Math.min(...q.map((p) => p[0])))} ${Math.floor(Math.min(...q.map((p) => p[1])))} ${Math.ceil(Math.max(...q.map((p) => p[0])))} ${Math.ceil(Math.max(...q.map((p) => p[1])))}`

describe('hOCR with word boxes', () => {
  const lines: OcrLine[] = [
    wordLine([['Invoice', 120, 0], ['No.', 50, 14], ['68590580', 130, 14]], 40, 30, 30),
    // CJK characters are words written without spaces; a Latin word among them is one word
    wordLine([['中', 28, 0], ['文', 28, 2, true], ['English', 100, 4, true], ['混', 28, 4, true], ['2024', 60, 16]], 40, 100, 32),
    wordLine([['tilted', 90, 0], ['3.5', 45, 12], ['degrees', 110, 12]], 60, 260, 28, 3.5),
    { text: 'no words here', score: 0.7, box: rect(40, 320, 200, 24) },
  ]
  const doc = renderHocr(result([page(1, 600, 400, lines)]), 'words.png')
  const lineEl = (i: number): string => `(${el('ocr_line')})[${i}]`
  const words = (i: number): string => `${lineEl(i)}/*[@class='ocrx_word']`

  it('is well-formed and declares ocrx_word', () => {
    expect(xmlErrors(doc)).toBe('')
    expect(xpath(doc, "string(//*[local-name()='meta'][@name='ocr-capabilities']/@content)")).toBe('ocr_page ocr_carea ocr_par ocr_line ocrx_word')
  })

  it('gives each word its quad\'s bounds and its own confidence, in order', () => {
    lines.slice(0, 3).forEach((line, i) => {
      expect(xpath(doc, `count(${words(i + 1)})`)).toBe(String(line.words!.length))
      line.words!.forEach((w, k) => {
        const span = `${words(i + 1)}[${k + 1}]`
        expect(xpath(doc, `string(${span})`)).toBe(w.text)
        expect(xpath(doc, `string(${span}/@title)`)).toBe(`bbox ${bbox(w.box)}; x_wconf ${Math.round(w.score * 100)}`)
        expect(xpath(doc, `string(${span}/@id)`)).toBe(`word_1_${i + 1}_${k + 1}`)
      })
    })
    // word 2 of line 1: 120 + 14 px in from x = 40, 50 wide, 30 high
    expect(xpath(doc, `string(${words(1)}[2]/@title)`)).toBe('bbox 174 30 224 60; x_wconf 55')
  })

  it('reads as the line\'s text: a space between Latin words, none between CJK characters', () => {
    expect([1, 2, 3].map((i) => xpath(doc, `string(${lineEl(i)})`))).toEqual(['Invoice No. 68590580', '中文English混 2024', 'tilted 3.5 degrees'])
  })

  it('keeps the tilted line\'s bbox and baseline, and x_wconf on the line', () => {
    const q = lines[2]!.box
    const slope = (q[2][1] - q[3][1]) / (q[2][0] - q[3][0])
    const title = xpath(doc, `string(${lineEl(3)}/@title)`)
    expect(title.startsWith(`bbox ${bbox(q)}; baseline ${Number(slope.toFixed(5))} `)).toBe(true)
    expect(title.endsWith('; x_wconf 90')).toBe(true)
    expect(slope).toBeCloseTo(-Math.tan((3.5 * Math.PI) / 180), 5)
  })

  it('writes a line without words, or whose words do not spell its text, as text only', () => {
    expect(xpath(doc, `count(${words(4)})`)).toBe('0')
    expect(xpath(doc, `string(${lineEl(4)})`)).toBe('no words here')
    const wrong = { ...lines[0]!, words: lines[0]!.words!.slice(1) }
    const d = renderHocr(result([page(1, 600, 400, [wrong])]))
    expect(xpath(d, `count(${el('ocrx_word')})`)).toBe('0')
    expect(xpath(d, "string(//*[local-name()='meta'][@name='ocr-capabilities']/@content)")).toBe('ocr_page ocr_carea ocr_par ocr_line')
  })
})

describe('escapeXml', () => {
  it('escapes markup and drops characters XML cannot carry, keeping astral ones', () => {
    expect(escapeXml(`a<b>&"c'\u0001\uD800😀\n`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;😀&#10;')
  })
})
