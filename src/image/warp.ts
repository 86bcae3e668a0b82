/**
 * PaddleOCR's get_rotate_crop_image: perspective-warp a quad to an upright rectangle whose width and
 * height are the longer opposite edges (cv2.getPerspectiveTransform + warpPerspective with
 * INTER_CUBIC and BORDER_REPLICATE), then turn it 90° counter-clockwise when height/width ≥
 * TALL_CROP_RATIO.
 */
import type { Point, Quad } from '../types.js'
import { dist } from '../geometry/point.js'
import { LazyImage, rot90ccw, type RgbImage } from './image.js'

/** Solves the 3×3 homography H with H·src[i] ∝ dst[i] (cv2.getPerspectiveTransform). */
export function perspectiveTransform(src: readonly Point[], dst: readonly Point[]): number[] {
  const A: number[][] = []
  const b: number[] = []
  for (let i = 0; i < 4; i++) {
    const [x, y] = src[i]!
    const [u, v] = dst[i]!
    A.push([x, y, 1, 0, 0, 0, -x * u, -y * u])
    b.push(u)
    A.push([0, 0, 0, x, y, 1, -x * v, -y * v])
    b.push(v)
  }
  const h = solve(A, b)
  return [...h, 1]
}

/** Gaussian elimination with partial pivoting; throws on a singular system. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length
  const M = A.map((row, i) => [...row, b[i]!])
  for (let c = 0; c < n; c++) {
    let p = c
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r
    if (Math.abs(M[p]![c]!) < 1e-12) throw new RangeError('degenerate quad: perspective transform is singular')
    ;[M[c], M[p]] = [M[p]!, M[c]!]
    for (let r = 0; r < n; r++) {
      if (r === c) continue
      const f = M[r]![c]! / M[c]![c]!
      if (f === 0) continue
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!
    }
  }
  return M.map((row, i) => row[n]! / row[i]!)
}

/** Crop size PaddleOCR uses for a quad: int() of the longer opposite edges. */
export function cropSize(q: Quad): { width: number; height: number } {
  return {
    width: Math.trunc(Math.max(dist(q[0], q[1]), dist(q[2], q[3]))),
    height: Math.trunc(Math.max(dist(q[0], q[3]), dist(q[1], q[2]))),
  }
}

/**
 * The upright crop of `quad` (no 90° turn): cv2.warpPerspective with INTER_CUBIC (OpenCV's
 * Catmull-Rom-like weights, A = −0.75) and BORDER_REPLICATE.
 */
export function warpQuad(img: RgbImage, quad: Quad): RgbImage {
  const crop = lazyCrop(img, quad)
  return { data: crop.data, width: crop.width, height: crop.height }
}

/**
 * The same crop as warpQuad, computed lazily: the classifier and recogniser shrink a crop to 48 px
 * high, and their resizes read only two source rows (and columns) per output row (column), so a
 * crop of large text need not be warped whole. The pixels computed are the same values.
 */
export function lazyCrop(img: RgbImage, quad: Quad): LazyImage {
  const { width: cw, height: ch } = cropSize(quad)
  const w = Math.max(1, cw)
  const h = Math.max(1, ch)
  // inverse map: destination pixel → source point
  const H = perspectiveTransform([[0, 0], [w, 0], [w, h], [0, h]], quad)
  return new WarpedCrop(img, H, w, h, [1, 0, 0, 0, 1, 0])
}

/** Pixel indices 0 … n − 1. */
function allIndices(n: number): Int32Array {
  const a = new Int32Array(n)
  for (let i = 0; i < n; i++) a[i] = i
  return a
}

/**
 * A lazy view of a perspective crop. `map` takes a pixel (x, y) of this view to the pixel of the
 * upright crop it shows: cx = m0·x + m1·y + m2, cy = m3·x + m4·y + m5 (identity, or one of the 90°
 * turns), so a turned crop is warped straight into its turned position.
 */
class WarpedCrop extends LazyImage {
  readonly width: number
  readonly height: number
  readonly #src: RgbImage
  readonly #H: readonly number[]
  readonly #map: readonly [number, number, number, number, number, number]
  /** The pixels (HWC), allocated on the first fill. */
  #buf: Uint8Array | null = null
  /** 1 for each pixel computed; null before the first fill and once all are computed. */
  #done: Uint8Array | null = null

  constructor(src: RgbImage, H: readonly number[], width: number, height: number, map: readonly [number, number, number, number, number, number]) {
    super()
    this.#src = src
    this.#H = H
    this.width = width
    this.height = height
    this.#map = map
  }

