/**
 * Searchable PDF round trips: results for generated page images (text drawn at known places, so no
 * OCR is needed) rendered to PDF, then read back with pdf.js — text (Chinese and astral characters
 * included) and positions compared with the result; pages rasterised to check the images.
 */
import { degrees, PDFDocument, rgb, StandardFonts } from 'pdf-lib'
import sharp from 'sharp'
import { beforeAll, describe, expect, it } from 'vitest'
import { OcrError } from '../../src/errors.js'
import { DEFAULT_IMAGE_DPI, renderPdf } from '../../src/formats/pdf.js'
import type { OcrLine, Point } from '../../src/types.js'
import { registerFonts } from '../fixtures/fonts.js'
import { drawPage, expectPlaced, extractPdf, page, rasterPdfPage, rect, result } from './support.js'

const ptMap = (dpi: number, pageHeightPt: number) => ([x, y]: Point): Point => [(x * 72) / dpi, pageHeightPt - (y * 72) / dpi]
const squashNl = (s: string): string => s.replace(/[ \t]+/g, ' ').trim()

/** Mean luma of a w×h box of an RGBA raster. */
function luma(r: { data: Uint8ClampedArray; width: number }, x: number, y: number, w: number, h: number): number {
  let sum = 0
  for (let j = y; j < y + h; j++) for (let i = x; i < x + w; i++) {
    const o = (j * r.width + i) * 4
    sum += (r.data[o]! + r.data[o + 1]! + r.data[o + 2]!) / 3
  }
  return sum / (w * h)
}

/** A PNG with every chunk of one type removed. */
function withoutChunk(png: Buffer, type: string): Buffer {
  const parts = [png.subarray(0, 8)]
  for (let o = 8; o < png.length; ) {
    const len = png.readUInt32BE(o)
    if (png.toString('latin1', o + 4, o + 8) !== type) parts.push(png.subarray(o, o + 12 + len))
    o += 12 + len
  }
  return Buffer.concat(parts)
}

beforeAll(() => registerFonts())

