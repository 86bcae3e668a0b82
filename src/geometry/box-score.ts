/**
 * DB's box_score_fast: the mean of the probability map over the pixels of a quad (cv2.fillPoly of
 * the truncated integer corners, within the quad's clipped bounding box).
 */
import type { Point } from '../types.js'
import { clamp } from './point.js'

export function boxScoreFast(pred: Float32Array, width: number, height: number, box: readonly Point[]): number {
  let minX = Infinity
  let maxX = -Infinity
  let minY = Infinity
  let maxY = -Infinity
  for (const p of box) {
    if (p[0] < minX) minX = p[0]
    if (p[0] > maxX) maxX = p[0]
    if (p[1] < minY) minY = p[1]
    if (p[1] > maxY) maxY = p[1]
  }
  const xmin = clamp(Math.floor(minX), 0, width - 1)
  const xmax = clamp(Math.ceil(maxX), 0, width - 1)
  const ymin = clamp(Math.floor(minY), 0, height - 1)
  const ymax = clamp(Math.ceil(maxY), 0, height - 1)
  // polygon relative to the bounding box, truncated to int like `.astype(np.int32)`
  const poly = box.map((p) => [Math.trunc(p[0] - xmin), Math.trunc(p[1] - ymin)] as Point)
  let sum = 0
  let count = 0
  for (let y = 0; y <= ymax - ymin; y++) {
    const span = rowSpan(poly, y)
    if (!span) continue
    const x0 = Math.max(0, span[0])
    const x1 = Math.min(xmax - xmin, span[1])
    const row = (y + ymin) * width + xmin
    for (let x = x0; x <= x1; x++) {
      sum += pred[row + x]!
      count++
    }
  }
  return count === 0 ? 0 : sum / count
}

/**
 * The filled x-range of a convex polygon on pixel row y, edges included (fillPoly draws the
 * outline too): [ceil-ish left, floor-ish right] rounded to the nearest pixel.
 */
function rowSpan(poly: readonly Point[], y: number): [number, number] | null {
  let lo = Infinity
  let hi = -Infinity
  const n = poly.length
  for (let i = 0; i < n; i++) {
    const a = poly[i]!
    const b = poly[(i + 1) % n]!
    const y0 = Math.min(a[1], b[1])
    const y1 = Math.max(a[1], b[1])
    if (y < y0 || y > y1) continue
    if (a[1] === b[1]) {
      lo = Math.min(lo, a[0], b[0])
      hi = Math.max(hi, a[0], b[0])
    } else {
      const x = a[0] + ((y - a[1]) * (b[0] - a[0])) / (b[1] - a[1])
      lo = Math.min(lo, x)
      hi = Math.max(hi, x)
    }
  }
  if (lo > hi) return null
  return [Math.round(lo), Math.round(hi)]
}
