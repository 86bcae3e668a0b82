/**
 * A read split over workers (`parallelPages`): the same pages as a whole read, every worker reads
 * some of them, progress counts each page once, interactive reads go first at page boundaries, a
 * failing page fails the read and stops the others, cancellation; and pageNumbers(), which opens a
 * document and lists the pages a read would take.
 */
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOcr, type Ocr, type OcrResult } from '../../src/index.js'
import { longPdf } from '../fixtures/pdfs.js'
import { textImage, type TextImage } from '../helpers/images.js'
import { expectOcrError, squash as squashText } from './support.js'

/** Compared text: squashed, and O read as 0 (the recogniser may read either in "70"). */
const squash = (s: string): string => squashText(s).replace(/O/g, '0')

const PAGES = 8
/** The jobs tests' page text (read reliably at 36 px). */
const pageLines = (n: number): string[] => [`PAGE ${n} NUMBER`, `TOTAL ${n * 7} EUR`]

let ocr: Ocr
let pages: TextImage[]
let tiff: Buffer

beforeAll(async () => {
  ;[ocr, pages] = await Promise.all([
    createOcr({ workers: 2, threadsPerWorker: 1, maxQueue: 4, timeoutMs: 120_000 }),
    Promise.all(Array.from({ length: PAGES }, (_, i) => textImage(pageLines(i + 1), 36))),
  ])
  tiff = await sharp(pages.map((p) => p.png), { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
}, 120_000)

afterAll(async () => ocr?.close())

const withoutTiming = ({ timing_ms: _t, pages, ...rest }: OcrResult) => ({ ...rest, pages: pages.map(({ timing_ms: _p, ...page }) => page) })

describe('read() with parallelPages', () => {
  it('reads the same pages as a whole read; both workers read some; progress counts each page once', async () => {
    const whole = await ocr.read(tiff, { priority: 'batch' })
    const before = ocr.stats().pagesRead
    const seen: number[] = []
    const totals = new Set<number>()
    const split = await ocr.read(tiff, {
      priority: 'batch',
      parallelPages: 2,
      onPage: (page, { done, total }) => {
        seen.push(page.page)
        totals.add(total)
        expect(done).toBe(seen.length)
      },
    })
    expect(withoutTiming(split)).toEqual(withoutTiming(whole))
    split.pages.forEach((p, i) => expect(p.lines.map((l) => squash(l.text))).toEqual(pageLines(i + 1).map(squash)))
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: PAGES }, (_, i) => i + 1))
    expect([...totals]).toEqual([PAGES])
    const read = ocr.stats().pagesRead.map((n, w) => n - before[w]!)
    expect(read.reduce((a, b) => a + b, 0)).toBe(PAGES)
    // every page was a task a free worker took: both workers read pages of this one document
    for (const n of read) expect(n).toBeGreaterThan(0)
  })

  it('a page selection keeps its page numbers', async () => {
    const r = await ocr.read(tiff, { pages: '2,5-6', parallelPages: 3 })
    expect(r.pages.map((p) => p.page)).toEqual([2, 5, 6])
    expect(r.pages[1]!.lines.map((l) => squash(l.text))).toEqual(pageLines(5).map(squash))
  })

  it('an interactive read queued behind a split batch read gets the next free worker', async () => {
    const done: string[] = []
    const batch = ocr.read(tiff, { priority: 'batch', parallelPages: 2 }).then(() => done.push('batch'))
    // wait until the batch read has handed out pages (its plan task is done)
    for (let i = 0; i < 500 && ocr.stats().batch.running < 2; i++) await new Promise((r) => setTimeout(r, 10))
    expect(ocr.stats().batch.running).toBe(2)
    const interactive = ocr.read(pages[0]!.png).then(() => done.push('interactive'))
    await Promise.all([batch, interactive])
    // the interactive read went before the document's remaining pages
    expect(done).toEqual(['interactive', 'batch'])
  })

  it('a page that cannot be read fails the read with its error', async () => {
    // a TIFF whose third page is far over maxPixels: the plan passes (page count only), page 3 fails
    const big = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#fff' } }).png().toBuffer()
    const doc = await sharp([pages[0]!.png, pages[1]!.png, big], { join: { animated: true } }).tiff().toBuffer()
    const small = await createOcr({ workers: 2, threadsPerWorker: 1, maxPixels: 2_000_000 })
    try {
      await expectOcrError(small.read(doc, { parallelPages: 2 }), 'IMAGE_TOO_LARGE')
      expect(small.stats()).toMatchObject({ failed: 1, completed: 0 })
    } finally {
      await small.close()
    }
  })

  it('aborting a split read → CANCELLED, and the workers are free again', async () => {
    const ac = new AbortController()
    const read = ocr.read(tiff, { parallelPages: 2, signal: ac.signal, onPage: () => ac.abort() })
    await expectOcrError(read, 'CANCELLED')
    const after = await ocr.read(pages[2]!.png)
    expect(after.lines.map((l) => squash(l.text))).toEqual(pageLines(3).map(squash))
  })
})

describe('pageNumbers()', () => {
  it('lists the pages a read takes: all of them, a selection, a PDF', async () => {
    expect(await ocr.pageNumbers(tiff)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(await ocr.pageNumbers(tiff, { pages: '7-,2' })).toEqual([2, 7, 8])
    expect(await ocr.pageNumbers(pages[0]!.png)).toEqual([1])
    expect(await ocr.pageNumbers(await longPdf(5), { pages: '4-' })).toEqual([4, 5])
  })

  it('refuses as read() would', async () => {
    await expectOcrError(ocr.pageNumbers(tiff, { pages: '9' }), 'BAD_PAGE_RANGE')
    await expectOcrError(ocr.pageNumbers(tiff, { maxPages: 3 }), 'TOO_MANY_PAGES')
    await expectOcrError(ocr.pageNumbers(Buffer.from('not an image at all')), 'UNSUPPORTED_MEDIA')
  })
})
