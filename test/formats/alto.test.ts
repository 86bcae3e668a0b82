/**
 * ALTO v4 structure checks. The ALTO XSD (CC BY-SA 4.0) is not vendored (see docs/FORMATS.md), so
 * these tests check what alto-4-4.xsd requires of the parts we write: element order in
 * Description, the required attributes (Page ID / PHYSICAL_IMG_NR, block ID, String CONTENT), at
 * least one String per TextLine with SP only between Strings, WC within 0..1, and unique IDs.
 */
import { describe, expect, it } from 'vitest'
import { renderAlto } from '../../src/formats/alto.js'
import { page, rect, result, sampleResult, xmlErrors, xpath } from './support.js'

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
    // exact line box of the first line, estimated word boxes cut in proportion to characters
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
