/**
 * Tensor packing: resize (OpenCV INTER_LINEAR, result rounded to uint8 as cv2 does) fused with
 * normalisation and HWC→CHW in one pass, straight into the Float32Array the model consumes.
 * Images are RGB; which image channel each tensor channel holds (PaddleOCR decodes with cv2: BGR)
 * and how values are normalised come from the model's pack spec (src/packs/spec.ts), as a
 * TensorLayout.
 *
 * The *Pixels variants pack the same resized pixels unnormalised, as uint8, for models that
 * normalise in their graph (src/models/onnx/compact-input.ts: a quarter of the bytes to a model server).
 */
import { LazyImage, type RgbImage } from './image.js'
import { linearTable, type LinearTable } from './resize.js'

/** Which image channel each tensor channel holds: PaddleOCR decodes with cv2 (BGR). */
export type ChannelOrder = 'BGR' | 'RGB'

/**
 * PaddleOCR's normalisation: tensor value = (pixel · scale − mean[c]) / std[c], per tensor channel,
 * each step in float32 as its numpy code computes it. `divide`: the pixel is divided by 1 / scale
 * instead of multiplied by scale, as PaddleOCR's recogniser and classifier do (`/ 255`), which
 * rounds differently for some pixel values.
 */
export interface Normalisation {
  mean: readonly [number, number, number]
  std: readonly [number, number, number]
  scale: number
  divide?: boolean
  order: ChannelOrder
}

/** How pixels become a model's tensor: a lookup uint8 → value per tensor channel, and the channel order. */
export interface TensorLayout {
  luts: readonly Float32Array[]
  order: ChannelOrder
}

/**
 * The float32 constants of each normalisation step, as a model graph applies them
 * (src/models/onnx/compact-input.ts): pixel · scale (or pixel / divisor), − mean[c], / std[c].
 */
export function normalisationSteps(norm: Omit<Normalisation, 'order'>): { scale: number; divide: boolean; mean: number[]; std: number[] } {
  const divide = norm.divide === true
  return { scale: Math.fround(divide ? 1 / norm.scale : norm.scale), divide, mean: norm.mean.map(Math.fround), std: norm.std.map(Math.fround) }
}

/**
 * The normalisation as lookup tables, one per tensor channel: every entry is what PaddleOCR's
 * float32 arithmetic gives for that pixel value (each step rounded to float32: a float32 operation
 * computed in float64 and rounded once is exact).
 */
export function tensorLayout(norm: Normalisation): TensorLayout {
  const { scale, divide, mean, std } = normalisationSteps(norm)
  const f = Math.fround
  const luts = [0, 1, 2].map((c) => {
    const lut = new Float32Array(256)
    for (let v = 0; v < 256; v++) lut[v] = f(f(f(divide ? v / scale : v * scale) - mean[c]!) / std[c]!)
    return lut
  })
  return { luts, order: norm.order }
}

/** uint8 value → itself: packs pixels unnormalised. */
const RAW_LUTS: readonly Float32Array[] = [0, 1, 2].map(() => Float32Array.from({ length: 256 }, (_, v) => v))
const raw = (order: ChannelOrder): TensorLayout => ({ luts: RAW_LUTS, order })

/** Where a crop of the resized image starts (the page classifier's centre crop); none: the whole of it. */
interface Window {
  /** The size the image is resized to; dstW × dstH of it, from (x, y), are packed. */
  width: number
  height: number
  x: number
  y: number
}

/**
 * Resizes `img` to dstW × dstH (or to window's size, keeping dstW × dstH of it from its corner)
 * and writes it through `layout` into `out` (CHW, planes of planeW × planeH) at `offset`. Columns
 * beyond dstW stay as they are (zero padding).
 */
