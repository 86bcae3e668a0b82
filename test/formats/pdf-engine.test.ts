/**
 * End to end: the real engine reads a rendered page of Chinese and English, the result becomes a
 * searchable PDF, and pdf.js gives back exactly the recognised text, placed on the detected lines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOcr } from '../../src/ocr.js'
import type { Ocr } from '../../src/engine.js'
import { renderResult } from '../../src/formats/index.js'
import type { Point } from '../../src/types.js'
import { registerFonts } from '../fixtures/fonts.js'
import { drawPage, expectPlaced, extractPdf } from './support.js'

const squash = (s: string): string => s.normalize('NFKC').replace(/\s+/gu, '')

describe('searchable PDF from a real OCR result', () => {
  let ocr: Ocr
  beforeAll(async () => {
    registerFonts()
    ocr = await createOcr({ workers: 1 })
  })
  afterAll(async () => {
    await ocr?.close()
  })

  it('copies out the recognised Chinese and English text where the lines were found', async () => {
    const drawn = await drawPage(900, 360, [
      { text: '光学字符识别服务', x: 40, y: 90, size: 44 },
      { text: 'Searchable PDF output', x: 40, y: 190, size: 40 },
      { text: '中文和English混合 2024', x: 40, y: 290, size: 40 },
    ])
    const r = await ocr.read(drawn.png)
    // the engine read the page (the PDF is checked against its result, not against the drawing)
    expect(squash(r.lines.map((l) => l.text).join(''))).toBe(squash(drawn.lines.map((l) => l.text).join('')))
    const pdf = (await renderResult('pdf', r, { source: drawn.png })) as Uint8Array
    const [p] = await extractPdf(pdf)
    const extracted = p!.text.split('\n').map((s) => s.trim()).filter(Boolean)
    expect(extracted).toEqual(r.lines.map((l) => l.text.trim()))
    const heightPt = p!.view[3]! - p!.view[1]!
    const s = heightPt / r.height
    for (const l of r.lines) expectPlaced(p!.items, l, ([x, y]: Point): Point => [x * s, heightPt - y * s])
  })
})
