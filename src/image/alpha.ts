/**
 * Transparency: an RGBA image is flattened onto a background before OCR, since the models read
 * RGB. White is the usual choice (black text on transparency, as most PNGs with alpha carry), but
 * white text on transparency flattened on white is a blank page: the background is chosen to
 * contrast with the opaque pixels that border transparent ones, which are what it ends up next to
 * (the inside of an opaque box or photo never touches it, so it does not vote).
 */
import { createImage, type RgbImage } from './image.js'

/** Alpha at or above which a pixel counts as opaque when looking for the edges of the content. */
const OPAQUE_ALPHA = 128

/** Luma (BT.601, 0–255) above which the edges of the content are light, so black contrasts best. */
const LIGHT_LUMA = 127.5

/**
 * The grey level (0 black or 255 white) to flatten `rgba` (non-premultiplied, HWC) on: black when
 * the opaque pixels next to transparent ones are light on average, else white. An image with no
 * such edge (fully opaque, or fully transparent) gets white: the background is then never seen,
 * or there is nothing to contrast with.
 */
export function contrastingBackground(rgba: Uint8Array, width: number, height: number): 0 | 255 {
  let sum = 0
  let n = 0
  const edge = (a: number, b: number): void => {
    const oa = rgba[a + 3]! >= OPAQUE_ALPHA
    if (oa === rgba[b + 3]! >= OPAQUE_ALPHA) return
    const o = oa ? a : b
    sum += 0.299 * rgba[o]! + 0.587 * rgba[o + 1]! + 0.114 * rgba[o + 2]!
    n++
  }
  for (let y = 0; y < height; y++) {
    const row = y * width * 4
    for (let x = 0; x < width; x++) {
      const i = row + x * 4
      if (x + 1 < width) edge(i, i + 4)
      if (y + 1 < height) edge(i, i + width * 4)
    }
  }
  return n > 0 && sum / n > LIGHT_LUMA ? 0 : 255
}

/**
 * `rgba` composited over a grey background (each channel c·α + bg·(1 − α), as sharp's flatten does
 * on 8-bit sRGB), as RGB. The background defaults to contrastingBackground's choice.
 */
export function flattenAlpha(rgba: Uint8Array, width: number, height: number, background: number = contrastingBackground(rgba, width, height)): RgbImage {
  const out = createImage(width, height)
  const d = out.data
  const n = width * height
  for (let p = 0; p < n; p++) {
    const s = p * 4
    const t = p * 3
    const a = rgba[s + 3]!
    if (a === 255) {
      d[t] = rgba[s]!
      d[t + 1] = rgba[s + 1]!
      d[t + 2] = rgba[s + 2]!
    } else {
      const bg = background * (255 - a)
      d[t] = Math.round((rgba[s]! * a + bg) / 255)
      d[t + 1] = Math.round((rgba[s + 1]! * a + bg) / 255)
      d[t + 2] = Math.round((rgba[s + 2]! * a + bg) / 255)
    }
  }
  return out
}
