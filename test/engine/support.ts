/**
 * Shared helpers for the engine integration tests: a page of big text rendered with sharp, the
 * ink rectangles of its lines (measured from the pixels, not from font metrics), image encoders
 * sharp lacks (BMP), and assertions on an OcrResult.
 */
import { expect } from 'vitest'
import sharp from 'sharp'
import { OcrError, type ErrorCode } from '../../src/index.js'
import type { OcrLine, Quad } from '../../src/types.js'

/** Uppercase, NFKC, no whitespace: how recognised text is compared with what was drawn. */
export const squash = (s: string): string => s.normalize('NFKC').replace(/\s+/gu, '').toUpperCase()

/** Axis-aligned rectangle [x0, y0, x1, y1] (x1/y1 exclusive). */
export type Rect = [number, number, number, number]

export interface Page {
  /** Opaque RGB PNG. */
  png: Buffer
  /** The same pixels, raw RGB, row-major. */
  rgb: Buffer
  width: number
  height: number
  lines: string[]
  /** Ink rectangle of each line, top to bottom. */
  ink: Rect[]
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Black DejaVu Sans lines on white, one per row, left-aligned at x = 30. */
export async function renderPage(lines: readonly string[], options: { size?: number; width?: number } = {}): Promise<Page> {
  const size = options.size ?? 40
  const width = options.width ?? 560
  const rowH = Math.round(size * 1.9)
  const height = rowH * lines.length + 40
  const rows = lines
    .map((t, i) => `<text x="30" y="${30 + size + i * rowH}" font-family="DejaVu Sans" font-size="${size}" fill="#000">${escapeXml(t)}</text>`)
    .join('')
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#fff"/>${rows}</svg>`
  const { data, info } = await sharp(Buffer.from(svg)).flatten({ background: '#fff' }).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const rgb = Buffer.from(data)
  const png = await sharp(rgb, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer()
  const ink = inkRects(rgb, info.width, info.height)
  // the fixture itself: one ink band per drawn line
  if (ink.length !== lines.length) throw new Error(`rendered ${lines.length} lines but found ${ink.length} ink bands`)
  return { png, rgb, width: info.width, height: info.height, lines: [...lines], ink }
}

/** Bands of rows holding dark pixels (luma < 128), each with its horizontal ink extent. */
export function inkRects(rgb: Uint8Array, width: number, height: number): Rect[] {
  const rects: Rect[] = []
  let cur: Rect | null = null
  for (let y = 0; y < height; y++) {
    let x0 = -1
    let x1 = -1
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3
      const luma = 0.299 * rgb[o]! + 0.587 * rgb[o + 1]! + 0.114 * rgb[o + 2]!
      if (luma < 128) {
        if (x0 < 0) x0 = x
        x1 = x + 1
      }
    }
    if (x0 >= 0) {
      // rows within 3 px of the band belong to it (dots of i/j, thin joins)
      if (cur && y - cur[3] <= 3) cur = [Math.min(cur[0], x0), cur[1], Math.max(cur[2], x1), y + 1]
      else {
        if (cur) rects.push(cur)
        cur = [x0, y, x1, y + 1]
      }
    }
  }
  if (cur) rects.push(cur)
  return rects
}

export function quadBounds(q: Quad): Rect {
  const xs = q.map((p) => p[0])
  const ys = q.map((p) => p[1])
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]
}

/**
 * The lines read are the lines drawn (text compared squashed, in reading order), every box lies
 * inside the image and around its line's ink (each side within `tol` px).
 */
