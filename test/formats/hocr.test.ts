import { describe, expect, it } from 'vitest'
import { renderHocr } from '../../src/formats/hocr.js'
import { escapeXml } from '../../src/formats/xml.js'
import { page, rect, result, sampleResult, xmlErrors, xpath } from './support.js'

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

describe('escapeXml', () => {
  it('escapes markup and drops characters XML cannot carry, keeping astral ones', () => {
    expect(escapeXml(`a<b>&"c'\u0001\uD800😀\n`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;😀&#10;')
  })
})
