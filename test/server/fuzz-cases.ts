/**
 * Hostile requests for the fuzz suite, generated deterministically from a seed: random bytes,
 * truncated and bit-flipped images of every format, empty bodies, decompression bombs, extreme
 * sizes, malformed multipart, invalid base64, JSON of the wrong shape, wrong content types and
 * malformed HTTP. Each case is the raw bytes of one HTTP/1.1 request (so even requests no client
 * library would send can be tried) and the error codes it may get; `OK` means 200 is acceptable
 * (a damaged image that still decodes is read).
 */
import { deflateSync } from 'node:zlib'
import sharp from 'sharp'
import type { ErrorCode } from '../../src/errors.js'
import { createRng, type Rng } from '../fixtures/prng.js'
import { imageBombPdf, makePdf } from '../fixtures/pdfs.js'
import { toBmp } from '../helpers/images.js'

export const OK = 'OK' as const
export type Outcome = ErrorCode | typeof OK

export interface FuzzCase {
  family: string
  name: string
  request: Buffer
  /** The outcomes allowed; a 4xx must also carry its catalogue status. */
  expect: readonly Outcome[]
  /** IMAGE_TOO_LARGE (when that is the answer) must carry the header check's message. */
  fromHeader?: boolean
}

export interface FuzzLimits {
  maxPixels: number
  maxPages: number
  maxBodyBytes: number
}

const IMAGE_ERRORS: Outcome[] = ['UNSUPPORTED_MEDIA', 'UNDECODABLE_IMAGE', 'IMAGE_TOO_LARGE', 'BAD_REQUEST', 'ENCRYPTED_DOCUMENT']
const FORMATS = ['png', 'jpeg', 'webp', 'tiff', 'bmp', 'gif', 'pdf'] as const
type Format = (typeof FORMATS)[number]
const TYPES: Record<Format, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp', tiff: 'image/tiff', bmp: 'image/bmp', gif: 'image/gif', pdf: 'application/pdf' }

/** The bytes of `POST path` with these headers; Content-Length is added unless given. */
export function httpRequest(body: Buffer | string, headers: Record<string, string>, path = '/v1/ocr', method = 'POST'): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body
  const h: Record<string, string> = { host: 'fuzz', connection: 'close', ...headers }
  if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding')) h['content-length'] = String(b.length)
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), b])
}

const raw = (body: Buffer | string, type?: string) => httpRequest(body, type === undefined ? {} : { 'content-type': type })
const json = (value: unknown) => raw(typeof value === 'string' ? value : JSON.stringify(value), 'application/json')

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = rng.int(0, 255)
  return b
}

function flipBits(rng: Rng, src: Buffer, flips: number, headerOnly: boolean): Buffer {
  const b = Buffer.from(src)
  for (let i = 0; i < flips; i++) {
    const at = rng.int(0, headerOnly ? Math.min(b.length, 64) - 1 : b.length - 1)
    b[at]! ^= 1 << rng.int(0, 7)
  }
  return b
}

// ---- crafted headers (decompression bombs)

function crc32(buf: Buffer): number {
  let crc = 0xffffffff
  for (const byte of buf) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td))
  return Buffer.concat([len, td, crc])
}

/** A PNG of a few hundred bytes that declares width × height pixels (IDAT of zeros). */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 0 // greyscale
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(4096))), pngChunk('IEND', Buffer.alloc(0))])
}

/** A little-endian TIFF of `pages` 1×1 grey pages (or one page declaring width × height), IFDs chained. */
export function tiffDeclaring(pages: number, width = 1, height = 1, loop = false): Buffer {
  const entries = 9
  const ifdSize = 2 + entries * 12 + 4
  const pixelAt = 8
  const firstIfd = 16
  const out = Buffer.alloc(firstIfd + pages * ifdSize)
  out.write('II', 0, 'ascii')
  out.writeUInt16LE(42, 2)
  out.writeUInt32LE(firstIfd, 4)
  out[pixelAt] = 200
  for (let p = 0; p < pages; p++) {
    let o = firstIfd + p * ifdSize
    out.writeUInt16LE(entries, o)
    o += 2
    const tags: [number, number, number][] = [
      [256, 4, width], // ImageWidth (LONG)
      [257, 4, height], // ImageLength
      [258, 3, 8], // BitsPerSample
      [259, 3, 1], // Compression: none
      [262, 3, 1], // Photometric: black is zero
      [273, 4, pixelAt], // StripOffsets
      [277, 3, 1], // SamplesPerPixel
      [278, 4, height], // RowsPerStrip
      [279, 4, 1], // StripByteCounts
    ]
    for (const [tag, type, value] of tags) {
      out.writeUInt16LE(tag, o)
      out.writeUInt16LE(type, o + 2)
      out.writeUInt32LE(1, o + 4)
      if (type === 3) out.writeUInt16LE(value, o + 8)
      else out.writeUInt32LE(value, o + 8)
      o += 12
    }
    const next = p + 1 < pages ? firstIfd + (p + 1) * ifdSize : loop ? firstIfd : 0
    out.writeUInt32LE(next, o)
  }
  return out
}