export function expectLines(lines: readonly OcrLine[], page: { width: number; height: number; lines: readonly string[]; ink: readonly Rect[] }, tol = 10): void {
  expect(lines.map((l) => squash(l.text))).toEqual(page.lines.map(squash))
  lines.forEach((l, i) => {
    expect(l.score).toBeGreaterThan(0.5)
    expect(l.score).toBeLessThanOrEqual(1)
    expect(l.box).toHaveLength(4)
    for (const [x, y] of l.box) {
      expect(x).toBeGreaterThanOrEqual(0)
      expect(y).toBeGreaterThanOrEqual(0)
      expect(x).toBeLessThanOrEqual(page.width)
      expect(y).toBeLessThanOrEqual(page.height)
    }
    const got = quadBounds(l.box)
    const want = page.ink[i]!
    got.forEach((v, k) => expect(Math.abs(v - want[k]!), `line ${i} "${l.text}" box ${JSON.stringify(got)} vs ink ${JSON.stringify(want)}`).toBeLessThanOrEqual(tol))
  })
}

/** Awaits a rejection and checks it is an OcrError with `code`; returns it. */
export async function expectOcrError(p: Promise<unknown>, code: ErrorCode): Promise<OcrError> {
  let err: unknown
  try {
    await p
  } catch (e) {
    err = e
  }
  expect(err, `expected OcrError ${code}`).toBeInstanceOf(OcrError)
  const e = err as OcrError
  expect(e.code, e.message).toBe(code)
  return e
}

// ---------------------------------------------------------------------------------------------
// BMP writer (sharp has no BMP encoder): BITMAPFILEHEADER + BITMAPINFOHEADER, BI_RGB.

export type BmpDepth = 8 | 24 | 32

/**
 * Encodes raw RGB as a BMP: 24-bit BGR, 32-bit BGRX (X = 0, as most writers leave it) or 8-bit
 * with a 256-entry grey palette. Rows bottom-up unless `topDown` (negative height), each padded
 * to a multiple of 4 bytes.
 */
export function encodeBmp(rgb: Uint8Array, width: number, height: number, bpp: BmpDepth, topDown = false): Buffer {
  const stride = Math.ceil((width * bpp) / 32) * 4
  const paletteBytes = bpp === 8 ? 256 * 4 : 0
  const offset = 14 + 40 + paletteBytes
  const out = Buffer.alloc(offset + stride * height)
  out.write('BM', 0, 'ascii')
  out.writeUInt32LE(out.length, 2)
  out.writeUInt32LE(offset, 10)
  out.writeUInt32LE(40, 14)
  out.writeInt32LE(width, 18)
  out.writeInt32LE(topDown ? -height : height, 22)
  out.writeUInt16LE(1, 26) // planes
  out.writeUInt16LE(bpp, 28)
  out.writeUInt32LE(0, 30) // BI_RGB
  out.writeUInt32LE(stride * height, 34)
  out.writeInt32LE(2835, 38) // 72 dpi
  out.writeInt32LE(2835, 42)
  out.writeUInt32LE(bpp === 8 ? 256 : 0, 46)
  if (bpp === 8) for (let i = 0; i < 256; i++) out.set([i, i, i, 0], 54 + i * 4)
  for (let y = 0; y < height; y++) {
    const row = offset + (topDown ? y : height - 1 - y) * stride
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3
      const [r, g, b] = [rgb[s]!, rgb[s + 1]!, rgb[s + 2]!]
      if (bpp === 8) out[row + x] = Math.round(0.299 * r + 0.587 * g + 0.114 * b)
      else out.set([b, g, r], row + x * (bpp / 8))
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// PNG header surgery (a "decompression bomb": a tiny file whose header claims a huge image).

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(b: Uint8Array): number {
  let c = 0xffffffff
  for (const v of b) c = CRC_TABLE[(c ^ v) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** A copy of a PNG whose IHDR claims width × height (CRC fixed, pixel data unchanged). */
export function withPngSize(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png)
  // signature (8) + length (4) + "IHDR" (4): width at 16, height at 20, CRC after the 13 data bytes
  if (out.toString('ascii', 12, 16) !== 'IHDR') throw new Error('not a PNG')
  out.writeUInt32BE(width, 16)
  out.writeUInt32BE(height, 20)
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29)
  return out
}
