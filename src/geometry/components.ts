/**
 * Connected regions of a binary map, 8-connected (the outer borders cv2.findContours traces), by
 * run-length labelling with union-find. For each region we keep only what DB post-processing needs:
 * the end pixels of every run, whose convex hull equals the hull of the region's border contour.
 */
import type { Point } from '../types.js'

export interface Region {
  /** Run end points (pixel indices x, y); hull(points) = hull(region). */
  points: Point[]
  /** Topmost-leftmost pixel, for a stable raster order. */
  firstY: number
  firstX: number
}

/** Regions of `mask` (non-zero = foreground), width × height, in raster order of their first pixel. */
export function connectedRegions(mask: Uint8Array, width: number, height: number): Region[] {
  // runs: [y, x0, x1] per run
  const runY: number[] = []
  const runX0: number[] = []
  const runX1: number[] = []
  let prevStart = 0
  let prevEnd = 0
  const parentList: number[] = []
  for (let y = 0; y < height; y++) {
    const row = y * width
    const curStart = runY.length
    let x = 0
    while (x < width) {
      if (mask[row + x] === 0) {
        x++
        continue
      }
      const x0 = x
      while (x < width && mask[row + x] !== 0) x++
      runY.push(y)
      runX0.push(x0)
      runX1.push(x - 1)
      parentList.push(runY.length - 1)
    }
    const curEnd = runY.length
    // union with overlapping runs of the previous row (8-connectivity: touching diagonally counts)
    let p = prevStart
    for (let c = curStart; c < curEnd; c++) {
      while (p < prevEnd && runX1[p]! < runX0[c]! - 1) p++
      let q = p
      while (q < prevEnd && runX0[q]! <= runX1[c]! + 1) {
        union(parentList, c, q)
        q++
      }
    }
    prevStart = curStart
    prevEnd = curEnd
  }
  const byRoot = new Map<number, Region>()
  const order: Region[] = []
  for (let i = 0; i < runY.length; i++) {
    const r = findRoot(parentList, i)
    let region = byRoot.get(r)
    if (!region) {
      region = { points: [], firstY: runY[i]!, firstX: runX0[i]! }
      byRoot.set(r, region)
      order.push(region)
    }
    region.points.push([runX0[i]!, runY[i]!])
    if (runX1[i] !== runX0[i]) region.points.push([runX1[i]!, runY[i]!])
  }
  return order
}

function union(parent: number[], a: number, b: number): void {
  const ra = findRoot(parent, a)
  const rb = findRoot(parent, b)
  // the earlier run stays root, so a region's representative is its first run in raster order
  if (ra < rb) parent[rb] = ra
  else if (rb < ra) parent[ra] = rb
}

function findRoot(parent: number[], i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]!]!
    i = parent[i]!
  }
  return i
}
