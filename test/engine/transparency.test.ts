/**
 * Images with an alpha channel: transparency is flattened on a background that contrasts with the
 * content (src/image/alpha.ts), so white text on transparency reads as well as black text does,
 * and opaque RGBA images (screenshots) read as their own pixels. Real images: RapidOCR's own
 * transparency tests (test/fixtures/real, SOURCES.md); synthetic: a rendered page put into alpha.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOcr, type Ocr } from '../../src/index.js'
import { expectLines, renderPage, type Page } from './support.js'

const REAL = fileURLToPath(new URL('../fixtures/real/images/line/', import.meta.url))

let ocr: Ocr
let page: Page
beforeAll(async () => {
  ;[ocr, page] = await Promise.all([createOcr({ workers: 1 }), renderPage(['HELLO WORLD 2024', 'Quick brown fox'])])
})
afterAll(async () => ocr?.close())

describe('RapidOCR test images: 我是中国人 in the opaque pixels of a transparent PNG', () => {
  it.each(['rapidocr_white_font_color_transparent.png', 'rapidocr_black_font_color_transparent.png'])('%s', async (name) => {
    const bytes = readFileSync(REAL + name)
    const meta = await sharp(bytes).metadata()
    expect([meta.channels, meta.hasAlpha]).toEqual([4, true])
    const r = await ocr.read(bytes)
    expect(r.lines.map((l) => l.text)).toEqual(['我是中国人'])
    expect(r.lines[0]!.score).toBeGreaterThan(0.9)
  })
})

describe('synthetic RGBA pages', () => {
  /** The page as RGBA: its ink coverage (255 − grey) as alpha, every pixel's colour `ink`, or `clear` where fully transparent. */
  const inAlpha = (ink: number, clear: number) => {
    const n = page.width * page.height
    const rgba = Buffer.alloc(n * 4)
    for (let i = 0; i < n; i++) {
      const a = 255 - page.rgb[i * 3]!
      rgba.fill(a === 0 ? clear : ink, i * 4, i * 4 + 3)
      rgba[i * 4 + 3] = a
    }
    return sharp(rgba, { raw: { width: page.width, height: page.height, channels: 4 } }).png().toBuffer()
  }

  it.each<[string, number, number]>([
    ['white text on transparency (transparent pixels stored white)', 255, 255],
    ['white text on transparency (transparent pixels stored black)', 255, 0],
    ['black text on transparency', 0, 255],
    ['light grey text on transparency', 200, 200],
  ])('%s reads', async (_name, ink, clear) => {
    expectLines((await ocr.read(await inAlpha(ink, clear))).lines, page)
  })

  it('an opaque RGBA screenshot reads as its own pixels (alpha 255 everywhere)', async () => {
    const png = await sharp(page.rgb, { raw: { width: page.width, height: page.height, channels: 3 } }).ensureAlpha(1).png().toBuffer()
    expect((await sharp(png).metadata()).hasAlpha).toBe(true)
    expectLines((await ocr.read(png)).lines, page)
  })

  it('an opaque dark-mode RGBA screenshot (light text on dark) reads', async () => {
    const inverted = Buffer.from(page.rgb.map((v) => 255 - v))
    const png = await sharp(inverted, { raw: { width: page.width, height: page.height, channels: 3 } }).ensureAlpha(1).png().toBuffer()
    expectLines((await ocr.read(png)).lines, page)
  })
})