/** A BMP header declaring width × height, with almost no pixel data. */
function bmpDeclaring(width: number, height: number): Buffer {
  const out = Buffer.alloc(64)
  out.write('BM', 0, 'ascii')
  out.writeUInt32LE(out.length, 2)
  out.writeUInt32LE(54, 10)
  out.writeUInt32LE(40, 14)
  out.writeInt32LE(width, 18)
  out.writeInt32LE(height, 22)
  out.writeUInt16LE(1, 26)
  out.writeUInt16LE(24, 28)
  return out
}

/** The JPEG with its SOF0/SOF2 frame size patched to width × height. */
function jpegDeclaring(jpeg: Buffer, width: number, height: number): Buffer {
  const b = Buffer.from(jpeg)
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) break
    const marker = b[i + 1]!
    const len = b.readUInt16BE(i + 2)
    if (marker === 0xc0 || marker === 0xc2) {
      b.writeUInt16BE(height, i + 5)
      b.writeUInt16BE(width, i + 7)
      return b
    }
    i += 2 + len
  }
  throw new Error('no SOF marker')
}

/** The lossy WebP with its VP8 frame size patched (14 bits each, so at most 16383 × 16383). */
function webpDeclaring(webp: Buffer, width: number, height: number): Buffer {
  const b = Buffer.from(webp)
  if (b.toString('ascii', 12, 16) !== 'VP8 ') throw new Error('not a simple lossy WebP')
  b.writeUInt16LE(width & 0x3fff, 26)
  b.writeUInt16LE(height & 0x3fff, 28)
  return b
}

/** The GIF with its logical screen and first frame patched to width × height. */
function gifDeclaring(gif: Buffer, width: number, height: number): Buffer {
  const b = Buffer.from(gif)
  b.writeUInt16LE(width, 6)
  b.writeUInt16LE(height, 8)
  // skip the global colour table and any extension blocks to the first image descriptor
  let i = 13 + (b[10]! & 0x80 ? 3 * 2 ** ((b[10]! & 7) + 1) : 0)
  while (b[i] === 0x21) {
    i += 2
    while (b[i]! > 0) i += b[i]! + 1
    i++
  }
  if (b[i] !== 0x2c) throw new Error('no GIF image descriptor')
  b.writeUInt16LE(width, i + 5)
  b.writeUInt16LE(height, i + 7)
  return b
}

// ---- multipart

const CRLF = '\r\n'

function multipart(boundary: string, parts: { name: string; filename?: string; type?: string; body: Buffer | string }[], close = true): Buffer {
  const chunks: Buffer[] = []
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`
    chunks.push(Buffer.from(`--${boundary}${CRLF}Content-Disposition: ${disp}${CRLF}${p.type ? `Content-Type: ${p.type}${CRLF}` : ''}${CRLF}`, 'latin1'))
    chunks.push(typeof p.body === 'string' ? Buffer.from(p.body) : p.body, Buffer.from(CRLF))
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--${CRLF}`))
  return Buffer.concat(chunks)
}

