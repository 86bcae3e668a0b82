/**
 * The web page's own logic, run in Node (public/doc-info.js has no DOM): counting a TIFF's pages
 * and a page selection, where a file is sent, and where the line numbers go.
 */
import sharp, { type TiffOptions } from 'sharp'
import { beforeAll, describe, expect, it } from 'vitest'
import { OcrError } from '../../src/errors.js'
import { parsePageRanges, selectPages as serverSelectPages } from '../../src/document/pages.js'

type Box = [number, number][]
type Rect = [number, number, number, number]
interface Limits {
  maxBodyBytes: number
  jobsMaxBodyBytes: number
  syncMaxPages: number
}
interface DocInfo {
  isPdfBytes(head: Uint8Array): boolean
  isTiffBytes(head: Uint8Array): boolean
  tiffPageCount(bytes: Uint8Array): number | null
  selectPages(spec: string, total: number): number[] | null
  chooseRoute(file: { size: number; pages: number | null }, limits: Limits): { via: 'sync' | 'job' | 'none'; why?: string; code?: string; message?: string }
  bounds(box: Box): Rect
  placeBadges(boxes: Box[], page: { width: number; height: number }, size: (i: number) => [number, number], gap: number): (Rect | null)[]
}

let web: DocInfo
beforeAll(async () => {
  web = (await import(new URL('../../public/doc-info.js', import.meta.url).href)) as DocInfo
})

const page = (shade: number) => sharp({ create: { width: 40, height: 30, channels: 3, background: { r: shade, g: shade, b: shade } } }).png().toBuffer()

/** A big-endian classic TIFF header and a chain of `n` one-entry IFDs (no pixel data: only the chain is walked). */
function bigEndianChain(n: number, loopBack = false): Uint8Array {
  const b = Buffer.alloc(8 + n * 18 + 16)
  b.write('MM', 0, 'latin1')
  b.writeUInt16BE(42, 2)
  b.writeUInt32BE(8, 4)
  for (let i = 0; i < n; i++) {
    const at = 8 + i * 18
    b.writeUInt16BE(1, at) // one entry
    b.writeUInt16BE(256, at + 2) // ImageWidth
    const next = i + 1 < n ? at + 18 : loopBack ? 8 : 0
    b.writeUInt32BE(next, at + 14)
  }
  return b
}

