/**
 * BMP reader (sharp/libvips has none): Windows BITMAPINFOHEADER and later (V4/V5) and OS/2 core
 * headers; 1/4/8-bit palettes, 16/24/32-bit, BI_RGB and BI_BITFIELDS, bottom-up or top-down.
 * RLE-compressed BMPs are rare and rejected with UNSUPPORTED_MEDIA.
 */
import { OcrError } from '../errors.js'
import type { RgbImage } from './image.js'

export function isBmp(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d
}

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 }
  let shift = 0
  while (((mask >>> shift) & 1) === 0) shift++
  return { shift, max: mask >>> shift }
}

export function decodeBmp(b: Uint8Array, maxPixels: number): RgbImage {
  const bad = (why: string): never => {
    throw new OcrError('UNDECODABLE_IMAGE', `BMP cannot be decoded: ${why}`)
  }
  if (b.length < 26) bad('truncated header')
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const dataOffset = dv.getUint32(10, true)
  const headerSize = dv.getUint32(14, true)
  let width: number
  let height: number
  let bpp: number
  let compression = 0
  let paletteEntrySize = 4
  let colorsUsed = 0
  if (headerSize === 12) {
    width = dv.getUint16(18, true)
    height = dv.getInt16(20, true)
    bpp = dv.getUint16(24, true)
    paletteEntrySize = 3
  } else if (headerSize >= 40) {
    if (b.length < 54) bad('truncated header')
    width = dv.getInt32(18, true)
    height = dv.getInt32(22, true)
    bpp = dv.getUint16(28, true)
    compression = dv.getUint32(30, true)
    colorsUsed = dv.getUint32(46, true)
  } else {
    return bad(`unknown header size ${headerSize}`)
  }
  const topDown = height < 0
  height = Math.abs(height)
  if (width <= 0 || height <= 0) bad('zero size')
  if (width * height > maxPixels) {
    throw new OcrError('IMAGE_TOO_LARGE', `image is ${width}×${height} = ${width * height} pixels; the limit is ${maxPixels}`)
  }
  if (compression !== 0 && compression !== 3 && compression !== 6) {
    throw new OcrError('UNSUPPORTED_MEDIA', `BMP compression ${compression} (RLE/JPEG/PNG in BMP) is not supported`)
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) bad(`unsupported bit depth ${bpp}`)
  // channel masks for 16/32-bit
  let masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff]
  if (compression === 3 || compression === 6) {
    const at = headerSize >= 52 ? 14 + 40 : 14 + headerSize
    if (b.length < at + 12) bad('truncated bit masks')
    masks = [dv.getUint32(at, true), dv.getUint32(at + 4, true), dv.getUint32(at + 8, true)]
  }
  const palette: number[][] = []
  if (bpp <= 8) {
    const n = colorsUsed || 1 << bpp
    const at = 14 + headerSize + (compression === 3 && headerSize === 40 ? 12 : 0)
    for (let i = 0; i < n; i++) {
      const o = at + i * paletteEntrySize
      if (o + 3 > b.length) bad('truncated palette')
      palette.push([b[o + 2]!, b[o + 1]!, b[o]!])
    }
  }
  const stride = Math.ceil((width * bpp) / 32) * 4
  if (dataOffset + stride * height > b.length) bad('truncated pixel data')
  const out = new Uint8Array(width * height * 3)
  const ms = masks.map(maskShift)
  for (let y = 0; y < height; y++) {
    const srcRow = dataOffset + (topDown ? y : height - 1 - y) * stride
    let di = y * width * 3
    for (let x = 0; x < width; x++, di += 3) {
      let r: number
      let g: number
      let bl: number
      if (bpp <= 8) {
        const bitPos = x * bpp
        const byte = b[srcRow + (bitPos >> 3)]!
        const idx = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1)
        const c = palette[idx] ?? [0, 0, 0]
        ;[r, g, bl] = c as [number, number, number]
      } else if (bpp === 24) {
        const o = srcRow + x * 3
        bl = b[o]!
        g = b[o + 1]!
        r = b[o + 2]!
      } else {
        const o = srcRow + x * (bpp / 8)
        const v = bpp === 16 ? dv.getUint16(o, true) : dv.getUint32(o, true)
        const ch = ms.map(({ shift, max }, i) => (max === 0 ? 0 : Math.round((((v & masks[i]!) >>> shift) * 255) / max)))
        ;[r, g, bl] = ch as [number, number, number]
      }
      out[di] = r
      out[di + 1] = g
      out[di + 2] = bl
    }
  }
  return { data: out, width, height }
}