  /** Every pixel computed: a buffer, and no record of which pixels are left. */
  get #complete(): boolean {
    return this.#buf !== null && this.#done === null
  }

  get data(): Uint8Array {
    if (!this.#complete) {
      this.#fill(allIndices(this.height), allIndices(this.width))
      this.#done = null
    }
    return this.#buf!
  }

  pixels(rows: Int32Array, cols: Int32Array): Uint8Array {
    if (this.#complete) return this.#buf!
    if (rows.length === this.height && cols.length === this.width) return this.data
    this.#fill(rows, cols)
    return this.#buf!
  }

  rot90ccw(): LazyImage {
    // np.rot90: view (x, y) shows this view's (w − 1 − y, x)
    const [m0, m1, m2, m3, m4, m5] = this.#map
    const k = this.width - 1
    return new WarpedCrop(this.#src, this.#H, this.height, this.width, [m1, -m0, m0 * k + m2, m4, -m3, m3 * k + m5])
  }

  rot180(): LazyImage {
    // view (x, y) shows this view's (w − 1 − x, h − 1 − y)
    const [m0, m1, m2, m3, m4, m5] = this.#map
    const kx = this.width - 1
    const ky = this.height - 1
    return new WarpedCrop(this.#src, this.#H, this.width, this.height, [-m0, -m1, m0 * kx + m1 * ky + m2, -m3, -m4, m3 * kx + m4 * ky + m5])
  }

  /** Computes the pixels at rows × cols not computed yet. */
  #fill(rows: Int32Array, cols: Int32Array): void {
    const w = this.width
    const od = (this.#buf ??= new Uint8Array(w * this.height * 3))
    const done = (this.#done ??= new Uint8Array(w * this.height))
    const { data, width: sw, height: sh } = this.#src
    const [h0, h1, h2, h3, h4, h5, h6, h7, h8] = this.#H as [number, number, number, number, number, number, number, number, number]
    const [m0, m1, m2, m3, m4, m5] = this.#map
    const A = -0.75
    const stride = sw * 3
    for (let ri = 0; ri < rows.length; ri++) {
      const vy = rows[ri]!
      const rowStart = vy * w
      // crop coordinates of view pixel (0, vy); each view column adds (m0, m3)
      const bx = m1 * vy + m2
      const by = m4 * vy + m5
      for (let ci = 0; ci < cols.length; ci++) {
        const vx = cols[ci]!
        const p = rowStart + vx
        if (done[p] === 1) continue
        done[p] = 1
        const x = m0 * vx + bx
        const y = m3 * vx + by
        // the same expressions, in the same order, as an eager row-by-row warp
        const h1y = h1 * y
        const h4y = h4 * y
        const h7y = h7 * y
        const Z = h6 * x + h7y + h8
        const X = (h0 * x + h1y + h2) / Z
        const Y = (h3 * x + h4y + h5) / Z
        const ix = Math.floor(X)
        const iy = Math.floor(Y)
        // cubicWeights(X − ix) and cubicWeights(Y − iy), inlined (same formulas, same order)
        const tx = X - ix
        const ax0 = tx + 1
        const ax2 = 1 - tx
        const wx0 = ((A * ax0 - 5 * A) * ax0 + 8 * A) * ax0 - 4 * A
        const wx1 = ((A + 2) * tx - (A + 3)) * tx * tx + 1
        const wx2 = ((A + 2) * ax2 - (A + 3)) * ax2 * ax2 + 1
        const wx3 = 1 - wx0 - wx1 - wx2
        const ty = Y - iy
        const ay0 = ty + 1
        const ay2 = 1 - ty
        const wy0 = ((A * ay0 - 5 * A) * ay0 + 8 * A) * ay0 - 4 * A
        const wy1 = ((A + 2) * ty - (A + 3)) * ty * ty + 1
        const wy2 = ((A + 2) * ay2 - (A + 3)) * ay2 * ay2 + 1
        const wy3 = 1 - wy0 - wy1 - wy2
        // source columns (bytes) and rows, clamped to the image (BORDER_REPLICATE) near the edges
        let x0: number, x1: number, x2: number, x3: number, y0: number, y1: number, y2: number, y3: number
        if (ix >= 1 && ix + 2 < sw && iy >= 1 && iy + 2 < sh) {
          x0 = (ix - 1) * 3
          x1 = x0 + 3
          x2 = x0 + 6
          x3 = x0 + 9
          y0 = (iy - 1) * stride
          y1 = y0 + stride
          y2 = y1 + stride
          y3 = y2 + stride
        } else {
          const cx = (v: number) => (v < 0 ? 0 : v >= sw ? sw - 1 : v) * 3
          const cy = (v: number) => (v < 0 ? 0 : v >= sh ? sh - 1 : v) * stride
          x0 = cx(ix - 1)
          x1 = cx(ix)
          x2 = cx(ix + 1)
          x3 = cx(ix + 2)
          y0 = cy(iy - 1)
          y1 = cy(iy)
          y2 = cy(iy + 1)
          y3 = cy(iy + 2)
        }
        let r = 0
        let g = 0
        let b = 0
        // rows in order, columns in order within each row: the same sums as the 4×4 loop
        for (let j = 0; j < 4; j++) {
          const row = j === 0 ? y0 : j === 1 ? y1 : j === 2 ? y2 : y3
          const wyj = j === 0 ? wy0 : j === 1 ? wy1 : j === 2 ? wy2 : wy3
          let wgt = wyj * wx0
          let si = row + x0
          r += data[si]! * wgt
          g += data[si + 1]! * wgt
          b += data[si + 2]! * wgt
          wgt = wyj * wx1
          si = row + x1
          r += data[si]! * wgt
          g += data[si + 1]! * wgt
          b += data[si + 2]! * wgt
          wgt = wyj * wx2
          si = row + x2
          r += data[si]! * wgt
          g += data[si + 1]! * wgt
          b += data[si + 2]! * wgt
          wgt = wyj * wx3
          si = row + x3
          r += data[si]! * wgt
          g += data[si + 1]! * wgt
          b += data[si + 2]! * wgt
        }
        // clamped to [0, 255] first, so (v + 0.5) | 0 is Math.round
        const di = p * 3
        od[di] = r < 0 ? 0 : r > 255 ? 255 : (r + 0.5) | 0
        od[di + 1] = g < 0 ? 0 : g > 255 ? 255 : (g + 0.5) | 0
        od[di + 2] = b < 0 ? 0 : b > 255 ? 255 : (b + 0.5) | 0
      }
    }
  }
}

/**
 * A crop at least this many times taller than wide is taken for vertical text and turned 90° CCW
 * (get_rotate_crop_image's `dst_img_height * 1.0 / dst_img_width >= 1.5`).
 */
export const TALL_CROP_RATIO = 1.5

/**
 * The quad a line is cropped from: `quad` lengthened at both ends along its text by `margin` × the
 * line's height (its side across the text), and `ends`, the share of that crop's length past each
 * end of `quad` (the line's box spans [ends, 1 − ends] of it; exactly for a parallelogram). The
 * text runs along the crop's width, or along its height when the crop is tall (cropText turns it);
 * lengthening a quad along that side keeps it as tall or as wide as it was, so cropText turns it
 * the same way. Beyond the reference (PaddleOCR crops the box as detected): DB's box often ends on
 * or just before a line's final full stop or comma, a small mark whose probability stays under the
 * threshold on faint ink, and the recogniser drops a mark at the very edge of its input.
 */
export function lineCrop(quad: Quad, margin: number): { quad: Quad; ends: number } {
  const along = lengthening(quad, margin)
  if (!along) return { quad, ends: 0 }
  const { ex, ey, by, tall } = along
  const [a, b, c, d] = quad
  const back = (p: Point): Point => [p[0] - ex * by, p[1] - ey * by]
  const on = (p: Point): Point => [p[0] + ex * by, p[1] + ey * by]
  return { quad: tall ? [back(a), back(b), on(c), on(d)] : [back(a), on(b), on(c), back(d)], ends: by / (1 + 2 * by) }
}

/** How lineCrop lengthens `quad`: the edge along its text (ex, ey), by `by` of it at each end; null when it does not. */
function lengthening(quad: Quad, margin: number): { ex: number; ey: number; by: number; tall: boolean } | null {
  if (margin <= 0) return null
  const { width, height } = cropSize(quad)
  const tall = Math.max(1, height) / Math.max(1, width) >= TALL_CROP_RATIO
  const [a, b, c, d] = quad
  // the mean of the two edges that run along the text, from its start to its end
  const ex = tall ? (d[0] - a[0] + c[0] - b[0]) / 2 : (b[0] - a[0] + c[0] - d[0]) / 2
  const ey = tall ? (d[1] - a[1] + c[1] - b[1]) / 2 : (b[1] - a[1] + c[1] - d[1]) / 2
  const length = Math.hypot(ex, ey)
  if (length === 0) return null
  return { ex, ey, by: (margin * (tall ? width : height)) / length, tall }
}

/** get_rotate_crop_image: the upright crop, turned 90° CCW when it is tall (h/w ≥ TALL_CROP_RATIO). */
export function cropText(img: RgbImage, quad: Quad): { crop: RgbImage; turned: boolean } {
  const crop = lazyCrop(img, quad)
  if (crop.height / crop.width >= TALL_CROP_RATIO) return { crop: rot90ccw(crop), turned: true }
  return { crop, turned: false }
}
