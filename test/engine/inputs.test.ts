/**
 * Every input kind the engine accepts, made in the test from one rendered page, and every way an
 * input can be bad. One engine (one worker) for the whole file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOcr, ERRORS, type ErrorCode, type Ocr } from '../../src/index.js'
import { encodeBmp, expectLines, expectOcrError, renderPage, squash, withPngSize, type Page } from './support.js'

const MAX_PIXELS = 1_000_000

let ocr: Ocr
let page: Page
let page2: Page
let dir: string

beforeAll(async () => {
  ;[ocr, page, page2] = await Promise.all([
    createOcr({ workers: 1, maxPixels: MAX_PIXELS }),
    renderPage(['HELLO WORLD 2024', 'Quick brown fox']),
    renderPage(['PAGE TWO 77', 'Jumps over']),
  ])
  dir = mkdtempSync(join(tmpdir(), 'ocrserve-inputs-'))
})

afterAll(async () => {
  await ocr?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const raw = (p: Page) => sharp(p.rgb, { raw: { width: p.width, height: p.height, channels: 3 } })

describe('encoded formats', () => {
  const cases: [string, () => Promise<Buffer>][] = [
    ['PNG', async () => page.png],
    ['JPEG', () => raw(page).jpeg({ quality: 90 }).toBuffer()],
    ['WebP', () => raw(page).webp({ quality: 90 }).toBuffer()],
    ['GIF', () => raw(page).gif().toBuffer()],
    ['TIFF (one page)', () => raw(page).tiff({ compression: 'lzw' }).toBuffer()],
    ['BMP 24-bit, bottom-up', async () => encodeBmp(page.rgb, page.width, page.height, 24)],
    ['BMP 32-bit, top-down', async () => encodeBmp(page.rgb, page.width, page.height, 32, true)],
    ['BMP 8-bit grey palette', async () => encodeBmp(page.rgb, page.width, page.height, 8)],
    ['grayscale PNG (1 channel)', () => raw(page).toColourspace('b-w').png().toBuffer()],
    ['16-bit RGB PNG', () => raw(page).toColourspace('rgb16').png().toBuffer()],
    ['16-bit grey PNG', () => raw(page).toColourspace('grey16').png().toBuffer()],
    ['palette PNG (4 colours)', () => raw(page).png({ palette: true, colours: 4 }).toBuffer()],
    ['CMYK JPEG', () => raw(page).toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer()],
    ['1-bit TIFF, CCITT G4 (a fax/scanner page)', () => raw(page).toColourspace('b-w').tiff({ bitdepth: 1, compression: 'ccittfax4' }).toBuffer()],
  ]
  it.each(cases)('%s', async (_name, make) => {
    const bytes = await make()
    const r = await ocr.read(bytes)
    expect([r.width, r.height]).toEqual([page.width, page.height])
    expect(r.rotation).toBe(0)
    expect(r.pages.map((p) => p.page)).toEqual([1])
    expectLines(r.lines, page)
  })

  it('the fixtures are what they claim (sharp metadata)', async () => {
    const meta = async (name: string) => sharp(await cases.find((c) => c[0] === name)![1]()).metadata()
    expect((await meta('16-bit RGB PNG')).depth).toBe('ushort')
    expect((await meta('grayscale PNG (1 channel)')).channels).toBe(1)
    expect((await meta('GIF')).format).toBe('gif')
    expect((await meta('CMYK JPEG')).space).toBe('cmyk')
    expect((await meta('palette PNG (4 colours)')).isPalette).toBe(true)
    expect((await meta('1-bit TIFF, CCITT G4 (a fax/scanner page)')).bitsPerSample).toBe(1)
  })

  it('16-bit grey + alpha PNG, text only in the alpha channel, is flattened on white', async () => {
    const ga = new Uint16Array(page.width * page.height * 2)
    for (let i = 0; i < page.width * page.height; i++) ga[i * 2 + 1] = (255 - page.rgb[i * 3]!) * 257
    // a Uint16Array makes sharp read the raw samples as 16-bit
    const png = await sharp(ga, { raw: { width: page.width, height: page.height, channels: 2 } })
      .toColourspace('grey16')
      .png()
      .toBuffer()
    const m = await sharp(png).metadata()
    expect([m.depth, m.channels, m.hasAlpha]).toEqual(['ushort', 2, true])
    expectLines((await ocr.read(png)).lines, page)
  })

  it('animated WebP: the first frame only', async () => {
    const webp = await sharp([page.png, page2.png], { join: { animated: true } }).webp({ lossless: true }).toBuffer()
    expect((await sharp(webp).metadata()).pages).toBe(2)
    const r = await ocr.read(webp)
    expect(r.pages.map((p) => p.page)).toEqual([1])
    expectLines(r.lines, page)
  })

  it('PNG with the text only in the alpha channel (RGB all black) is flattened on white', async () => {
    // RGB = 0 everywhere, alpha = ink coverage: dropping alpha instead of flattening gives a black page
    const rgba = Buffer.alloc(page.width * page.height * 4)
    for (let i = 0; i < page.width * page.height; i++) rgba[i * 4 + 3] = 255 - page.rgb[i * 3]!
    const png = await sharp(rgba, { raw: { width: page.width, height: page.height, channels: 4 } }).png().toBuffer()
    expect((await sharp(png).metadata()).hasAlpha).toBe(true)
    expectLines((await ocr.read(png)).lines, page)
  })

  it('animated GIF: the first frame only', async () => {
    const gif = await sharp([page.png, page2.png], { join: { animated: true } }).gif().toBuffer()
    expect((await sharp(gif).metadata()).pages).toBe(2)
    const r = await ocr.read(gif)
    expect([r.width, r.height]).toEqual([page.width, page.height])
    expect(r.pages.map((p) => p.page)).toEqual([1])
    expectLines(r.lines, page)
  })

  it('multi-page TIFF: every page, in order', async () => {
    const tiff = await sharp([page.png, page2.png], { join: { animated: true } }).tiff().toBuffer()
    expect((await sharp(tiff).metadata()).pages).toBe(2)
    const r = await ocr.read(tiff)
    expect(r.pages).toHaveLength(2)
    const [p1, p2] = r.pages
    expect(p1!.page).toBe(1)
    expect(p2!.page).toBe(2)
    for (const [got, want] of [[p1!, page], [p2!, page2]] as const) {
      expect([got.width, got.height]).toEqual([want.width, want.height])
      expect(got.rotation).toBe(0)
      expectLines(got.lines, want)
    }
    // the top-level fields are page 1's
    expect(r.lines).toEqual(p1!.lines)
    expect([r.width, r.height]).toEqual([page.width, page.height])
  })

  describe('documents: page selection, per-call page cap, progress', () => {
    let tiff3: Buffer
    beforeAll(async () => {
      tiff3 = await sharp([page.png, page2.png, page.png], { join: { animated: true } }).tiff().toBuffer()
    })

    it('pages selects pages by their 1-based numbers, which the result keeps', async () => {
      const r = await ocr.read(tiff3, { pages: '2-' })
      expect(r.pages.map((p) => p.page)).toEqual([2, 3])
      expectLines(r.pages[0]!.lines, page2)
      expectLines(r.pages[1]!.lines, page)
      // top-level fields are the first page read
      expect([r.width, r.height]).toEqual([page2.width, page2.height])
      const again = await ocr.read(tiff3, { pages: '3,1,1-1' })
      expect(again.pages.map((p) => p.page)).toEqual([1, 3])
    })

    it('onPage reports each page as it is done, in order, with the same page the result holds', async () => {
      const seen: { page: number; done: number; total: number; texts: string[] }[] = []
      const r = await ocr.read(tiff3, { onPage: (p, { done, total }) => seen.push({ page: p.page, done, total, texts: p.lines.map((l) => l.text) }) })
      expect(seen.map((s) => [s.page, s.done, s.total])).toEqual([
        [1, 1, 3],
        [2, 2, 3],
        [3, 3, 3],
      ])
      expect(seen.map((s) => s.texts)).toEqual(r.pages.map((p) => p.lines.map((l) => l.text)))
      for (const p of r.pages) expect(p.timing_ms.total).toBeGreaterThan(0)
    })

    it('more selected pages than maxPages → TOO_MANY_PAGES; a selection within the cap is read', async () => {
      expect((await expectOcrError(ocr.read(tiff3, { maxPages: 2 }), 'TOO_MANY_PAGES')).message).toMatch(/3 pages.*at most 2/)
      expect((await ocr.read(tiff3, { maxPages: 2, pages: '1-2' })).pages).toHaveLength(2)
    })

    it('batch priority: a waiting interactive job runs before waiting batch jobs (one worker)', async () => {
      const order: string[] = []
      const run = (name: string, priority: 'batch' | 'interactive') => ocr.read(tiff3, { priority }).then(() => order.push(name))
      // the first takes the worker; the rest queue in this order
      await Promise.all([run('batch-1', 'batch'), run('batch-2', 'batch'), run('batch-3', 'batch'), run('interactive', 'interactive')])
      expect(order).toEqual(['batch-1', 'interactive', 'batch-2', 'batch-3'])
    })

    it('a selection past the last page, or a malformed one → BAD_PAGE_RANGE', async () => {
      expect((await expectOcrError(ocr.read(tiff3, { pages: '4-5' }), 'BAD_PAGE_RANGE')).message).toMatch(/3 pages/)
      expect((await expectOcrError(ocr.read(tiff3, { pages: '2-1' }), 'BAD_PAGE_RANGE')).message).toMatch(/backwards/)
      expect((await expectOcrError(ocr.read(page.png, { pages: '2' }), 'BAD_PAGE_RANGE')).message).toMatch(/1 page\b/)
      expect((await expectOcrError(ocr.read(page.png, { maxPages: 0 }), 'BAD_REQUEST')).message).toMatch(/maxPages/)
    })
  })
})

describe('EXIF orientation', () => {
  // orientation 6: the stored pixels are the page turned 90° counter-clockwise (a viewer turns
  // them back clockwise); 8: turned clockwise; 3: upside down
  it.each([
    [6, 270],
    [8, 90],
    [3, 180],
  ])('orientation %i: result in upright coordinates', async (orientation, storedTurn) => {
    const jpeg = await raw(page).rotate(storedTurn).jpeg({ quality: 92 }).withMetadata({ orientation }).toBuffer()
    const meta = await sharp(jpeg).metadata()
    expect(meta.orientation).toBe(orientation)
    if (storedTurn !== 180) expect([meta.width, meta.height]).toEqual([page.height, page.width])
    const r = await ocr.read(jpeg)
    expect([r.width, r.height]).toEqual([page.width, page.height])
    // EXIF did the turning, not the engine's own page-orientation logic
    expect(r.rotation).toBe(0)
    expectLines(r.lines, page)
  })
})

describe('file paths', () => {
  it('reads a file by path', async () => {
    const file = join(dir, 'page.webp')
    writeFileSync(file, await raw(page).webp().toBuffer())
    expectLines((await ocr.read(file)).lines, page)
  })

  it('a missing file → NOT_FOUND', async () => {
    const e = await expectOcrError(ocr.read(join(dir, 'no-such-file.png')), 'NOT_FOUND')
    expect(e.message).toContain('no-such-file.png')
    expect(e.status).toBe(404)
  })
})

describe('bad input → typed 4xx errors, never a crash', () => {
  const truncated = (b: Buffer, keep: number) => b.subarray(0, Math.floor(b.length * keep))
  const cases: [string, ErrorCode, () => Promise<Uint8Array>][] = [
    ['empty buffer', 'UNSUPPORTED_MEDIA', async () => Buffer.alloc(0)],
    ['random bytes', 'UNSUPPORTED_MEDIA', async () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251))],
    ['plain text', 'UNSUPPORTED_MEDIA', async () => Buffer.from('HELLO WORLD 2024\n')],
    ['SVG (not rendered as input)', 'UNSUPPORTED_MEDIA', async () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40"><text y="30">HI</text></svg>')],
    ['AVIF (not among the formats read)', 'UNSUPPORTED_MEDIA', () => raw(page).avif().toBuffer()],
    // PDFs are read (test/engine/pdf.test.ts); one without a page tree is a broken file
    ['PDF without pages', 'UNDECODABLE_IMAGE', async () => Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')],
    ['PNG cut in half', 'UNDECODABLE_IMAGE', async () => truncated(page.png, 0.5)],
    ['PNG missing its last 10 %', 'UNDECODABLE_IMAGE', async () => truncated(page.png, 0.9)],
    ['JPEG cut in half', 'UNDECODABLE_IMAGE', async () => truncated(await raw(page).jpeg().toBuffer(), 0.5)],
    // a supported format's signature with a damaged header is a broken file (422), not a wrong type
    ['PNG signature only', 'UNDECODABLE_IMAGE', async () => page.png.subarray(0, 8)],
    ['JPEG cut inside its header', 'UNDECODABLE_IMAGE', async () => (await raw(page).jpeg().toBuffer()).subarray(0, 40)],
    ['BMP with truncated pixel data', 'UNDECODABLE_IMAGE', async () => truncated(encodeBmp(page.rgb, page.width, page.height, 24), 0.6)],
    ['BMP header only', 'UNDECODABLE_IMAGE', async () => encodeBmp(page.rgb, page.width, page.height, 24).subarray(0, 20)],
    ['PNG over maxPixels', 'IMAGE_TOO_LARGE', () => sharp({ create: { width: 1100, height: 1000, channels: 3, background: '#fff' } }).png().toBuffer()],
    // header claims 100k × 100k: must be refused from the header, before any pixel is decoded
    ['PNG header claiming 10 gigapixels', 'IMAGE_TOO_LARGE', async () => withPngSize(page.png, 100_000, 100_000)],
    ['BMP over maxPixels', 'IMAGE_TOO_LARGE', async () => encodeBmp(new Uint8Array(1100 * 1000 * 3).fill(255), 1100, 1000, 24)],
  ]
  it.each(cases)('%s → %s', async (_name, code, make) => {
    const e = await expectOcrError(ocr.read(await make()), code)
    expect(e.status).toBe(ERRORS[code].status)
    expect(e.status).toBeGreaterThanOrEqual(400)
    expect(e.status).toBeLessThan(500)
    expect(e.message.length).toBeGreaterThan(0)
  })

  it('input that is neither bytes nor a path → BAD_REQUEST', async () => {
    await expectOcrError(ocr.read(42 as unknown as string), 'BAD_REQUEST')
  })

  it('after all of that the engine still reads, on the same worker', async () => {
    const r = await ocr.read(page.png)
    expect(r.lines.map((l) => squash(l.text))).toEqual(page.lines.map(squash))
    const s = ocr.stats()
    expect(s.workers).toBe(1)
    expect(s.queued).toBe(0)
    expect(s.running).toBe(0)
    expect(await ocr.ready()).toBe(true)
  })
})