function packResized(
  img: RgbImage,
  dstW: number,
  dstH: number,
  layout: TensorLayout,
  out: Float32Array | Uint8Array,
  offset: number,
  planeW: number,
  planeH: number,
  window?: Window,
): void {
  const { width: sw, height: sh } = img
  const same = !window && sw === dstW && sh === dstH
  const plane = planeW * planeH
  // tensor channel 0 holds blue (BGR) or red (RGB); the plane and table each image channel goes to
  const rgb = layout.order === 'RGB'
  const pr = offset + (rgb ? 0 : 2) * plane
  const pg = offset + plane
  const pb = offset + (rgb ? 2 : 0) * plane
  const [lr, lg, lb] = (rgb ? layout.luts : [...layout.luts].reverse()) as [Float32Array, Float32Array, Float32Array]
  if (same) {
    const data = img.data
    for (let y = 0; y < dstH; y++) {
      let si = y * sw * 3
      const row = y * planeW
      for (let x = 0; x < dstW; x++, si += 3) {
        out[pb + row + x] = lb[data[si + 2]!]!
        out[pg + row + x] = lg[data[si + 1]!]!
        out[pr + row + x] = lr[data[si]!]!
      }
    }
    return
  }
  const tx = sliceTable(linearTable(sw, window?.width ?? dstW), window?.x ?? 0, dstW)
  const ty = sliceTable(linearTable(sh, window?.height ?? dstH), window?.y ?? 0, dstH)
  // a lazy crop computes only the rows and columns this resize reads
  const data = img instanceof LazyImage ? img.pixels(sourceIndices(ty, sh), sourceIndices(tx, sw)) : img.data
  // per column, interleaved: byte offsets of the two source columns, and their weights (1 − wx, wx)
  const cols = new Int32Array(2 * dstW)
  const wxs = new Float64Array(2 * dstW)
  for (let x = 0; x < dstW; x++) {
    cols[2 * x] = tx.i0[x]! * 3
    cols[2 * x + 1] = tx.i1[x]! * 3
    wxs[2 * x] = 1 - tx.w[x]!
    wxs[2 * x + 1] = tx.w[x]!
  }
  const end = 2 * dstW
  for (let y = 0; y < dstH; y++) {
    const r0 = ty.i0[y]! * sw * 3
    const r1 = ty.i1[y]! * sw * 3
    const wy = ty.w[y]!
    const wy0 = 1 - wy
    let ob = pb + y * planeW
    let og = pg + y * planeW
    let or = pr + y * planeW
    for (let k = 0; k < end; k += 2) {
      const c0 = cols[k]!
      const c1 = cols[k + 1]!
      const a = r0 + c0
      const b = r0 + c1
      const c = r1 + c0
      const d = r1 + c1
      const wx0 = wxs[k]!
      const wx1 = wxs[k + 1]!
      const w00 = wx0 * wy0
      const w01 = wx1 * wy0
      const w10 = wx0 * wy
      const w11 = wx1 * wy
      // the sums are ≥ 0: (v + 0.5) | 0 is Math.round, without the call
      const R = (data[a]! * w00 + data[b]! * w01 + data[c]! * w10 + data[d]! * w11 + 0.5) | 0
      const G = (data[a + 1]! * w00 + data[b + 1]! * w01 + data[c + 1]! * w10 + data[d + 1]! * w11 + 0.5) | 0
      const B = (data[a + 2]! * w00 + data[b + 2]! * w01 + data[c + 2]! * w10 + data[d + 2]! * w11 + 0.5) | 0
      out[ob++] = lb[B]!
      out[og++] = lg[G]!
      out[or++] = lr[R]!
    }
  }
}

