/**
 * Tensor packing: resize (OpenCV INTER_LINEAR, result rounded to uint8 as cv2 does) fused with
 * normalisation and HWC→CHW in one pass, straight into the Float32Array the model consumes.
 * Images are RGB; PaddleOCR feeds BGR (cv2 decode order), so channel c of the tensor reads
 * image channel 2 − c.
 *
 * The *Pixels variants pack the same resized pixels unnormalised, as uint8, for models that
 * normalise in their graph (src/models/compact-input.ts: a quarter of the bytes to a model server).
 */
import { LazyImage, type RgbImage } from './image.js'
import { linearTable, type LinearTable } from './resize.js'

/** Per-channel lookup: uint8 value → normalised float, for tensor channels B, G, R. */
function normLut(mean: readonly number[], std: readonly number[], scale: number): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const lut = new Float32Array(256)
    for (let v = 0; v < 256; v++) lut[v] = (v * scale - mean[c]!) / std[c]!
    return lut
  })
}

/** DB detector: mean [0.485,0.456,0.406], std [0.229,0.224,0.225], scale 1/255, in BGR order. */
export const DET_LUT: readonly Float32Array[] = normLut([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 1 / 255)
/** Recogniser and classifier: (x/255 − 0.5) / 0.5. */
export const REC_LUT: readonly Float32Array[] = normLut([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 1 / 255)
/** uint8 value → itself: packs pixels unnormalised. */
const RAW_LUT: readonly Float32Array[] = [0, 1, 2].map(() => Float32Array.from({ length: 256 }, (_, v) => v))

/**
 * Resizes `img` to dstW × dstH and writes it through `luts` into `out` (CHW, planes of
 * planeW × planeH) at `offset`. Columns beyond dstW stay as they are (zero padding).
 */
function packResized(
  img: RgbImage,
  dstW: number,
  dstH: number,
  luts: readonly Float32Array[],
  out: Float32Array | Uint8Array,
  offset: number,
  planeW: number,
  planeH: number,
): void {
  const { width: sw, height: sh } = img
  const same = sw === dstW && sh === dstH
  const plane = planeW * planeH
  const [lb, lg, lr] = luts as [Float32Array, Float32Array, Float32Array]
  if (same) {
    const data = img.data
    for (let y = 0; y < dstH; y++) {
      let si = y * sw * 3
      const row = offset + y * planeW
      for (let x = 0; x < dstW; x++, si += 3) {
        out[row + x] = lb[data[si + 2]!]!
        out[row + plane + x] = lg[data[si + 1]!]!
        out[row + 2 * plane + x] = lr[data[si]!]!
      }
    }
    return
  }
  const tx = linearTable(sw, dstW)
  const ty = linearTable(sh, dstH)
  // a lazy crop computes only the rows and columns this resize reads
  const data = img instanceof LazyImage ? img.pixels(sourceIndices(ty, sh), sourceIndices(tx, sw)) : img.data
  // per column: byte offsets of the two source columns and their weights (1 − wx, wx)
  const c0s = new Int32Array(dstW)
  const c1s = new Int32Array(dstW)
  const wx0 = new Float64Array(dstW)
  const wx1 = new Float64Array(dstW)
  for (let x = 0; x < dstW; x++) {
    c0s[x] = tx.i0[x]! * 3
    c1s[x] = tx.i1[x]! * 3
    wx1[x] = tx.w[x]!
    wx0[x] = 1 - tx.w[x]!
  }
  for (let y = 0; y < dstH; y++) {
    const r0 = ty.i0[y]! * sw * 3
    const r1 = ty.i1[y]! * sw * 3
    const wy = ty.w[y]!
    const wy0 = 1 - wy
    const row = offset + y * planeW
    for (let x = 0; x < dstW; x++) {
      const c0 = c0s[x]!
      const c1 = c1s[x]!
      const a = r0 + c0
      const b = r0 + c1
      const c = r1 + c0
      const d = r1 + c1
      const w00 = wx0[x]! * wy0
      const w01 = wx1[x]! * wy0
      const w10 = wx0[x]! * wy
      const w11 = wx1[x]! * wy
      // the sums are ≥ 0: (v + 0.5) | 0 is Math.round, without the call
      const R = (data[a]! * w00 + data[b]! * w01 + data[c]! * w10 + data[d]! * w11 + 0.5) | 0
      const G = (data[a + 1]! * w00 + data[b + 1]! * w01 + data[c + 1]! * w10 + data[d + 1]! * w11 + 0.5) | 0
      const B = (data[a + 2]! * w00 + data[b + 2]! * w01 + data[c + 2]! * w10 + data[d + 2]! * w11 + 0.5) | 0
      out[row + x] = lb[B]!
      out[row + plane + x] = lg[G]!
      out[row + 2 * plane + x] = lr[R]!
    }
  }
}

/** The source indices a resize table reads (ascending, unique). */
function sourceIndices(t: LinearTable, n: number): Int32Array {
  const used = new Uint8Array(n)
  for (let d = 0; d < t.i0.length; d++) {
    used[t.i0[d]!] = 1
    used[t.i1[d]!] = 1
  }
  let k = 0
  for (let i = 0; i < n; i++) k += used[i]!
  const out = new Int32Array(k)
  k = 0
  for (let i = 0; i < n; i++) if (used[i] === 1) out[k++] = i
  return out
}

/** The detector input [1, 3, dstH, dstW]. */
export function packDetInput(img: RgbImage, dstW: number, dstH: number): Float32Array {
  const out = new Float32Array(3 * dstW * dstH)
  packResized(img, dstW, dstH, DET_LUT, out, 0, dstW, dstH)
  return out
}

/**
 * PaddleOCR's resize_norm_img for rec/cls: height H, width ceil(H·w/h) capped at W, zero padding to
 * the right. Returns the width the image was resized to.
 */
export function recResizedWidth(img: RgbImage, H: number, W: number): number {
  const ratio = img.width / img.height
  const w = Math.ceil(H * ratio)
  return w > W ? W : Math.max(1, w)
}

/** A batch [n, 3, H, W] of crops for the recogniser or the angle classifier. */
export function packRecBatch(crops: readonly RgbImage[], H: number, W: number): Float32Array {
  const plane = H * W
  const out = new Float32Array(crops.length * 3 * plane)
  crops.forEach((img, i) => {
    packResized(img, recResizedWidth(img, H, W), H, REC_LUT, out, i * 3 * plane, W, H)
  })
  return out
}

/** The detector's resized pixels [1, 3, dstH, dstW], BGR, unnormalised. */
export function packDetPixels(img: RgbImage, dstW: number, dstH: number): Uint8Array {
  const out = new Uint8Array(3 * dstW * dstH)
  packResized(img, dstW, dstH, RAW_LUT, out, 0, dstW, dstH)
  return out
}

/**
 * packRecBatch's pixels unnormalised: `pixels` [n, 3, H, W] (0 in the padding) and `valid`
 * [n, 1, 1, W], 1 for the columns a crop fills and 0 for its padding, which the model's graph
 * normalises to exactly what packRecBatch writes.
 */
export function packRecPixels(crops: readonly RgbImage[], H: number, W: number): { pixels: Uint8Array; valid: Uint8Array } {
  const plane = H * W
  const pixels = new Uint8Array(crops.length * 3 * plane)
  const valid = new Uint8Array(crops.length * W)
  crops.forEach((img, i) => {
    const w = recResizedWidth(img, H, W)
    packResized(img, w, H, RAW_LUT, pixels, i * 3 * plane, W, H)
    valid.fill(1, i * W, i * W + w)
  })
  return { pixels, valid }
}

/**
 * The grey levels (mean of the three channels, 0–255) of sample `i` of a packed recogniser batch
 * ([n, 3, H, W], float32 normalised as packRecBatch writes it, or uint8 pixels as packRecPixels
 * does), its first `width` columns, row-major: the line as the recogniser saw it, for measuring
 * where its ink is.
 */
export function recInputGray(data: Float32Array | Uint8Array, i: number, H: number, W: number, width: number): Uint8Array {
  const plane = H * W
  const base = i * 3 * plane
  const out = new Uint8Array(H * width)
  // normalised v = x / 127.5 − 1 (REC_LUT): the three channels sum to (v0 + v1 + v2 + 3) · 127.5
  const scale = data instanceof Float32Array ? 127.5 / 3 : 1 / 3
  const offset = data instanceof Float32Array ? 3 : 0
  // the mean of three levels in 0..255 (a float's rounding can stray by far less than 0.5), rounded
  for (let y = 0; y < H; y++) {
    const row = base + y * W
    const o = y * width
    for (let x = 0; x < width; x++) out[o + x] = ((data[row + x]! + data[row + plane + x]! + data[row + 2 * plane + x]! + offset) * scale + 0.5) | 0
  }
  return out
}
