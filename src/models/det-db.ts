/**
 * DB text detector: input sizing (DetResizeForTest) and post-processing (DBPostProcess +
 * filter_tag_det_res), pure functions on typed arrays.
 */
import type { Point, Quad } from '../types.js'
import { boxScoreFast } from '../geometry/box-score.js'
import { connectedRegions } from '../geometry/components.js'
import { getMiniBox } from '../geometry/min-area-rect.js'
import { clamp, dist, orderPointsClockwise, roundHalfEven } from '../geometry/point.js'
import { unclip } from '../geometry/unclip.js'

/**
 * DetResizeForTest: scale so the limit holds, then round each side to a multiple of 32 (min 32).
 * Beyond the reference: with `minSideLen` > 0 a thin image (a line crop) is scaled up until its
 * shorter side reaches it, instead of being squashed into 32 px rows (see docs/ACCURACY.md).
 */
export function detInputSize(
  width: number,
  height: number,
  limitSideLen: number,
  limitType: 'max' | 'min',
  minSideLen = 0,
  maxUpscaledSide = Infinity,
): { width: number; height: number } {
  let ratio = 1
  if (limitType === 'max') {
    if (Math.max(width, height) > limitSideLen) ratio = limitSideLen / Math.max(width, height)
  } else if (Math.min(width, height) < limitSideLen) {
    ratio = limitSideLen / Math.min(width, height)
  }
  if (minSideLen > 0 && Math.min(width, height) * ratio < minSideLen) {
    // raising the short side must not blow up the long one: a 1×20000 strip would otherwise become
    // a 64×1,280,000 input (gigabytes); the raise stops where the long side reaches maxUpscaledSide
    const cap = Math.max(ratio, maxUpscaledSide / Math.max(width, height))
    ratio = Math.min(minSideLen / Math.min(width, height), cap)
  }
  const rh = Math.trunc(height * ratio)
  const rw = Math.trunc(width * ratio)
  return {
    width: Math.max(roundHalfEven(rw / 32) * 32, 32),
    height: Math.max(roundHalfEven(rh / 32) * 32, 32),
  }
}

export interface DbParams {
  thresh: number
  boxThresh: number
  unclipRatio: number
  maxCandidates: number
  minSize: number
}

/**
 * Boxes from a probability map `pred` (mapW × mapH) in source-image pixels (srcW × srcH): each
 * clockwise from top-left, clipped to the image, at least 4 px on each side.
 */
export function dbPostprocess(pred: Float32Array, mapW: number, mapH: number, srcW: number, srcH: number, p: DbParams): Quad[] {
  const n = mapW * mapH
  const bitmap = new Uint8Array(n)
  for (let i = 0; i < n; i++) bitmap[i] = pred[i]! > p.thresh ? 1 : 0
  const regions = connectedRegions(bitmap, mapW, mapH)
  const boxes: Quad[] = []
  const count = Math.min(regions.length, p.maxCandidates)
  for (let r = 0; r < count; r++) {
    const region = regions[r]!
    const { box, sside } = getMiniBox(region.points)
    if (sside < p.minSize) continue
    const score = boxScoreFast(pred, mapW, mapH, box)
    if (p.boxThresh > score) continue
    const expanded = unclip(box, p.unclipRatio)
    if (!expanded) continue
    const fitted = getMiniBox(expanded)
    if (fitted.sside < p.minSize + 2) continue
    const scaled = fitted.box.map(
      ([x, y]) => [clamp(roundHalfEven((x / mapW) * srcW), 0, srcW), clamp(roundHalfEven((y / mapH) * srcH), 0, srcH)] as Point,
    )
    const q = filterBox(scaled, srcW, srcH)
    if (q) boxes.push(q)
  }
  return boxes
}

/** filter_tag_det_res for one box: order clockwise, clip to the image, drop boxes ≤ 3 px. */
export function filterBox(box: readonly Point[], srcW: number, srcH: number): Quad | null {
  const q = orderPointsClockwise(box)
  for (const pt of q) {
    pt[0] = clamp(pt[0], 0, srcW - 1)
    pt[1] = clamp(pt[1], 0, srcH - 1)
  }
  const w = Math.trunc(dist(q[0], q[1]))
  const h = Math.trunc(dist(q[0], q[3]))
  if (w <= 3 || h <= 3) return null
  return q
}
