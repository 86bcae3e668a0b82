/**
 * PDF input through the engine: PDFs made in the test (test/fixtures/pdfs.ts) with known text and
 * positions: born-digital pages (text layer), image-only scans of rendered pages, mixed, long,
 * rotated, CJK, encrypted and broken ones.
 */
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOcr, OcrError, type Ocr } from '../../src/index.js'
import type { OcrLine, PageResult } from '../../src/types.js'
import { cjkPdf, encryptedPdf, imageBombPdf, longPdf, longPdfLine, makePdf, textPage, truncated } from '../fixtures/pdfs.js'
import { createRng } from '../fixtures/prng.js'
import { expectLines, expectOcrError, quadBounds, renderPage, squash, type Page } from './support.js'

let ocr: Ocr
let page: Page
let page2: Page
/** Born-digital, 612 × 300 pt: two lines of 24 pt Helvetica (66.7 px at 200 dpi). */
let digital: Buffer
const DIGITAL_LINES = ['HELLO WORLD 2024', 'Quick brown fox']
/** Image-only: the rendered pages as scans at 200 dpi (page size = pixels × 72 / 200 pt). */
let scan: Buffer
/** Text, scan, text. */
let mixed: Buffer
let long: Buffer

beforeAll(async () => {
  ;[ocr, page, page2] = await Promise.all([createOcr({ workers: 1 }), renderPage(['HELLO WORLD 2024', 'Quick brown fox']), renderPage(['PAGE TWO 77', 'Jumps over'])])
  digital = await makePdf([textPage(DIGITAL_LINES, { height: 300 })])
  scan = await makePdf([
    { image: page.png, dpi: 200 },
    { image: page2.png, dpi: 200 },
  ])
  mixed = await makePdf([textPage(['FIRST PAGE TEXT'], { height: 200 }), { image: page2.png, dpi: 200 }, textPage(['THIRD PAGE TEXT'], { height: 200 })])
  long = await longPdf(30)
})

afterAll(async () => {
  await ocr?.close()
})

const texts = (p: PageResult): string[] => p.lines.map((l) => l.text)