/** Every case, in a fixed order for a given seed and set of encoded images. */
export async function generateCases(seed: number, limits: FuzzLimits): Promise<FuzzCase[]> {
  const rng = createRng(seed)
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32"><rect width="100%" height="100%" fill="#fff"/><text x="6" y="23" font-family="DejaVu Sans" font-size="18">FUZZ 731</text></svg>`
  const png = await sharp(Buffer.from(svg)).png().toBuffer()
  const images: Record<Format, Buffer> = {
    png,
    jpeg: await sharp(png).jpeg({ quality: 85 }).toBuffer(),
    webp: await sharp(png).webp({ quality: 80 }).toBuffer(),
    tiff: await sharp(png).tiff().toBuffer(),
    bmp: await toBmp(png),
    gif: await sharp(png).gif().toBuffer(),
    // a one-page scan: the PNG as the page image, no text layer
    pdf: await makePdf([{ image: png, kind: 'png', dpi: 72 }]),
  }
  const cases: FuzzCase[] = []
  const add = (family: string, name: string, request: Buffer, expect: readonly Outcome[], fromHeader = false) =>
    cases.push({ family, name, request, expect, ...(fromHeader ? { fromHeader } : {}) })

  // random bytes under image content types (and the generic ones)
  const r1 = rng.fork(1)
  const anyType = [...Object.values(TYPES), 'application/octet-stream', 'image/x-icon', 'image/avif']
  for (let i = 0; i < 140; i++) {
    const type = r1.pick(anyType)
    add('random-bytes', `${type} ${i}`, raw(randomBytes(r1, r1.int(1, r1.chance(0.1) ? 200_000 : 4096)), type), IMAGE_ERRORS)
  }

  // 0-byte bodies, every way
  for (const type of [...Object.values(TYPES), 'application/octet-stream', 'application/json', 'multipart/form-data; boundary=x']) {
    add('empty', type, raw(Buffer.alloc(0), type), ['BAD_REQUEST'])
  }
  add('empty', 'no content type', raw(Buffer.alloc(0)), ['BAD_REQUEST', 'UNSUPPORTED_MEDIA'])
  add('empty', 'empty multipart file', raw(multipart('b0', [{ name: 'image', filename: 'a.png', type: 'image/png', body: '' }]), 'multipart/form-data; boundary=b0'), ['BAD_REQUEST'])
  add('empty', 'JSON empty image', json({ image: '' }), ['BAD_REQUEST'])

  // truncated and bit-flipped images of every format
  const r2 = rng.fork(2)
  for (const f of FORMATS) {
    const img = images[f]
    for (let i = 0; i < 25; i++) {
      const cut = i < 5 ? i + 1 : r2.int(1, img.length - 1)
      add('truncated', `${f} cut at ${cut}/${img.length}`, raw(img.subarray(0, cut), TYPES[f]), [OK, ...IMAGE_ERRORS])
    }
    for (let i = 0; i < 45; i++) {
      const headerOnly = i % 2 === 0
      const flips = r2.int(1, 8)
      add('bit-flip', `${f} ${flips} flips${headerOnly ? ' in the header' : ''} #${i}`, raw(flipBits(r2, img, flips, headerOnly), TYPES[f]), [OK, ...IMAGE_ERRORS])
    }
  }

  // decompression bombs: tiny files declaring huge images or page counts
  const bomb = (name: string, bytes: Buffer, type: string) => add('bomb', name, raw(bytes, type), ['IMAGE_TOO_LARGE'], true)
  bomb('PNG 100000×100000', pngDeclaring(100_000, 100_000), 'image/png')
  // a PDF page holding a 40000×40000 image in 195 KB of Flate: the image is never decoded, the page is read
  add('bomb', 'PDF with a 1.6-gigapixel embedded image', raw(await imageBombPdf(40_000, 40_000), 'application/pdf'), [OK])
  // libpng itself refuses a height this large while reading the header: 422, still before decoding
  add('bomb', 'PNG 1×2147483647', raw(pngDeclaring(1, 2 ** 31 - 1), 'image/png'), ['IMAGE_TOO_LARGE', 'UNDECODABLE_IMAGE'], true)
  bomb('PNG just over OCR_MAX_PIXELS', pngDeclaring(limits.maxPixels + 1, 1), 'image/png')
  bomb('JPEG 65500×65500', jpegDeclaring(images.jpeg, 65_500, 65_500), 'image/jpeg')
  bomb('WebP 16383×16383', webpDeclaring(images.webp, 16_383, 16_383), 'image/webp')
  bomb('GIF 65535×65535', gifDeclaring(images.gif, 65_535, 65_535), 'image/gif')
  bomb('TIFF 100000×100000', tiffDeclaring(1, 100_000, 100_000), 'image/tiff')
  bomb('BMP 100000×100000', bmpDeclaring(100_000, 100_000), 'image/bmp')
  bomb('BMP 100000×-100000 (top-down)', bmpDeclaring(100_000, -100_000), 'image/bmp')
  bomb(`TIFF ${limits.maxPages + 1} pages`, tiffDeclaring(limits.maxPages + 1), 'image/tiff')
  bomb('TIFF 5000 pages', tiffDeclaring(5000), 'image/tiff')
  bomb('PNG 100000×100000 as application/octet-stream', pngDeclaring(100_000, 100_000), 'application/octet-stream')
  add('bomb', 'PNG 100000×100000 as JSON base64', json({ image: pngDeclaring(100_000, 100_000).toString('base64') }), ['IMAGE_TOO_LARGE'], true)
  add('bomb', 'PNG 100000×100000 in multipart', raw(multipart('bb', [{ name: 'image', filename: 'b.png', type: 'image/png', body: pngDeclaring(100_000, 100_000) }]), 'multipart/form-data; boundary=bb'), ['IMAGE_TOO_LARGE'], true)
  add('bomb', 'TIFF whose IFD chain loops', raw(tiffDeclaring(3, 1, 1, true), 'image/tiff'), [OK, ...IMAGE_ERRORS])
  add('bomb', 'body over OCR_MAX_BODY_BYTES', raw(Buffer.alloc(limits.maxBodyBytes + 1), 'image/png'), ['PAYLOAD_TOO_LARGE'])
  add('bomb', 'Content-Length over OCR_MAX_BODY_BYTES, body never sent', httpRequest('', { 'content-type': 'image/png', 'content-length': String(limits.maxBodyBytes * 100) }), ['PAYLOAD_TOO_LARGE'])

  // extreme sizes: 1×1 and a 1:1000 strip are read (no text); thinner strips are refused from the
  // header (the detector would scale a 1×20000 strip to 64×1,280,000 px)
  for (const [w, h, expect] of [
    [1, 1, OK],
    [1, 1000, OK],
    [1, 20_000, 'IMAGE_TOO_LARGE'],
    [20_000, 1, 'IMAGE_TOO_LARGE'],
  ] as const) {
    const img = await sharp({ create: { width: w, height: h, channels: 3, background: '#fff' } }).png().toBuffer()
    add('extreme-size', `${w}×${h}`, raw(img, 'image/png'), [expect], expect !== OK)
  }
  add('extreme-size', 'BMP 1×20000', raw(await toBmp(await sharp({ create: { width: 1, height: 20_000, channels: 3, background: '#fff' } }).png().toBuffer()), 'image/bmp'), ['IMAGE_TOO_LARGE'], true)

  // malformed multipart
  const r3 = rng.fork(3)
  const mp = (b: string) => `multipart/form-data; boundary=${b}`
  const file = { name: 'image', filename: 'a.png', type: 'image/png', body: png }
  const multipartCases: [string, () => Buffer, readonly Outcome[]][] = [
    ['missing boundary', () => raw(multipart('b1', [file]), 'multipart/form-data'), ['BAD_REQUEST']],
    ['wrong boundary', () => raw(multipart('b1', [file]), mp('other')), ['BAD_REQUEST']],
    ['no closing boundary', () => raw(multipart('b1', [file], false), mp('b1')), ['BAD_REQUEST']],
    ['many parts', () => raw(multipart('b1', Array.from({ length: r3.int(7, 300) }, (_, i) => ({ name: `f${i}`, body: 'x' }))), mp('b1')), ['BAD_REQUEST']],
    ['many files', () => raw(multipart('b1', Array.from({ length: r3.int(2, 20) }, () => file)), mp('b1')), ['BAD_REQUEST']],
    ['huge field name', () => raw(multipart('b1', [{ name: 'n'.repeat(r3.int(1000, 200_000)), body: 'x' }, file]), mp('b1')), [OK, 'BAD_REQUEST']],
    ['huge file field name', () => raw(multipart('b1', [{ ...file, name: 'i'.repeat(r3.int(1000, 100_000)) }]), mp('b1')), ['BAD_REQUEST']],
    ['huge filename', () => raw(multipart('b1', [{ ...file, filename: 'f'.repeat(r3.int(1000, 100_000)) }]), mp('b1')), [OK, 'BAD_REQUEST']],
    ['huge boundary', () => {
      const b = 'B'.repeat(r3.int(71, 5000))
      return raw(multipart(b, [file]), mp(b))
    }, [OK, 'BAD_REQUEST']],
    ['file in the wrong field', () => raw(multipart('b1', [{ ...file, name: 'file' }]), mp('b1')), ['BAD_REQUEST']],
    ['image as a plain field', () => raw(multipart('b1', [{ name: 'image', body: png.toString('latin1') }]), mp('b1')), ['BAD_REQUEST']],
    ['bad cls value', () => raw(multipart('b1', [file, { name: 'cls', body: r3.pick(['yes', '1', '', 'TRUE', 'x'.repeat(5000)]) }]), mp('b1')), ['BAD_REQUEST']],
    ['random file bytes', () => raw(multipart('b1', [{ ...file, body: randomBytes(r3, r3.int(1, 5000)) }]), mp('b1')), IMAGE_ERRORS],
    ['random body', () => raw(randomBytes(r3, r3.int(1, 5000)), mp('b1')), ['BAD_REQUEST']],
    ['header without a name', () => raw(`--b1${CRLF}Content-Disposition: form-data${CRLF}${CRLF}xyz${CRLF}--b1--${CRLF}`, mp('b1')), ['BAD_REQUEST']],
    ['garbage part headers', () => raw(`--b1${CRLF}${'X'.repeat(r3.int(10, 90_000))}${CRLF}${CRLF}xyz${CRLF}--b1--${CRLF}`, mp('b1')), ['BAD_REQUEST']],
    ['nested multipart', () => raw(multipart('b1', [{ name: 'image', filename: 'n', type: mp('b2'), body: multipart('b2', [file]) }]), mp('b1')), ['UNSUPPORTED_MEDIA', 'UNDECODABLE_IMAGE', 'BAD_REQUEST']],
    ['truncated mid-file', () => {
      const b = multipart('b1', [file])
      return raw(b.subarray(0, r3.int(10, b.length - 10)), mp('b1'))
    }, ['BAD_REQUEST', 'UNDECODABLE_IMAGE']],
  ]
  for (let i = 0; i < 126; i++) {
    const [name, build, expect] = multipartCases[i % multipartCases.length]!
    add('multipart', `${name} #${i}`, build(), expect)
  }

  // invalid base64 (and valid base64 of non-images)
  const r4 = rng.fork(4)
  const b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  for (let i = 0; i < 120; i++) {
    const kind = i % 6
    let s: string
    let expect: readonly Outcome[] = ['BAD_REQUEST']
    if (kind === 0) {
      // a character outside both alphabets somewhere
      const chars = Array.from({ length: r4.int(4, 400) }, () => r4.pick(b64chars.split('')))
      chars[r4.int(0, chars.length - 1)] = r4.pick(['@', '!', '#', '$', '%', '^', '&', '*', '(', '"', '\\u0000', 'é', '€'])
      s = chars.join('')
    } else if (kind === 1) {
      s = Array.from({ length: 4 * r4.int(1, 100) + 1 }, () => r4.pick(b64chars.split(''))).join('') // 4n+1
    } else if (kind === 2) {
      s = `${png.toString('base64').slice(0, r4.int(4, 100))}==${png.toString('base64').slice(0, 8)}` // padding in the middle
    } else if (kind === 3) {
      s = r4.pick(['data:image/png,abcd', 'data:;base64', 'data:image/png;base64,', '   ', '====', 'data:image/png;base64,@@'])
    } else if (kind === 4) {
      s = randomBytes(r4, r4.int(1, 3000)).toString('base64') // valid base64, not an image
      expect = IMAGE_ERRORS
    } else {
      s = flipBits(r4, png, r4.int(1, 4), true).toString('base64url')
      expect = [OK, ...IMAGE_ERRORS]
    }
    add('base64', `kind ${kind} #${i}`, json({ image: s }), expect)
  }

  // JSON of the wrong shape
  const r5 = rng.fork(5)
  const good64 = png.toString('base64')
  const wrongValues: unknown[] = [null, true, 0, -1, 1e308, [], {}, [good64], { image: good64 }, 'x'.repeat(10)]
  const jsonCases: [string, () => Buffer][] = [
    ['image of a wrong type', () => json({ image: r5.pick(wrongValues.filter((v) => typeof v !== 'string')) })],
    ['cls of a wrong type', () => json({ image: good64, cls: r5.pick(['yes', 2, null, [], {}]) })],
    ['format of a wrong type', () => json({ image: good64, format: r5.pick(['xml', 1, null, ['json']]) })],
    ['unknown field', () => json({ image: good64, [`f${r5.int(0, 1e6)}`]: 1 })],
    ['url while fetching is off', () => json({ url: `http://127.0.0.1:${r5.int(1, 65535)}/a.png` })],
    ['image and url', () => json({ image: good64, url: 'http://example.com/a.png' })],
    ['neither image nor url', () => json({ cls: true })],
    ['top-level non-object', () => json(r5.pick(['[]', '"abc"', '42', 'null', 'true', '[{"image":"x"}]']))],
    ['broken JSON', () => json(JSON.stringify({ image: good64 }).slice(0, r5.int(1, 60)))],
    ['deeply nested', () => json(`{"image":${'['.repeat(r5.int(100, 5000))}${']'.repeat(10)}`)],
    ['huge key', () => json(`{"${'k'.repeat(r5.int(1000, 100_000))}":1,"image":"${good64}"}`)],
    ['prototype pollution keys', () => json(`{"image":"${good64}","__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}`)],
  ]
  for (let i = 0; i < 120; i++) {
    const [name, build] = jsonCases[i % jsonCases.length]!
    add('json', `${name} #${i}`, build(), name === 'url while fetching is off' ? ['URL_NOT_ALLOWED'] : ['BAD_REQUEST'])
  }

  // wrong Content-Type
  const r6 = rng.fork(6)
  const badTypes = ['text/plain', 'application/xml', 'text/html', 'application/x-www-form-urlencoded', 'video/mp4', 'text/csv; charset=utf-8', 'foo/bar', 'application/javascript']
  for (let i = 0; i < 54; i++) {
    const body = r6.chance(0.5) ? png : randomBytes(r6, r6.int(1, 2000))
    add('content-type', `${badTypes[i % badTypes.length]} #${i}`, raw(body, badTypes[i % badTypes.length]), ['UNSUPPORTED_MEDIA'])
  }
  add('content-type', 'SVG', raw(`<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"><text y="20">HI</text></svg>`, 'image/svg+xml'), ['UNSUPPORTED_MEDIA'])
  add('content-type', 'PNG under image/jpeg', raw(png, 'image/jpeg'), [OK])
  add('content-type', 'empty content type', raw(png, ''), ['UNSUPPORTED_MEDIA', 'BAD_REQUEST'])
  add('content-type', 'garbage content type', raw(png, '/////'), ['UNSUPPORTED_MEDIA', 'BAD_REQUEST'])
  add('content-type', 'no content type', raw(png), ['UNSUPPORTED_MEDIA', 'BAD_REQUEST'])

  // malformed HTTP
  const r7 = rng.fork(7)
  const httpCases: [string, () => Buffer, readonly Outcome[]][] = [
    ['bad request line', () => Buffer.from(`POST /v1/ocr HTTP/9.9 junk${CRLF}${CRLF}`), ['BAD_REQUEST']],
    ['header without colon', () => Buffer.from(`POST /v1/ocr HTTP/1.1${CRLF}Host: x${CRLF}broken-header${CRLF}${CRLF}`), ['BAD_REQUEST']],
    ['huge header', () => httpRequest(png, { 'content-type': 'image/png', 'x-big': 'h'.repeat(r7.int(20_000, 200_000)) }), ['HEADERS_TOO_LARGE']],
    ['many headers', () => httpRequest(png, { 'content-type': 'image/png', ...Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x-h${i}`, 'v'])) }), ['HEADERS_TOO_LARGE', 'BAD_REQUEST']],
    ['invalid Content-Length', () => httpRequest(png, { 'content-type': 'image/png', 'content-length': r7.pick(['-1', 'abc', '1e3', '99999999999999999999']) }), ['BAD_REQUEST', 'PAYLOAD_TOO_LARGE']],
    ['Content-Length and chunked (smuggling)', () => httpRequest(`0${CRLF}${CRLF}`, { 'content-type': 'image/png', 'content-length': '5', 'transfer-encoding': 'chunked' }), ['BAD_REQUEST']],
    ['bad chunk size', () => httpRequest(`zz${CRLF}abc${CRLF}0${CRLF}${CRLF}`, { 'content-type': 'image/png', 'transfer-encoding': 'chunked' }), ['BAD_REQUEST']],
    ['chunked image', () => httpRequest(Buffer.concat([Buffer.from(`${png.length.toString(16)}${CRLF}`), png, Buffer.from(`${CRLF}0${CRLF}${CRLF}`)]), { 'content-type': 'image/png', 'transfer-encoding': 'chunked' }), [OK]],
    ['NUL in the path', () => Buffer.from(`POST /v1/ocr\u0000x HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`, 'latin1'), ['BAD_REQUEST', 'NOT_FOUND']],
    ['request id with a newline', () => Buffer.from(`POST /v1/ocr HTTP/1.1${CRLF}Host: x${CRLF}X-Request-Id: a\rb${CRLF}${CRLF}`, 'latin1'), ['BAD_REQUEST']],
  ]
  for (let i = 0; i < 40; i++) {
    const [name, build, expect] = httpCases[i % httpCases.length]!
    add('http', `${name} #${i}`, build(), expect)
  }
  return cases
}
