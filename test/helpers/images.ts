/** Test images made on the fly with sharp (fonts: DejaVu Sans, installed by .ci/run). */
import sharp from 'sharp'
import { packRecBatch, tensorLayout } from '../../src/image/tensor.js'
import { LEGACY_NORMS } from '../../src/packs/load.js'

/** How the builtin (PaddleOCR 2.x) models are fed: the detector's and the line models' tensor layouts. */
export const DET_LAYOUT = tensorLayout(LEGACY_NORMS.det)
export const REC_LAYOUT = tensorLayout(LEGACY_NORMS.line)

export interface TextImage {
  png: Buffer
  lines: string[]
  width: number
  height: number
}

/** Black lines of big text on white, one per row. */
export async function textImage(lines: string[] = ['HELLO WORLD 2024', 'QUICK BROWN FOX'], size = 40): Promise<TextImage> {
  const width = 760
  const rowH = Math.round(size * 1.9)
  const height = rowH * lines.length + 40
  const rows = lines
    .map((t, i) => `<text x="30" y="${30 + size + i * rowH}" font-family="DejaVu Sans" font-size="${size}" fill="#000">${t}</text>`)
    .join('')
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#fff"/>${rows}</svg>`
  const png = await sharp(Buffer.from(svg)).png().toBuffer()
  return { png, lines, width, height }
}

/**
 * The text lines of a textImage() as a recogniser batch: each row's RGB pixels, whole width, and
 * the [n, 3, 48, W] tensor data PP-OCR's recogniser reads (W ≥ 320, fits the widest crop).
 */
export async function textLineBatch(lines: string[], size = 36): Promise<{ data: Float32Array; dims: [number, number, number, number] }> {
  const img = await textImage(lines, size)
  const { data, info } = await sharp(img.png).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const rowH = Math.round(size * 1.9)
  const crops = img.lines.map((_, i) => {
    const top = 30 + i * rowH - 8
    const h = Math.min(rowH, info.height - top)
    const px = new Uint8Array(info.width * h * 3)
    px.set(data.subarray(top * info.width * 3, (top + h) * info.width * 3))
    return { width: info.width, height: h, data: px }
  })
  const H = 48
  const W = Math.max(320, ...crops.map((c) => Math.trunc((H * c.width) / c.height)))
  return { data: packRecBatch(crops, H, W, REC_LAYOUT), dims: [crops.length, 3, H, W] }
}

/** Uppercase, no whitespace: how tests compare recognised text. */
export const squash = (s: string): string => s.normalize('NFKC').replace(/\s+/g, '').toUpperCase()

/** A 24-bit bottom-up BMP of an image (sharp does not write BMP). */
export async function toBmp(image: Buffer): Promise<Buffer> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const stride = Math.ceil((info.width * 3) / 4) * 4
  const out = Buffer.alloc(54 + stride * info.height)
  out.write('BM', 0, 'ascii')
  out.writeUInt32LE(out.length, 2)
  out.writeUInt32LE(54, 10)
  out.writeUInt32LE(40, 14)
  out.writeInt32LE(info.width, 18)
  out.writeInt32LE(info.height, 22)
  out.writeUInt16LE(1, 26)
  out.writeUInt16LE(24, 28)
  out.writeUInt32LE(stride * info.height, 34)
  for (let y = 0; y < info.height; y++) {
    const row = 54 + (info.height - 1 - y) * stride
    for (let x = 0; x < info.width; x++) {
      const s = (y * info.width + x) * 3
      out[row + x * 3] = data[s + 2]!
      out[row + x * 3 + 1] = data[s + 1]!
      out[row + x * 3 + 2] = data[s]!
    }
  }
  return out
}
