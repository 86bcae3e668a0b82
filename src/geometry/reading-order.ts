/**
 * Reading order, PaddleOCR's sorted_boxes: sort by the first corner's (y, x), then let a box move
 * before its left neighbour when both lie on the same line (|Δy| < 10 px) and it is further left.
 */
import type { Quad } from '../types.js'

export const SAME_LINE_DY = 10

export function readingOrder(boxes: readonly Quad[]): number[] {
  const idx = boxes.map((_, i) => i)
  idx.sort((a, b) => boxes[a]![0][1] - boxes[b]![0][1] || boxes[a]![0][0] - boxes[b]![0][0])
  for (let i = 0; i < idx.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      const cur = boxes[idx[j]!]!
      const next = boxes[idx[j + 1]!]!
      if (Math.abs(next[0][1] - cur[0][1]) < SAME_LINE_DY && next[0][0] < cur[0][0]) {
        const t = idx[j]!
        idx[j] = idx[j + 1]!
        idx[j + 1] = t
      } else break
    }
  }
  return idx
}