/** `n` entries of a resize table from `start` (a window of the resized image). */
function sliceTable(t: LinearTable, start: number, n: number): LinearTable {
  if (start === 0 && n === t.i0.length) return t
  return { i0: t.i0.subarray(start, start + n), i1: t.i1.subarray(start, start + n), w: t.w.subarray(start, start + n) }
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

/**
 * The detector input [1, 3, dstH, dstW], written into the start of `into` when it is long enough
 * (every value is written, so it need not be zeroed) or else into a new array.
 */
export function packDetInput(img: RgbImage, dstW: number, dstH: number, layout: TensorLayout, into?: Float32Array): Float32Array {
  const n = 3 * dstW * dstH
  const out = into && into.length >= n ? into.subarray(0, n) : new Float32Array(n)
  packResized(img, dstW, dstH, layout, out, 0, dstW, dstH)
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

/**
 * How a line crop fills its H × W slot: `pad` keeps its aspect ratio (recResizedWidth, zero
 * padding on the right), `stretch` resizes it to W × H (PaddleX ResizeImage `size`).
 */
export type LineFit = 'pad' | 'stretch'

/** The width a line crop takes in its H × W slot. */
export const lineFitWidth = (img: RgbImage, H: number, W: number, fit: LineFit): number => (fit === 'pad' ? recResizedWidth(img, H, W) : W)

/** A batch [n, 3, H, W] of crops for the recogniser or a line classifier. */
export function packRecBatch(crops: readonly RgbImage[], H: number, W: number, layout: TensorLayout, fit: LineFit = 'pad'): Float32Array {
  const plane = H * W
  const out = new Float32Array(crops.length * 3 * plane)
  crops.forEach((img, i) => {
    packResized(img, lineFitWidth(img, H, W, fit), H, layout, out, i * 3 * plane, W, H)
  })
  return out
}

/** The detector's resized pixels [1, 3, dstH, dstW] in the model's channel order, unnormalised (`into`: as packDetInput). */
export function packDetPixels(img: RgbImage, dstW: number, dstH: number, order: ChannelOrder, into?: Uint8Array): Uint8Array {
  const n = 3 * dstW * dstH
  const out = into && into.length >= n ? into.subarray(0, n) : new Uint8Array(n)
  packResized(img, dstW, dstH, raw(order), out, 0, dstW, dstH)
  return out
}

/**
 * packRecBatch's pixels unnormalised: `pixels` [n, 3, H, W] (0 in the padding) and `valid`
 * [n, 1, 1, W], 1 for the columns a crop fills and 0 for its padding, which the model's graph
 * normalises to exactly what packRecBatch writes.
 */
export function packRecPixels(crops: readonly RgbImage[], H: number, W: number, order: ChannelOrder, fit: LineFit = 'pad'): { pixels: Uint8Array; valid: Uint8Array } {
  const plane = H * W
  const pixels = new Uint8Array(crops.length * 3 * plane)
  const valid = new Uint8Array(crops.length * W)
  crops.forEach((img, i) => {
    const w = lineFitWidth(img, H, W, fit)
    packResized(img, w, H, raw(order), pixels, i * 3 * plane, W, H)
    valid.fill(1, i * W, i * W + w)
  })
  return { pixels, valid }
}

/**
 * The page classifier's input (PaddleX ResizeImage resize_short + CropImage): the page scaled so
 * its shorter side is `short` (sides rounded), then the centre `crop` × `crop`, [1, 3, crop, crop].
 */
export function packCenterCrop(img: RgbImage, short: number, crop: number, layout: TensorLayout): Float32Array {
  const scale = short / Math.min(img.width, img.height)
  const width = Math.max(crop, Math.round(img.width * scale))
  const height = Math.max(crop, Math.round(img.height * scale))
  const out = new Float32Array(3 * crop * crop)
  packResized(img, crop, crop, layout, out, 0, crop, crop, { width, height, x: (width - crop) >> 1, y: (height - crop) >> 1 })
  return out
}

/**
 * The grey levels (mean of the three channels, 0–255) of sample `i` of a packed line batch
 * ([n, 3, H, W]: float32 normalised by `norm` as packRecBatch writes it, or, with `norm` null, uint8
 * pixels as packRecPixels writes them), its first `width` columns, row-major: the line as the
 * recogniser saw it, for measuring where its ink is.
 */
export function recInputGray(data: Float32Array | Uint8Array, i: number, H: number, W: number, width: number, norm: Normalisation | null): Uint8Array {
  const plane = H * W
  const base = i * 3 * plane
  const out = new Uint8Array(H * width)
  // a normalised value v of channel c came from the pixel x = (v · std[c] + mean[c]) / scale
  const [a0, a1, a2] = norm ? norm.std.map((sd) => sd / norm.scale / 3) : [1 / 3, 1 / 3, 1 / 3]
  const offset = norm ? (norm.mean[0] + norm.mean[1] + norm.mean[2]) / norm.scale / 3 : 0
  // the mean of three levels in 0..255 (a float's rounding can stray by far less than 0.5), rounded
  for (let y = 0; y < H; y++) {
    const row = base + y * W
    const o = y * width
    for (let x = 0; x < width; x++) {
      const v = data[row + x]! * a0! + data[row + plane + x]! * a1! + data[row + 2 * plane + x]! * a2! + offset
      out[o + x] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0
    }
  }
  return out
}