describe('searchable PDF from images', () => {
  it('embeds a PNG at its density and puts Chinese and English text on the drawn lines', async () => {
    const drawn = await drawPage(900, 500, [
      { text: 'Invoice 2024-11 总计 ¥1,280.00', x: 40, y: 80, size: 36 },
      { text: '你好，世界！这是可复制的文字。', x: 40, y: 180, size: 40 },
      { text: 'tilted 倾斜 line', x: 120, y: 420, size: 32, deg: 12 },
    ])
    const png = await sharp(drawn.png).withMetadata({ density: 150 }).png().toBuffer()
    const r = result([page(1, 900, 500, drawn.lines)])
    const pdf = await renderPdf(r, { source: png, fileName: 'invoice.png' })
    const [p] = await extractPdf(pdf)
    expect(p!.view).toEqual([0, 0, 900 * 72 / 150, 500 * 72 / 150])
    expect(squashNl(p!.text).split('\n').map(squashNl)).toEqual(drawn.lines.map((l) => l.text))
    for (const l of drawn.lines) expectPlaced(p!.items, l, ptMap(150, 240))
    // the image is the drawn page: dark where text was drawn, white elsewhere
    const raster = await rasterPdfPage(pdf, 1, 150)
    expect([raster.width, raster.height]).toEqual([900, 500])
    expect(luma(raster, 40, 150, 300, 30)).toBeLessThan(200)
    expect(luma(raster, 600, 250, 200, 100)).toBeGreaterThan(250)
    const doc = await PDFDocument.load(pdf)
    expect(doc.getTitle()).toBe('invoice.png')
  })

  it('uses the default resolution for an image without density and keeps pixels → points exact', async () => {
    const drawn = await drawPage(600, 300, [{ text: 'No density here', x: 20, y: 60, size: 30 }])
    const bare = withoutChunk(await sharp(drawn.png).png().toBuffer(), 'pHYs') // sharp always writes one
    expect(bare.includes('pHYs')).toBe(false)
    const r = result([page(1, 600, 300, drawn.lines)])
    const [p] = await extractPdf(await renderPdf(r, { source: bare }))
    const s = 72 / DEFAULT_IMAGE_DPI
    expect(p!.view).toEqual([0, 0, 600 * s, 300 * s])
    expectPlaced(p!.items, drawn.lines[0]!, ptMap(DEFAULT_IMAGE_DPI, 300 * s), 0.5)
  })

  it('turns a JPEG with EXIF orientation upright (boxes are in the upright image)', async () => {
    // stored 200×100 with a red block at its top-left; orientation 6 shows it turned 90° clockwise (100×200, block top-right)
    const stored = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#fff' } })
      .composite([{ input: { create: { width: 40, height: 40, channels: 3, background: '#f00' } }, left: 0, top: 0 }])
      .jpeg().withMetadata({ orientation: 6, density: 72 }).toBuffer()
    const line: OcrLine = { text: 'upright', score: 1, box: rect(10, 150, 80, 20) }
    const pdf = await renderPdf(result([page(1, 100, 200, [line])]), { source: stored })
    const [p] = await extractPdf(pdf)
    expect(p!.view).toEqual([0, 0, 100, 200])
    expectPlaced(p!.items, line, ptMap(72, 200))
    const raster = await rasterPdfPage(pdf, 1, 72)
    const red = (x: number, y: number): boolean => raster.data[(y * raster.width + x) * 4]! > 200 && raster.data[(y * raster.width + x) * 4 + 1]! < 80
    expect(red(80, 20)).toBe(true) // top-right in the upright image
    expect(red(20, 20)).toBe(false)
  })

  it('makes one page per TIFF page, astral characters included', async () => {
    const a = await drawPage(500, 300, [{ text: 'Page one 第一页', x: 30, y: 80, size: 32 }])
    // no test font has 𠀀 or 😀, so the image shows the line without them; the result (and so the
    // text layer) carries the whole line
    const drawn = await drawPage(400, 250, [{ text: 'Page two 第二页', x: 30, y: 120, size: 28 }])
    const b = { ...drawn, lines: [{ ...drawn.lines[0]!, text: 'Page two 𠀀 😀 第二页' }] }
    const tiff = await sharp([a.png, b.png], { join: { animated: true } }).tiff().toBuffer()
    // a joined TIFF has one page size: pages are the first page's size, the second padded
    const meta = await sharp(tiff).metadata()
    expect(meta.pages).toBe(2)
    const w = meta.width!
    const h = meta.pageHeight ?? meta.height!
    const r = result([page(1, w, h, a.lines), page(2, w, h, b.lines)])
    const pages = await extractPdf(await renderPdf(r, { source: tiff }))
    expect(pages).toHaveLength(2)
    expect(squashNl(pages[0]!.text)).toBe('Page one 第一页')
    expect(squashNl(pages[1]!.text)).toBe('Page two 𠀀 😀 第二页')
    const s = 72 / DEFAULT_IMAGE_DPI
    expectPlaced(pages[1]!.items, b.lines[0]!, ptMap(DEFAULT_IMAGE_DPI, h * s))
  })

  it('decodes other formats (lossless WebP) and embeds the page losslessly', async () => {
    const drawn = await drawPage(300, 120, [{ text: 'WebP 页面', x: 20, y: 70, size: 36 }])
    const webp = await sharp(drawn.png).webp({ lossless: true }).toBuffer()
    const pdf = await renderPdf(result([page(1, 300, 120, drawn.lines)]), { source: webp })
    const [p] = await extractPdf(pdf)
    expect(squashNl(p!.text)).toBe('WebP 页面')
    const raster = await rasterPdfPage(pdf, 1, 72)
    let diff = 0
    for (let i = 0; i < 300 * 120; i++) diff = Math.max(diff, Math.abs(raster.data[i * 4]! - drawn.rgb[i * 3]!))
    expect(diff).toBeLessThanOrEqual(2) // pdf.js draws the embedded PNG at 1:1: same pixels
  })

  it('refuses without a source, and for a page the source does not have', async () => {
    const r = result([page(1, 10, 10, [])])
    await expect(renderPdf(r, {})).rejects.toSatisfy((e: unknown) => e instanceof OcrError && e.code === 'BAD_REQUEST')
    const png = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#fff' } }).png().toBuffer()
    await expect(renderPdf(result([page(2, 10, 10, [])]), { source: png })).rejects.toSatisfy((e: unknown) => e instanceof OcrError && e.code === 'BAD_REQUEST')
    await expect(renderPdf(r, { source: new TextEncoder().encode('not an image') })).rejects.toSatisfy((e: unknown) => e instanceof OcrError && e.code === 'UNSUPPORTED_MEDIA')
  })
})

