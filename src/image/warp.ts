/**
 * PaddleOCR's get_rotate_crop_image: perspective-warp a quad to an upright rectangle whose width and
 * height are the longer opposite edges (cv2.getPerspectiveTransform + warpPerspective with
 * INTER_CUBIC and BORDER_REPLICATE), then turn it 90° counter-clockwise when height/width ≥ 1.5.
 */
import type { Point, Quad } from '../types.js'
import { dist } from '../geometry/point.js'
import { createImage, rot90ccw, type RgbImage } from './image.js'

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

/** Catmull-Rom-like cubic weights with OpenCV's A = −0.75. */
function cubicWeights(t: number, w: Float64Array): void {
  const A = -0.75
  const x0 = t + 1
  const x1 = t
  const x2 = 1 - t
  w[0] = ((A * x0 - 5 * A) * x0 + 8 * A) * x0 - 4 * A
  w[1] = ((A + 2) * x1 - (A + 3)) * x1 * x1 + 1
  w[2] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1
  w[3] = 1 - w[0] - w[1] - w[2]
}

/** Crop size PaddleOCR uses for a quad: int() of the longer opposite edges. */
export function cropSize(q: Quad): { width: number; height: number } {
  return {
    width: Math.trunc(Math.max(dist(q[0], q[1]), dist(q[2], q[3]))),
    height: Math.trunc(Math.max(dist(q[0], q[3]), dist(q[1], q[2]))),
  }
}

/** The upright crop of `quad` (no 90° turn). */
export function warpQuad(img: RgbImage, quad: Quad): RgbImage {
  const { width: cw, height: ch } = cropSize(quad)
  const w = Math.max(1, cw)
  const h = Math.max(1, ch)
  // inverse map: destination pixel → source point
  const Hm = perspectiveTransform([[0, 0], [w, 0], [w, h], [0, h]], quad)
  const out = createImage(w, h)
  const { data, width: sw, height: sh } = img
  const od = out.data
  const [h0, h1, h2, h3, h4, h5, h6, h7, h8] = Hm as [number, number, number, number, number, number, number, number, number]
  const wx = new Float64Array(4)
  const wy = new Float64Array(4)
  const xs = new Int32Array(4)
  const rows = new Int32Array(4)
  const stride = sw * 3
  let di = 0
  for (let y = 0; y < h; y++) {
    const h1y = h1 * y
    const h4y = h4 * y
    const h7y = h7 * y
    for (let x = 0; x < w; x++, di += 3) {
      const Z = h6 * x + h7y + h8
      const X = (h0 * x + h1y + h2) / Z
      const Y = (h3 * x + h4y + h5) / Z
      const ix = Math.floor(X)
      const iy = Math.floor(Y)
      cubicWeights(X - ix, wx)
      cubicWeights(Y - iy, wy)
      if (ix >= 1 && ix + 2 < sw && iy >= 1 && iy + 2 < sh) {
        // inside: no clamping (BORDER_REPLICATE only matters within 2 px of the edge)
        for (let k = 0; k < 4; k++) xs[k] = (ix - 1 + k) * 3
        for (let j = 0; j < 4; j++) rows[j] = (iy - 1 + j) * stride
      } else {
        for (let k = 0; k < 4; k++) {
          const xx = ix - 1 + k
          xs[k] = (xx < 0 ? 0 : xx >= sw ? sw - 1 : xx) * 3
        }
        for (let j = 0; j < 4; j++) {
          const yy = iy - 1 + j
          rows[j] = (yy < 0 ? 0 : yy >= sh ? sh - 1 : yy) * stride
        }
      }
      let r = 0
      let g = 0
      let b = 0
      for (let j = 0; j < 4; j++) {
        const row = rows[j]!
        const wyj = wy[j]!
        for (let k = 0; k < 4; k++) {
          const si = row + xs[k]!
          const wgt = wyj * wx[k]!
          r += data[si]! * wgt
          g += data[si + 1]! * wgt
          b += data[si + 2]! * wgt
        }
      }
      // clamped to [0, 255] first, so (v + 0.5) | 0 is Math.round
      od[di] = r < 0 ? 0 : r > 255 ? 255 : (r + 0.5) | 0
      od[di + 1] = g < 0 ? 0 : g > 255 ? 255 : (g + 0.5) | 0
      od[di + 2] = b < 0 ? 0 : b > 255 ? 255 : (b + 0.5) | 0
    }
  }
  return out
}

/** get_rotate_crop_image: the upright crop, turned 90° CCW when it is tall (h/w ≥ 1.5). */
export function cropText(img: RgbImage, quad: Quad): { crop: RgbImage; turned: boolean } {
  const crop = warpQuad(img, quad)
  if (crop.height / crop.width >= 1.5) return { crop: rot90ccw(crop), turned: true }
  return { crop, turned: false }
}
