/**
 * Line geometry shared by the document formats: a line's quad (4 points clockwise from the text's
 * own top-left) reduced to an axis-aligned box, or to a frame (origin on the bottom-left corner,
 * direction along the text, length and height).
 */
import { clamp, dist } from '../geometry/point.js'
import type { Point, Quad } from '../types.js'

/** Axis-aligned integer bounds [x0, y0, x1, y1] of points, clipped to the page when given. */
export function bounds(points: readonly Point[], page?: { width: number; height: number }): [number, number, number, number] {
  let x0 = Infinity
  let y0 = Infinity
  let x1 = -Infinity
  let y1 = -Infinity
  for (const [x, y] of points) {
    x0 = Math.min(x0, x)
    y0 = Math.min(y0, y)
    x1 = Math.max(x1, x)
    y1 = Math.max(y1, y)
  }
  const r: [number, number, number, number] = [Math.floor(x0), Math.floor(y0), Math.ceil(x1), Math.ceil(y1)]
  if (page) {
    r[0] = clamp(r[0], 0, page.width)
    r[1] = clamp(r[1], 0, page.height)
    r[2] = clamp(r[2], r[0], page.width)
    r[3] = clamp(r[3], r[1], page.height)
  }
  return r
}

export interface LineFrame {
  /** The text's bottom-left corner (quad point 3). */
  origin: Point
  /** Unit vector along the text (mean of the top and bottom edges' directions). */
  dir: Point
  /** Mean length of the top and bottom edges. */
  length: number
  /** Mean length of the left and right edges. */
  height: number
}

/** The frame of a line's quad, in the quad's own coordinates (any y orientation). */
export function lineFrame(q: Quad): LineFrame {
  const [tl, tr, br, bl] = q
  const dx = tr[0] - tl[0] + (br[0] - bl[0])
  const dy = tr[1] - tl[1] + (br[1] - bl[1])
  const d = Math.hypot(dx, dy)
  return {
    origin: bl,
    dir: d > 0 ? [dx / d, dy / d] : [1, 0],
    length: (dist(tl, tr) + dist(bl, br)) / 2,
    height: (dist(tl, bl) + dist(tr, br)) / 2,
  }
}

/** Angle of the text in degrees, counter-clockwise from the image's x axis (image y points down). */
export function textAngle(q: Quad): number {
  const { dir } = lineFrame(q)
  return (Math.atan2(-dir[1], dir[0]) * 180) / Math.PI
}