/** Each line's box within `tol` px (each side) of the other reading's box; same texts (squashed). */
function expectSameLines(got: readonly OcrLine[], want: readonly OcrLine[], tol: number): void {
  expect(got.map((l) => squash(l.text))).toEqual(want.map((l) => squash(l.text)))
  got.forEach((l, i) => {
    const a = quadBounds(l.box)
    const b = quadBounds(want[i]!.box)
    a.forEach((v, k) => expect(Math.abs(v - b[k]!), `line "${l.text}" ${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBeLessThanOrEqual(tol))
  })
}

describe('born-digital PDF (text layer)', () => {
  it('auto: the text layer is used, no model runs; size follows the dpi; lines are where OCR finds the text', async () => {
    const r = await ocr.read(digital)
    expect(r.pages).toHaveLength(1)
    const p = r.pages[0]!
    expect(p.source).toBe('embedded')
    expect(p.dpi).toBe(200)
    // 612 × 300 pt at 200 dpi
    expect([p.width, p.height]).toEqual([1700, 833])
    expect([r.width, r.height]).toEqual([1700, 833])
    expect(texts(p)).toEqual(DIGITAL_LINES)
    for (const l of p.lines) expect(l.score).toBe(1)
    expect([p.timing_ms.det, p.timing_ms.cls, p.timing_ms.rec]).toEqual([0, 0, 0])
    expect(p.rotation).toBe(0)

    // the same page rendered and OCRed: the boxes agree within a quarter of the font size
    const o = await ocr.read(digital, { pdfText: 'ocr' })
    const q = o.pages[0]!
    expect(q.source).toBe('ocr')
    expect(q.dpi).toBe(200)
    expect([q.width, q.height]).toEqual([1700, 833])
    expect(q.timing_ms.det).toBeGreaterThan(0)
    expectSameLines(p.lines, q.lines, (24 * 200) / 72 / 4)
    // the baseline of line 1 is at 300 − 72 − 24 = 204 pt from the bottom: 96 pt = 266.7 px from the top
    const [, , , bottom] = quadBounds(p.lines[0]!.box)
    expect(bottom).toBeGreaterThan(266.7)
    expect(bottom).toBeLessThan(266.7 + 0.3 * 66.7)
  })

  it('word-by-word runs merge into one line; far-apart runs on one baseline (columns) stay apart, as OCR sees them', async () => {
    const pdf = await makePdf([
      {
        height: 300,
        lines: [
          { text: 'Quick brown fox jumps', x: 72, y: 220, size: 24, wordByWord: true },
          { text: 'LEFT COLUMN', x: 72, y: 150, size: 24 },
          { text: 'RIGHT COLUMN', x: 360, y: 150, size: 24 },
        ],
      },
    ])
    const [emb, ocrd] = await Promise.all([ocr.read(pdf), ocr.read(pdf, { pdfText: 'ocr' })])
    expect(texts(emb.pages[0]!)).toEqual(['Quick brown fox jumps', 'LEFT COLUMN', 'RIGHT COLUMN'])
    expectSameLines(emb.pages[0]!.lines, ocrd.pages[0]!.lines, (24 * 200) / 72 / 4)
  })

  it('dpi: pixel size and boxes scale with it', async () => {
    const [at200, at100] = await Promise.all([ocr.read(digital), ocr.read(digital, { dpi: 100 })])
    const p = at100.pages[0]!
    expect(p.dpi).toBe(100)
    expect([p.width, p.height]).toEqual([850, 417])
    p.lines.forEach((l, i) => {
      const a = quadBounds(l.box)
      const b = quadBounds(at200.pages[0]!.lines[i]!.box)
      a.forEach((v, k) => expect(Math.abs(v - b[k]! / 2)).toBeLessThanOrEqual(1))
    })
  })

  it('a page turned by /Rotate 90: box and rotation as OCR reports them for the rendered page', async () => {
    const pdf = await makePdf([textPage(['SIDEWAYS TEXT'], { height: 300, rotate: 90 })])
    const [emb, ocrd] = await Promise.all([ocr.read(pdf), ocr.read(pdf, { pdfText: 'ocr' })])
    const e = emb.pages[0]!
    const o = ocrd.pages[0]!
    expect([e.width, e.height]).toEqual([833, 1700])
    expect([o.width, o.height]).toEqual([833, 1700])
    expect(e.source).toBe('embedded')
    expect(texts(e)).toEqual(['SIDEWAYS TEXT'])
    // text running down the page: the page must turn 270° clockwise to read it (both readings agree)
    expect(o.rotation).toBe(270)
    expect(e.rotation).toBe(270)
    expectSameLines(e.lines, o.lines, (24 * 200) / 72 / 4)
    // clockwise from the text's own top-left: the first edge runs down the page
    const [tl, tr] = e.lines[0]!.box
    expect(tr[1] - tl[1]).toBeGreaterThan(400)
    expect(Math.abs(tr[0] - tl[0])).toBeLessThanOrEqual(1)
  })

  it('CJK: Chinese text round-trips through the text layer, and OCR of the rendered page reads the same', async () => {
    const pdf = cjkPdf(['你好世界 光学字符识别', 'Hello second line'])
    const r = await ocr.read(pdf)
    const p = r.pages[0]!
    expect(p.source).toBe('embedded')
    expect(texts(p)).toEqual(['你好世界 光学字符识别', 'Hello second line'])
    const o = (await ocr.read(pdf, { pdfText: 'ocr' })).pages[0]!
    // 28 pt = 77.8 px at 200 dpi. The embedded box is the advance and the font's ascent/descent,
    // which for Noto Sans SC are 1.160 and 0.288 em: 1.45 em tall, against the ink OCR boxes
    // (measured: the Chinese line's embedded box 33 px higher at the top, 20 px lower at the
    // bottom, 11-12 px wider at the ends; the DejaVu line within 11 px). Half an em either side.
    expectSameLines(p.lines, o.lines, 77.8 / 2)
  })

  it('embedded: a page without a text layer gives no lines and runs no model', async () => {
    const r = await ocr.read(scan, { pdfText: 'embedded', pages: '1' })
    const p = r.pages[0]!
    expect(p.source).toBe('embedded')
    expect(p.lines).toEqual([])
    expect([p.width, p.height]).toEqual([page.width, page.height])
    expect([p.timing_ms.det, p.timing_ms.rec]).toEqual([0, 0])
  })
})

describe('image-only (scanned) PDF', () => {
  it('reads the same text, boxes and size as the PNG it was made of (rendered at the scan resolution)', async () => {
    const [fromPdf, fromPng] = await Promise.all([ocr.read(scan, { pages: '1' }), ocr.read(page.png)])
    const p = fromPdf.pages[0]!
    expect(p.source).toBe('ocr')
    expect(p.dpi).toBe(200)
    expect([p.width, p.height]).toEqual([page.width, page.height])
    expectLines(p.lines, page)
    expectSameLines(p.lines, fromPng.lines, 4)
  })

  it('mixed document under auto: text pages from their layer, the scan page by OCR', async () => {
    const r = await ocr.read(mixed)
    expect(r.pages.map((p) => p.source)).toEqual(['embedded', 'ocr', 'embedded'])
    expect(r.pages.map((p) => p.page)).toEqual([1, 2, 3])
    expect(texts(r.pages[0]!)).toEqual(['FIRST PAGE TEXT'])
    expect(texts(r.pages[2]!)).toEqual(['THIRD PAGE TEXT'])
    expectLines(r.pages[1]!.lines, page2)
    for (const p of r.pages) expect(p.dpi).toBe(200)
    // whole-job timing is the sum of the pages'
    const det = r.pages.reduce((s, p) => s + p.timing_ms.det, 0)
    expect(r.timing_ms.det).toBeCloseTo(det, 0)
  })

  it('a PDF preceded by junk bytes (as readers allow) is still a PDF', async () => {
    const r = await ocr.read(Buffer.concat([Buffer.from('\r\n\r\nsome mail header junk\r\n'), digital]))
    expect(texts(r.pages[0]!)).toEqual(DIGITAL_LINES)
  })
})

describe('pages, progress, caps', () => {
  it('page ranges keep the document page numbers', async () => {
    const r = await ocr.read(long, { pages: '2-3,30' })
    expect(r.pages.map((p) => p.page)).toEqual([2, 3, 30])
    expect(r.pages.map((p) => texts(p))).toEqual([[longPdfLine(2)], [longPdfLine(3)], [longPdfLine(30)]])
    const e = await expectOcrError(ocr.read(long, { pages: '31-' }), 'BAD_PAGE_RANGE')
    expect(e.message).toContain('30 pages')
  })

  it('onPage reports every page in order with its own timing; the result holds the same pages', async () => {
    const seen: [number, number, number][] = []
    const r = await ocr.read(long, { onPage: (p, { done, total }) => seen.push([p.page, done, total]) })
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => [i + 1, i + 1, 30]))
    expect(r.pages.map((p) => texts(p)[0])).toEqual(Array.from({ length: 30 }, (_, i) => longPdfLine(i + 1)))
    for (const p of r.pages) expect(p.timing_ms.total).toBeGreaterThan(0)
  })

  it('more selected pages than the call allows → TOO_MANY_PAGES; a smaller selection is read', async () => {
    expect((await expectOcrError(ocr.read(long, { maxPages: 10 }), 'TOO_MANY_PAGES')).message).toMatch(/30 pages.*at most 10/)
    expect((await ocr.read(long, { maxPages: 10, pages: '21-30' })).pages).toHaveLength(10)
  })

  it('pdfText ocr on a born-digital page range OCRs each page; a cancelled job stops between pages', async () => {
    const ac = new AbortController()
    const done: PageResult[] = []
    const job = ocr.read(long, {
      pdfText: 'ocr',
      signal: ac.signal,
      onPage: (p) => {
        done.push(p)
        if (done.length === 2) ac.abort()
      },
    })
    await expectOcrError(job, 'CANCELLED')
    expect(done.length).toBeGreaterThanOrEqual(2)
    expect(done.length).toBeLessThan(30)
    for (const p of done) {
      expect(p.source).toBe('ocr')
      expect(squash(texts(p).join(''))).toBe(squash(longPdfLine(p.page)))
    }
  })

  it('multi-page TIFF and PDF share the page model; only PDF pages carry a dpi', async () => {
    const tiff = await sharp([page.png, page2.png], { join: { animated: true } }).tiff().toBuffer()
    const [t, s] = await Promise.all([ocr.read(tiff), ocr.read(scan)])
    expect(t.pages.map((p) => [p.page, p.source, p.dpi])).toEqual([
      [1, 'ocr', undefined],
      [2, 'ocr', undefined],
    ])
    expect(s.pages.map((p) => [p.page, p.source, p.dpi])).toEqual([
      [1, 'ocr', 200],
      [2, 'ocr', 200],
    ])
    expect(s.pages.map((p) => texts(p).map(squash))).toEqual(t.pages.map((p) => texts(p).map(squash)))
  })
})

describe('limits and bad PDFs', () => {
  let small: Ocr
  beforeAll(async () => {
    small = await createOcr({ workers: 1, maxPixels: 1_000_000, maxPages: 10 })
  })
  afterAll(async () => {
    await small?.close()
  })

  it('more pages than maxPages → IMAGE_TOO_LARGE before any page is read', async () => {
    expect((await expectOcrError(small.read(long), 'IMAGE_TOO_LARGE')).message).toMatch(/30 pages.*limit is 10/)
  })

  it('a page over maxPixels at the asked dpi is rendered at the highest dpi that fits, and says so', async () => {
    // US Letter at 200 dpi is 3.74 MP; 1 MP fits up to 103 dpi (876 × 1133)
    const pdf = await makePdf([textPage(DIGITAL_LINES)])
    const r = await small.read(pdf, { pdfText: 'ocr' })
    const p = r.pages[0]!
    expect(p.dpi).toBe(103)
    expect([p.width, p.height]).toEqual([876, 1133])
    expect(p.width * p.height).toBeLessThanOrEqual(1_000_000)
    expect(p.lines.map((l) => squash(l.text))).toEqual(DIGITAL_LINES.map(squash))
    // the text layer is boxed in the same (smaller) frame
    const e = (await small.read(pdf)).pages[0]!
    expect([e.dpi, e.width, e.height]).toEqual([103, 876, 1133])
    expectSameLines(e.lines, p.lines, (24 * 103) / 72 / 4 + 1)
  })

  it('a page too large even at 36 dpi → IMAGE_TOO_LARGE', async () => {
    const huge = await makePdf([textPage(['HUGE'], { width: 14_400, height: 14_400 })])
    expect((await expectOcrError(small.read(huge), 'IMAGE_TOO_LARGE')).message).toMatch(/even at 36 dpi/)
  })

  it('an embedded image claiming 1.6 gigapixels (195 KB of Flate) is not decoded; the rest of the page is read', async () => {
    const bomb = await imageBombPdf(40_000, 40_000)
    expect(bomb.length).toBeLessThan(300_000)
    const r = await small.read(bomb, { pdfText: 'ocr' })
    // rendered without the (black, full-page) image: the line on top of it is legible
    expect(r.pages[0]!.lines.map((l) => squash(l.text))).toEqual(['HELLOBOMB'])
  })

  it('password-protected → ENCRYPTED_DOCUMENT (the fixture really is encrypted: it opens with its password)', async () => {
    const enc = encryptedPdf('secret')
    const e = await expectOcrError(ocr.read(enc), 'ENCRYPTED_DOCUMENT')
    expect(e.status).toBe(422)
    expect(e.message).toMatch(/password/)
    const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs')
    const doc = await pdfjs.getDocument({ data: new Uint8Array(enc), password: 'secret', verbosity: 0 }).promise
    try {
      const content = await (await doc.getPage(1)).getTextContent()
      expect(content.items.map((i) => ('str' in i ? i.str : ''))).toContain('SECRET TEXT')
    } finally {
      await doc.destroy()
    }
  })

  it('encrypted with only an owner password (permissions; the user password is empty) → opened and read', async () => {
    const r = await ocr.read(encryptedPdf('', 'owner'))
    expect(texts(r.pages[0]!)).toEqual(['SECRET TEXT'])
  })

  it.each([
    ['truncated', () => truncated(digital, 0.5)],
    ['cut to its header', () => truncated(digital, 0.02)],
    ['a header and garbage', async () => Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(4000, 0x41)])],
    ['an empty page tree', async () => Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')],
    ['a page tree claiming pages it does not have', async () => Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 5 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')],
  ])('%s → UNDECODABLE_IMAGE (422), and the engine goes on reading', async (_name, make) => {
    const e = await expectOcrError(ocr.read(await make()), 'UNDECODABLE_IMAGE')
    expect(e.status).toBe(422)
    expect(e.message).toMatch(/PDF/)
    expect(texts((await ocr.read(digital)).pages[0]!)).toEqual(DIGITAL_LINES)
  })

  it('damaged PDFs (seeded random byte changes, text and scan pages): each is read or refused with 422, never a crash', async () => {
    const rng = createRng(8)
    const outcomes: string[] = []
    for (let n = 0; n < 16; n++) {
      const bytes = Buffer.from(n % 2 ? digital : scan)
      for (let k = rng.int(1, 12); k > 0; k--) bytes[rng.int(8, bytes.length - 1)] = rng.int(0, 255)
      try {
        const r = await ocr.read(bytes, { dpi: 50, pdfText: n % 3 === 0 ? 'ocr' : 'auto' })
        expect(r.pages.length).toBeGreaterThan(0)
        outcomes.push('read')
      } catch (err) {
        expect(err).toBeInstanceOf(OcrError)
        expect((err as OcrError).status, (err as OcrError).message).toBe(422)
        outcomes.push((err as OcrError).code)
      }
    }
    // both kinds of outcome occur, and the engine still reads a good PDF
    expect(new Set(outcomes)).toEqual(new Set(['read', 'UNDECODABLE_IMAGE']))
    expect(texts((await ocr.read(digital)).pages[0]!)).toEqual(DIGITAL_LINES)
  })
})
