/**
 * Minimum-area enclosing rectangle (cv2.minAreaRect) by rotating calipers over the convex hull,
 * and PaddleOCR's get_mini_boxes corner ordering.
 */
import type { Point, Quad } from '../types.js'
import { convexHull } from './hull.js'

export interface RotatedRect {
  /** The four corners (any consistent order around the rectangle). */
  corners: Quad
  width: number
  height: number
}

export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points)
  if (hull.length === 1) {
    const p = hull[0]!
    return { corners: [[p[0], p[1]], [p[0], p[1]], [p[0], p[1]], [p[0], p[1]]], width: 0, height: 0 }
  }
  let best: { area: number; ux: number; uy: number; minU: number; maxU: number; minV: number; maxV: number } | null = null
  const n = hull.length
  // the hull's coordinates as flat arrays: the loop below runs n² times (n: tens of points for an
  // unclipped box's rounded corners)
  const xs = new Float64Array(n)
  const ys = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    xs[i] = hull[i]![0]
    ys[i] = hull[i]![1]
  }
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n
    const dx = xs[j]! - xs[i]!
    const dy = ys[j]! - ys[i]!
    const len = Math.hypot(dx, dy)
    if (len === 0) continue
    const ux = dx / len
    const uy = dy / len
    let minU = Infinity
    let maxU = -Infinity
    let minV = Infinity
    let maxV = -Infinity
    for (let k = 0; k < n; k++) {
      const px = xs[k]!
      const py = ys[k]!
      const u = px * ux + py * uy
      const v = -px * uy + py * ux
      if (u < minU) minU = u
      if (u > maxU) maxU = u
      if (v < minV) minV = v
      if (v > maxV) maxV = v
    }
    const area = (maxU - minU) * (maxV - minV)
    if (best === null || area < best.area - 1e-9) best = { area, ux, uy, minU, maxU, minV, maxV }
  }
  const { ux, uy, minU, maxU, minV, maxV } = best!
  const at = (u: number, v: number): Point => [u * ux - v * uy, u * uy + v * ux]
  return {
    corners: [at(minU, minV), at(maxU, minV), at(maxU, maxV), at(minU, maxV)],
    width: maxU - minU,
    height: maxV - minV,
  }
}

/**
 * PaddleOCR DBPostProcess.get_mini_boxes: min-area rectangle, corners sorted by x, then
 * [top of the left pair, top of the right pair, bottom of the right pair, bottom of the left pair].
 * Returns the box and the rectangle's short side.
 */
export function getMiniBox(points: readonly Point[]): { box: Quad; sside: number } {
  const r = minAreaRect(points)
  const p = [...r.corners].sort((a, b) => a[0] - b[0]) as Point[]
  let i1 = 0
  let i4 = 1
  if (p[1]![1] > p[0]![1]) {
    i1 = 0
    i4 = 1
  } else {
    i1 = 1
    i4 = 0
  }
  let i2 = 2
  let i3 = 3
  if (p[3]![1] > p[2]![1]) {
    i2 = 2
    i3 = 3
  } else {
    i2 = 3
    i3 = 2
  }
  return { box: [p[i1]!, p[i2]!, p[i3]!, p[i4]!], sside: Math.min(r.width, r.height) }
}