describe('tiffPageCount: the length of the IFD chain, as sharp counts pages', () => {
  it.each([1, 3, 12])('%i-page little-endian TIFF (sharp)', async (n) => {
    const pages = await Promise.all(Array.from({ length: n }, (_, i) => page(i * 20)))
    const tiff = await sharp(n === 1 ? pages[0] : pages, n === 1 ? {} : { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
    expect((await sharp(tiff).metadata()).pages ?? 1).toBe(n)
    expect(web.isTiffBytes(tiff)).toBe(true)
    expect(web.tiffPageCount(tiff)).toBe(n)
  })

  it('BigTIFF (64-bit offsets)', async () => {
    const pages = await Promise.all([0, 1, 2, 3].map((i) => page(i * 40)))
    const tiff = await sharp(pages, { join: { animated: true } }).tiff({ compression: 'lzw', bigtiff: true } as TiffOptions).toBuffer()
    expect(tiff.readUInt16LE(2)).toBe(43)
    expect(web.tiffPageCount(tiff)).toBe(4)
  })

  it('big-endian ("MM") chains', () => {
    expect(web.tiffPageCount(bigEndianChain(1))).toBe(1)
    expect(web.tiffPageCount(bigEndianChain(5))).toBe(5)
  })

  it('a damaged chain is unknown (null), never a wrong count or a hang', async () => {
    expect(web.tiffPageCount(bigEndianChain(3, true))).toBeNull() // the last IFD points back to the first
    const tiff = await sharp([await page(0), await page(90)], { join: { animated: true } }).tiff().toBuffer()
    const cut = tiff.subarray(0, tiff.readUInt32LE(4) + 4) // the first IFD's entries run past the end
    expect(web.tiffPageCount(cut)).toBeNull()
    const bad = Buffer.from(tiff)
    bad.writeUInt32LE(bad.length + 100, 4)
    expect(web.tiffPageCount(bad)).toBeNull()
    expect(web.tiffPageCount(await page(0))).toBeNull() // a PNG
  })
})

describe('isPdfBytes: %PDF- within the first KiB, as the server reads it', () => {
  it.each([
    ['a header', '%PDF-1.7\n', true],
    ['500 bytes of junk first', `${' '.repeat(500)}%PDF-1.4`, true],
    ['1100 bytes of junk first', `${' '.repeat(1100)}%PDF-1.4`, false],
    ['a cut-off header', '%PDF', false],
    ['a PNG', '\x89PNG\r\n', false],
  ])('%s → %s', (_label, text, want) => {
    expect(web.isPdfBytes(Buffer.from(text, 'latin1'))).toBe(want)
  })
})

describe('selectPages: the pages a selection reads, by the server\'s rules', () => {
  const specs = ['', ' ', '1', '3', '1-3', '2-', '-2', '1-3,7', '7,1-3', '5-', '2,2,2', '1 - 2', '3-9', '9-', '4', '0', '2-1', 'a', '1,,2', '1-2-3', ' 2 , 4 ']
  it.each([1, 3, 7])('every spec on a %i-page document', (total) => {
    for (const spec of specs) {
      let want: number[] | null
      try {
        want = serverSelectPages(spec.trim() ? parsePageRanges(spec) : undefined, total).map((i) => i + 1)
      } catch (err) {
        expect(err).toBeInstanceOf(OcrError)
        want = null
      }
      expect({ spec, got: web.selectPages(spec, total) }).toEqual({ spec, got: want })
    }
  })
})

describe('chooseRoute: each file is sent once, where it will be taken', () => {
  const limits: Limits = { maxBodyBytes: 20 * 2 ** 20, jobsMaxBodyBytes: 200 * 2 ** 20, syncMaxPages: 10 }
  it.each([
    [{ size: 1e6, pages: 1 }, 'sync'],
    [{ size: 1e6, pages: 10 }, 'sync'],
    [{ size: 1e6, pages: 11 }, 'job'],
    [{ size: 1e6, pages: null }, 'sync'],
    [{ size: 20 * 2 ** 20, pages: 2 }, 'sync'],
    [{ size: 20 * 2 ** 20 + 1, pages: 2 }, 'job'], // the 23.4 MB 2-page PDF
    [{ size: 200 * 2 ** 20, pages: 500 }, 'job'],
    [{ size: 200 * 2 ** 20 + 1, pages: 1 }, 'none'],
  ] as const)('%j → %s', (file, via) => {
    expect(web.chooseRoute(file, limits).via).toBe(via)
  })

  it('says why, with the numbers', () => {
    expect(web.chooseRoute({ size: 1e6, pages: 12 }, limits).why).toBe('12 pages, more than one call reads (10)')
    expect(web.chooseRoute({ size: 23.4 * 2 ** 20, pages: 2 }, limits).why).toBe('23.4 MB, more than one call takes (20.0 MB)')
    expect(web.chooseRoute({ size: 300 * 2 ** 20, pages: 2 }, limits)).toEqual({
      via: 'none',
      code: 'PAYLOAD_TOO_LARGE',
      message: 'the file is 300.0 MB; this server takes files up to 200.0 MB (OCR_JOBS_MAX_BODY_BYTES)',
    })
  })
})

describe('placeBadges: line numbers beside their boxes, covering no text', () => {
  const rect = (x0: number, y0: number, x1: number, y1: number): Box => [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
  ]
  const size = () => [20, 14] as [number, number]
  const pageSize = { width: 400, height: 300 }
  const overlaps = (a: Rect, b: Rect) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]

  it('to the left when there is room, then above, right, below', () => {
    expect(web.placeBadges([rect(100, 100, 200, 120)], pageSize, size, 2)).toEqual([[78, 103, 98, 117]])
    // flush left: above
    expect(web.placeBadges([rect(0, 100, 200, 120)], pageSize, size, 2)).toEqual([[0, 84, 20, 98]])
    // flush left, top: right
    expect(web.placeBadges([rect(0, 0, 200, 20)], pageSize, size, 2)).toEqual([[202, 3, 222, 17]])
    // the whole width, at the top: below
    expect(web.placeBadges([rect(0, 0, 400, 20)], pageSize, size, 2)).toEqual([[0, 22, 20, 36]])
  })

  it('beside a short line under a longer one that nearly touches it: centred, clear of the line above', () => {
    const long = rect(20, 100, 300, 121)
    const short = rect(20, 120.5, 80, 141)
    const [, spot] = web.placeBadges([long, short], pageSize, size, 2)
    expect(spot).toEqual([82, 123.75, 102, 137.75])
  })

  it('no spot on the page that covers no box: null (shown while the line is active)', () => {
    expect(web.placeBadges([rect(0, 0, 400, 300)], pageSize, size, 2)).toEqual([null])
  })

  it('dense lines: every badge clear of every box and every other badge, inside the page', () => {
    // 14 rows 16 px apart (less than a badge's height plus gap above), from x = 24 (room for one badge)
    const boxes = Array.from({ length: 14 }, (_, i) => rect(24, 10 + i * 16, 150 + (i % 3) * 60, 24 + i * 16))
    const spots = web.placeBadges(boxes, pageSize, size, 2)
    const placed = spots.filter((s): s is Rect => s !== null)
    expect(placed.length).toBeGreaterThan(0)
    for (const s of placed) {
      expect(s[0] >= 0 && s[1] >= 0 && s[2] <= pageSize.width && s[3] <= pageSize.height).toBe(true)
      for (const b of boxes) expect(overlaps(s, web.bounds(b))).toBe(false)
      for (const o of placed) if (o !== s) expect(overlaps(s, o)).toBe(false)
    }
  })
})