describe('searchable PDF from a PDF', () => {
  it('keeps the pages and adds text only to OCR pages, through the CropBox origin', async () => {
    const src = await PDFDocument.create()
    const font = await src.embedFont(StandardFonts.Helvetica)
    // page 1: a "scan" (a drawn rectangle, no text), its CropBox offset from the MediaBox origin
    const p1 = src.addPage([400, 300])
    p1.setMediaBox(-20, -10, 400, 300)
    p1.setCropBox(0, 10, 360, 280)
    p1.drawRectangle({ x: 50, y: 200, width: 100, height: 40, color: rgb(0, 0, 0) })
    // page 2: born digital, its own text layer
    const p2 = src.addPage([300, 200])
    p2.drawText('Born digital', { x: 30, y: 150, size: 18, font })
    const source = await src.save()

    const dpi = 144
    const ocrLine: OcrLine = { text: 'Scanned 扫描 text', score: 0.8, box: rect(100, 80, 200, 30) }
    const r = result([
      page(1, 720, 560, [ocrLine], { dpi }),
      page(2, 600, 400, [{ text: 'Born digital', score: 1, box: rect(60, 64, 200, 40) }], { dpi, source: 'embedded' }),
    ])
    const pdf = await renderPdf(r, { source })
    const pages = await extractPdf(pdf)
    expect(pages).toHaveLength(2)
    expect(pages[0]!.view).toEqual([0, 10, 360, 290])
    expect(squashNl(pages[0]!.text)).toBe('Scanned 扫描 text')
    // pixel (0, 0) is the CropBox's top-left: (0, 290) in user space
    expectPlaced(pages[0]!.items, ocrLine, ([x, y]) => [(x * 72) / dpi, 290 - (y * 72) / dpi])
    // the embedded page is untouched: its own text once, nothing added
    expect(squashNl(pages[1]!.text)).toBe('Born digital')
    // the original drawing survives
    const raster = await rasterPdfPage(pdf, 1, 72)
    expect(luma(raster, 55, 290 - 235, 90, 30)).toBeLessThan(30)
  })

  it.each([
    [0, [1, 0]],
    [90, [0, 1]],
    [180, [-1, 0]],
    [270, [0, -1]],
  ] as const)('maps pixels through /Rotate %i (checked against where pdf.js draws a mark)', async (angle, dir) => {
    const src = await PDFDocument.create()
    const pg = src.addPage([200, 100])
    pg.setRotation(degrees(angle))
    // a mark that shows as a bar 60 wide and 12 tall once the page is turned
    const mark = angle % 180 === 0 ? { x: 30, y: 20, width: 60, height: 12 } : { x: 30, y: 20, width: 12, height: 60 }
    pg.drawRectangle({ ...mark, color: rgb(0, 0, 0) })
    const source = await src.save()
    const raster = await rasterPdfPage(source, 1, 72)
    let [u0, v0, u1, v1] = [Infinity, Infinity, -Infinity, -Infinity]
    for (let v = 0; v < raster.height; v++) for (let u = 0; u < raster.width; u++) {
      if (raster.data[(v * raster.width + u) * 4]! < 128) [u0, v0, u1, v1] = [Math.min(u0, u), Math.min(v0, v), Math.max(u1, u + 1), Math.max(v1, v + 1)]
    }
    expect([u1 - u0, v1 - v0]).toEqual([60, 12])
    // "OCR" the mark: a line on the bar as it appears in the rendered image
    const line: OcrLine = { text: 'rotated page', score: 1, box: rect(u0, v0, u1 - u0, v1 - v0) }
    const pages = await extractPdf(await renderPdf(result([page(1, raster.width, raster.height, [line], { dpi: 72 })]), { source }))
    expect(pages[0]!.rotate).toBe(angle)
    expect(squashNl(pages[0]!.text)).toBe('rotated page')
    // every run starts and ends on the mark, reads in the turned page's left-to-right direction, 60 pt in all
    const along: number[] = []
    for (const it of pages[0]!.items) {
      const [a, b, , , x, y] = it.transform as [number, number, number, number, number, number]
      const n = Math.hypot(a, b)
      expect([a / n, b / n].map((v) => Math.round(v * 1000) / 1000)).toEqual([dir[0] + 0, dir[1] + 0])
      for (const [px, py] of [[x, y], [x + dir[0] * it.width, y + dir[1] * it.width]] as const) {
        expect(px).toBeGreaterThanOrEqual(mark.x - 1)
        expect(px).toBeLessThanOrEqual(mark.x + mark.width + 1)
        expect(py).toBeGreaterThanOrEqual(mark.y - 1)
        expect(py).toBeLessThanOrEqual(mark.y + mark.height + 1)
        along.push(px * dir[0] + py * dir[1])
      }
    }
    expect(Math.max(...along) - Math.min(...along)).toBeCloseTo(60, 0)
  })
})
