/**
 * ALTO v4 structure checks. The ALTO XSD (CC BY-SA 4.0) is not vendored (see docs/FORMATS.md), so
 * these tests check what alto-4-4.xsd requires of the parts we write: element order in
 * Description, the required attributes (Page ID / PHYSICAL_IMG_NR, block ID, String CONTENT), at
 * least one String per TextLine with SP only between Strings, WC within 0..1, and unique IDs.
 */
import { describe, expect, it } from 'vitest'
import { renderAlto } from '../../src/formats/alto.js'
import type { OcrLine, Quad } from '../../src/types.js'
import { page, rect, result, sampleResult, wordLine, xmlErrors, xpath } from './support.js'

const q = (path: string): string => path.split('/').map((s) => (s && s !== '.' && !s.startsWith('@') && !s.includes('(') ? `*[local-name()='${s.replace(/\[.*$/, '')}']${s.match(/\[.*$/)?.[0] ?? ''}` : s)).join('/')
const n = (v: string): number => Number(v)

describe('ALTO v4', () => {
  const r = sampleResult()
  const doc = renderAlto(r, 'scan & 1.png')

  it('is well-formed XML in the ALTO v4 namespace', () => {
    expect(xmlErrors(doc)).toBe('')
    expect(xpath(doc, 'namespace-uri(/*)')).toBe('http://www.loc.gov/standards/alto/ns-v4#')
    expect(xpath(doc, 'local-name(/*)')).toBe('alto')
    expect(xpath(doc, 'string(/*/@SCHEMAVERSION)')).toBe('4.4')
  })

  it('describes unit, source image and software in schema order', () => {
    const children = [1, 2, 3].map((i) => xpath(doc, `local-name(${q('/alto/Description')}/*[${i}])`))
    expect(children).toEqual(['MeasurementUnit', 'sourceImageInformation', 'OCRProcessing'])
    expect(xpath(doc, `string(${q('/alto/Description/MeasurementUnit')})`)).toBe('pixel')
    expect(xpath(doc, `string(${q('/alto/Description/sourceImageInformation/fileName')})`)).toBe('scan & 1.png')
    expect(xpath(doc, `string(${q('/alto/Description/OCRProcessing')}/@ID)`)).toBe('ocr_1')
    expect(xpath(doc, `string(${q('/alto/Description/OCRProcessing/ocrProcessingStep/processingSoftware/softwareName')})`)).toBe('ocrserve')
    expect(xpath(doc, `local-name(/*/*[2])`)).toBe('Layout')
  })

  it('has one Page per page with its number and size, and a full-page PrintSpace', () => {
    expect(xpath(doc, `count(${q('/alto/Layout/Page')})`)).toBe('2')
    for (const [i, p] of r.pages.entries()) {
      const pg = `${q('/alto/Layout/Page')}[${i + 1}]`
      expect([xpath(doc, `string(${pg}/@ID)`), xpath(doc, `string(${pg}/@PHYSICAL_IMG_NR)`), xpath(doc, `string(${pg}/@WIDTH)`), xpath(doc, `string(${pg}/@HEIGHT)`)]).toEqual([`page_${p.page}`, String(p.page), String(p.width), String(p.height)])
      expect(xpath(doc, `string(${pg}/*[local-name()='PrintSpace']/@WIDTH)`)).toBe(String(p.width))
    }
  })

  it('gives every line its exact box and its words as Strings with SP between them', () => {
    const lines = r.pages.flatMap((p) => p.lines)
    const tl = q('//TextBlock/TextLine')
    expect(xpath(doc, `count(${tl})`)).toBe(String(lines.length))
    expect(xpath(doc, `count(${q('//Page')}[1]//*[local-name()='TextBlock'])`)).toBe('1')
    for (const [i, line] of lines.entries()) {
      const el = `(${tl})[${i + 1}]`
      const words = line.text.split(/\s+/)
      expect(xpath(doc, `count(${el}/*[local-name()='String'])`)).toBe(String(words.length))
      expect(xpath(doc, `count(${el}/*[local-name()='SP'])`)).toBe(String(words.length - 1))
      expect(xpath(doc, `local-name(${el}/*[1])`)).toBe('String')
      expect(xpath(doc, `local-name(${el}/*[last()])`)).toBe('String')
      const contents = words.map((_, k) => xpath(doc, `string(${el}/*[local-name()='String'][${k + 1}]/@CONTENT)`))
      expect(contents).toEqual(words)
      for (let k = 1; k <= words.length; k++) {
        const wc = n(xpath(doc, `string(${el}/*[local-name()='String'][${k}]/@WC)`))
        expect(wc).toBeCloseTo(line.score, 3)
      }
    }
    // exact line box of the first line; without measured words, word boxes cut in proportion to characters
    expect(['HPOS', 'VPOS', 'WIDTH', 'HEIGHT'].map((a) => xpath(doc, `string((${tl})[1]/@${a})`))).toEqual(['40', '50', '600', '40'])
    // 'Tom & Jerry <say> "hi" 'there'': 30 characters over 600 px = 20 px each; "Jerry" is characters 6..11
    expect(['HPOS', 'WIDTH'].map((a) => xpath(doc, `string((${tl})[1]/*[local-name()='String'][3]/@${a})`))).toEqual(['160', '100'])
    expect(['HPOS', 'WIDTH'].map((a) => xpath(doc, `string((${tl})[1]/*[local-name()='SP'][2]/@${a})`))).toEqual(['140', '20'])
  })

  it('uses unique IDs and keeps every box on the page', () => {
    const ids = xpath(doc, "//@ID").split(/\s+/).map((s) => s.replace(/^ID="|"$/g, ''))
    expect(ids.length).toBeGreaterThan(10)
    expect(new Set(ids).size).toBe(ids.length)
    for (const [i, p] of r.pages.entries()) {
      const boxes = q(`//Page[${i + 1}]`) + "//*[@HPOS]"
      const count = n(xpath(doc, `count(${boxes})`))
      for (let k = 1; k <= count; k++) {
        const [x, y, w] = ['HPOS', 'VPOS', 'WIDTH'].map((a) => n(xpath(doc, `string((${boxes})[${k}]/@${a})`)))
        expect(x).toBeGreaterThanOrEqual(0)
        expect(y).toBeGreaterThanOrEqual(0)
        expect(x! + w!).toBeLessThanOrEqual(p.width)
      }
    }
  })

  it('writes an empty PrintSpace for a page without text and skips lines with no characters', () => {
    const d = renderAlto(result([page(1, 100, 50, []), page(2, 100, 50, [{ text: '  ', score: 1, box: rect(0, 0, 10, 10) }])]))
    expect(xmlErrors(d)).toBe('')
    expect(xpath(d, `count(${q('//PrintSpace')}/*)`)).toBe('0')
    expect(xpath(d, `count(${q('//sourceImageInformation')})`)).toBe('0')
  })
})

