import type { Point, Quad } from '../types.js'

export function dist(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1])
}

/** Shoelace area (absolute) of a polygon. */
export function polygonArea(pts: readonly Point[]): number {
  let s = 0
  for (let i = 0; i < pts.length; i++) {
    const a = pts[i]!
    const b = pts[(i + 1) % pts.length]!
    s += a[0] * b[1] - b[0] * a[1]
  }
  return Math.abs(s) / 2
}

export function polygonPerimeter(pts: readonly Point[]): number {
  let s = 0
  for (let i = 0; i < pts.length; i++) s += dist(pts[i]!, pts[(i + 1) % pts.length]!)
  return s
}

/** numpy's round(): half to even. PaddleOCR scales boxes back with np.round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v
}

/**
 * PaddleOCR's order_points_clockwise: top-left = smallest x+y, bottom-right = largest x+y; of the
 * other two, top-right has the smaller y−x, bottom-left the larger.
 */
export function orderPointsClockwise(pts: readonly Point[]): Quad {
  let iMin = 0
  let iMax = 0
  for (let i = 1; i < 4; i++) {
    const s = pts[i]![0] + pts[i]![1]
    if (s < pts[iMin]![0] + pts[iMin]![1]) iMin = i
    if (s > pts[iMax]![0] + pts[iMax]![1]) iMax = i
  }
  if (iMin === iMax) iMax = iMin === 0 ? 1 : 0 // degenerate: all sums equal
  const rest = [0, 1, 2, 3].filter((i) => i !== iMin && i !== iMax).map((i) => pts[i]!)
  const d0 = rest[0]![1] - rest[0]![0]
  const d1 = rest[1]![1] - rest[1]![0]
  // np.argmin picks the first on ties; the other point is bottom-left
  const [tr, bl] = d1 < d0 ? [rest[1]!, rest[0]!] : [rest[0]!, rest[1]!]
  return [
    [pts[iMin]![0], pts[iMin]![1]],
    [tr[0], tr[1]],
    [pts[iMax]![0], pts[iMax]![1]],
    [bl[0], bl[1]],
  ]
}

/** Rotate the start of a clockwise quad by k positions: k=1 → [p1,p2,p3,p0]. */
export function rotateQuadStart(q: Quad, k: number): Quad {
  const n = ((k % 4) + 4) % 4
  return [q[n % 4]!, q[(n + 1) % 4]!, q[(n + 2) % 4]!, q[(n + 3) % 4]!] as Quad
}
