/**
 * Decoding with sharp: JPEG, PNG, WebP, GIF (first frame), BMP (sharp has no BMP reader: parsed
 * here, headers checked), TIFF (every page). EXIF orientation applied, alpha flattened on a
 * background that contrasts with the content (./alpha.ts), grey and 16-bit images converted to
 * 8-bit RGB. Limits are checked from the header before pixels are decoded.
 */
import sharp, { type Metadata } from 'sharp'
import { OcrError } from '../errors.js'
import type { RgbImage } from './image.js'
import { flattenAlpha } from './alpha.js'
import { decodeBmp, isBmp } from './bmp.js'

export const SUPPORTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'bmp'] as const

export interface DecodedPages {
  format: string
  pages: RgbImage[]
}

const SIGNATURES: [format: string, test: (b: Uint8Array) => boolean][] = [
  ['jpeg', (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ['png', (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47],
  ['gif', (b) => b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38],
  ['webp', (b) => b.length >= 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP'],
  ['tiff', (b) => (b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a)],
]

/** The supported format whose magic bytes `bytes` starts with, if any. */
export function sniffFormat(bytes: Uint8Array): string | null {
  for (const [format, test] of SIGNATURES) if (bytes.length >= 4 && test(bytes)) return format
  return null
}

/** An image whose header has been checked; pages are decoded one at a time on demand. */
export interface OpenedImage {
  format: string
  pageCount: number
  page(index: number): Promise<RgbImage>
}

/**
 * Longest side / shortest side beyond which an image is refused from its header. The detector
 * scales the shorter side up to `detMinSideLen` (64 px) whatever the longer side becomes, so a
 * 1×20000 PNG of a few hundred bytes asks for a 64×1,280,000 input (about 1 GB of floats) and
 * seconds of CPU. No readable page is a thousand times longer than it is wide.
 */
export const MAX_ASPECT_RATIO = 1000

export interface DecodeOptions {
  maxPixels: number
  /** Longest / shortest side accepted (default MAX_ASPECT_RATIO; more → IMAGE_TOO_LARGE). */
  maxAspectRatio?: number
  /** Most pages of a multi-page TIFF accepted (more → IMAGE_TOO_LARGE). */
  maxPages?: number
  /** Decode every page of a multi-page TIFF (default true); other formats give one page. */
  allPages?: boolean
}

/** What ocrserve reads, for messages: these images, and PDF (opened by src/document/, not here). */
const READABLE = [...SUPPORTED_FORMATS, 'pdf'].join(', ')

sharp.cache(false)

/**
 * Reads the header: format, size and page count are checked against the limits before any pixel
 * is decoded.
 */
export async function openImage(bytes: Uint8Array, options: DecodeOptions): Promise<OpenedImage> {
  if (bytes.length === 0) throw new OcrError('UNSUPPORTED_MEDIA', 'empty image')
  if (isBmp(bytes)) {
    const img = decodeBmp(bytes, options.maxPixels)
    checkAspect(img.width, img.height, options)
    return { format: 'bmp', pageCount: 1, page: async () => img }
  }
  let meta: Metadata
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata()
  } catch (err) {
    // the signature of a supported format with an unreadable header is a damaged file, not a wrong type
    const sniffed = sniffFormat(bytes)
    if (sniffed) throw new OcrError('UNDECODABLE_IMAGE', `${sniffed} image cannot be decoded: ${(err as Error).message}`, { cause: err })
    throw new OcrError('UNSUPPORTED_MEDIA', `not an image or PDF in a supported format (${READABLE}): ${(err as Error).message}`, { cause: err })
  }
  const format: string = meta.format ?? 'unknown'
  if (!(SUPPORTED_FORMATS as readonly string[]).includes(format === 'jpg' ? 'jpeg' : format)) {
    throw new OcrError('UNSUPPORTED_MEDIA', `image format "${format}" is not supported; supported: ${READABLE}`)
  }
  const width = meta.width ?? 0
  const height = meta.pageHeight ?? meta.height ?? 0
  if (!width || !height) throw new OcrError('UNDECODABLE_IMAGE', 'image has no size')
  if (width * height > options.maxPixels) {
    throw new OcrError('IMAGE_TOO_LARGE', `image is ${width}×${height} = ${width * height} pixels; the limit is ${options.maxPixels}`)
  }
  checkAspect(width, height, options)
  const pageCount = format === 'tiff' && options.allPages !== false ? Math.max(1, meta.pages ?? 1) : 1
  if (options.maxPages !== undefined && pageCount > options.maxPages) {
    throw new OcrError('IMAGE_TOO_LARGE', `image has ${pageCount} pages; the limit is ${options.maxPages}`)
  }
  return { format, pageCount, page: (i) => decodePage(bytes, i, options.maxPixels) }
}

function checkAspect(width: number, height: number, options: DecodeOptions): void {
  const limit = options.maxAspectRatio ?? MAX_ASPECT_RATIO
  if (Math.max(width, height) > limit * Math.min(width, height)) {
    throw new OcrError('IMAGE_TOO_LARGE', `image is ${width}×${height}: one side is more than ${limit} times the other; the limit is 1:${limit}`)
  }
}

/** Every page decoded at once (the pipeline decodes page by page through openImage instead). */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<DecodedPages> {
  const img = await openImage(bytes, options)
  const pages: RgbImage[] = []
  for (let i = 0; i < img.pageCount; i++) pages.push(await img.page(i))
  return { format: img.format, pages }
}

async function decodePage(bytes: Uint8Array, page: number, maxPixels: number): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes, { page, pages: 1, limitInputPixels: maxPixels, failOn: 'error' })
      .rotate() // EXIF orientation
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length)
    // with alpha (RGBA, or grey + alpha made sRGB): flattened here, on a background chosen from the pixels
    if (info.channels === 4) return flattenAlpha(pixels, info.width, info.height)
    if (info.channels !== 3) throw new Error(`unexpected channel count ${info.channels}`)
    return { data: pixels, width: info.width, height: info.height }
  } catch (err) {
    const msg = (err as Error).message
    if (/pixel limit/i.test(msg)) throw new OcrError('IMAGE_TOO_LARGE', `image exceeds the pixel limit of ${maxPixels}`, { cause: err })
    throw new OcrError('UNDECODABLE_IMAGE', `image cannot be decoded: ${msg}`, { cause: err })
  }
}