/** [HPOS, VPOS, WIDTH, HEIGHT] of a quad's axis-aligned integer bounds. */
function pos(q: Quad): number[] {
  const [x0, y0] = [Math.floor(Math.min(...q.map((p) => p[0]))), Math.floor(Math.min(...q.map((p) => p[1])))]
  const [x1, y1] = [Math.ceil(Math.max(...q.map((p) => p[0]))), Math.ceil(Math.max(...q.map((p) => p[1])))]
  return [x0, y0, x1 - x0, y1 - y0]
}

describe('ALTO v4 with measured word boxes', () => {
  const lines: OcrLine[] = [
    wordLine([['Invoice', 120, 0], ['No.', 50, 14], ['68590580', 130, 9]], 40, 30, 30),
    wordLine([['中', 28, 0], ['文', 28, 2, true], ['English', 100, 4, true], ['混', 28, 4, true], ['2024', 60, 16]], 40, 100, 32),
    wordLine([['tilted', 90, 0], ['3.5', 45, 12], ['degrees', 110, 12]], 60, 260, 28, -3.5),
  ]
  const doc = renderAlto(result([page(1, 600, 400, lines)]))
  const tl = (i: number): string => `(${q('//TextBlock/TextLine')})[${i}]`
  const strings = (i: number): string => `${tl(i)}/*[local-name()='String']`

  it('is well-formed', () => {
    expect(xmlErrors(doc)).toBe('')
  })

  it('gives each String its word quad\'s bounds, its text and its own score', () => {
    lines.forEach((line, i) => {
      expect(xpath(doc, `count(${strings(i + 1)})`)).toBe(String(line.words!.length))
      line.words!.forEach((w, k) => {
        const s = `${strings(i + 1)}[${k + 1}]`
        expect(['HPOS', 'VPOS', 'WIDTH', 'HEIGHT'].map((a) => n(xpath(doc, `string(${s}/@${a})`)))).toEqual(pos(w.box))
        expect(xpath(doc, `string(${s}/@CONTENT)`)).toBe(w.text)
        expect(n(xpath(doc, `string(${s}/@WC)`))).toBeCloseTo(w.score, 3)
      })
    })
    // the first line's third word: 120 + 14 + 50 + 9 px in from x = 40
    expect(['HPOS', 'VPOS', 'WIDTH', 'HEIGHT'].map((a) => xpath(doc, `string(${strings(1)}[3]/@${a})`))).toEqual(['233', '30', '130', '30'])
  })

  it('puts an SP with the measured gap where the text has a space, none between CJK characters', () => {
    // line 1: Invoice SP No. SP 68590580, gaps 14 and 9 px
    const kids = (i: number): string[] => {
      const count = n(xpath(doc, `count(${tl(i)}/*)`))
      return Array.from({ length: count }, (_, k) => xpath(doc, `local-name(${tl(i)}/*[${k + 1}])`))
    }
    expect(kids(1)).toEqual(['String', 'SP', 'String', 'SP', 'String'])
    expect([1, 2].map((k) => xpath(doc, `string(${tl(1)}/*[local-name()='SP'][${k}]/@WIDTH)`))).toEqual(['14', '9'])
    expect([1, 2].map((k) => xpath(doc, `string(${tl(1)}/*[local-name()='SP'][${k}]/@HPOS)`))).toEqual(['160', '224'])
    // line 2: 中 文 English 混 joined, a space before 2024
    expect(kids(2)).toEqual(['String', 'String', 'String', 'String', 'SP', 'String'])
    expect(xpath(doc, `string(${tl(2)}/*[local-name()='SP']/@WIDTH)`)).toBe('16')
    expect(kids(3)).toEqual(['String', 'SP', 'String', 'SP', 'String'])
  })

  it('keeps the line box exact and falls back to estimates when the words do not spell the text', () => {
    expect(['HPOS', 'VPOS', 'WIDTH', 'HEIGHT'].map((a) => n(xpath(doc, `string(${tl(3)}/@${a})`)))).toEqual(pos(lines[2]!.box))
    const wrong: OcrLine = { ...lines[0]!, words: [{ ...lines[0]!.words![0]!, text: 'Invoices' }, ...lines[0]!.words!.slice(1)] }
    const d = renderAlto(result([page(1, 600, 400, [wrong])]))
    // estimated: 20 characters over the 323 px line, every word with the line's score
    expect(xpath(d, `string(${q('//String')}[1]/@CONTENT)`)).toBe('Invoice')
    expect(n(xpath(d, `string(${q('//String')}[1]/@WIDTH)`))).toBe(Math.ceil(40 + (323 * 7) / 20) - 40)
    expect(n(xpath(d, `string(${q('//String')}[2]/@WC)`))).toBeCloseTo(0.9, 3)
  })
})
