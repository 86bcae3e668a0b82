/**
 * Where a line's pixels come from: every transform between the recogniser's input and the image
 * as given, undone in this one place. A point of the recogniser's input goes back through
 *
 *   the resize to the recogniser's height (and its right padding, which holds no point),
 *   the 180° flip of a crop the classifier (or an upside-down page) turned,
 *   the 90° counter-clockwise turn of a tall crop,
 *   the perspective warp of the detected quad (image/warp.ts: crop → page homography),
 *   the page's own rotation (autoRotate),
 *
 * to a point of the image. The detection padding is undone where the crops are made (their
 * quads are in page coordinates). Lines and words are boxed clockwise from the text's own
 * top-left corner.
 */
import { rotateQuadStart } from '../geometry/point.js'
import { unrotatePoint } from '../image/image.js'
import { cropSize, perspectiveTransform } from '../image/warp.js'
import type { Point, Quad } from '../types.js'

/** How a crop was made from its page. */
export interface CropPlacement {
  /** The line's box in the page (clipped to it), clockwise from the quad's own first corner. */
  quad: Quad
  /** The quad the crop was warped from, in the same page coordinates (not clipped). */
  source: Quad
  /** Turned 90° counter-clockwise because it was tall. */
  turned: boolean
  /** Turned 180° (the classifier, or a page read upside down). */
  flipped: boolean
  /**
   * The share of the crop's length at each end that lies past the line's box (the crop reaches a
   * little past it, image/warp.ts lineCrop); 0 when none.
   */
  ends?: number
}

/** The image as given, and the clockwise rotation the engine applied to it to read it. */
export interface PagePlacement {
  rotation: number
  width: number
  height: number
}

/** The box of a line: its quad from the text's own top-left corner, in the image as given. */
export function lineBox(crop: CropPlacement, page: PagePlacement): Quad {
  // turned CCW → the text's top-left was the quad's top-right; flipped → the opposite corner
  const box = rotateQuadStart(crop.quad, (crop.turned ? 1 : 0) + (crop.flipped ? 2 : 0))
  return page.rotation === 0 ? box : (box.map(([x, y]) => unrotatePoint(x, y, page.rotation, page.width, page.height)) as Quad)
}

/** The recogniser's input a line was read from: the crop resized to `width` × `height` (before padding). */
export interface RecInputSize {
  width: number
  height: number
}

/**
 * Maps points of a line's recogniser input to the image: built once per line (it solves the
 * crop's homography), then `point` / `box` per character or word.
 */
export class LineFrame {
  readonly #crop: CropPlacement
  readonly #page: PagePlacement
  /** rec-input pixels → pixels of the crop as read (turned and flipped). */
  readonly #sx: number
  readonly #sy: number
  /** The recogniser input's width before its padding (px). */
  readonly #inputWidth: number
  /** The upright crop's size (before the turn). */
  readonly #w: number
  readonly #h: number
  readonly #H: readonly number[]

  /** `cropWidth` × `cropHeight`: the crop image as the recogniser read it (after its turns). */
  constructor(crop: CropPlacement, page: PagePlacement, input: RecInputSize, cropWidth: number, cropHeight: number) {
    this.#crop = crop
    this.#page = page
    this.#sx = cropWidth / input.width
    this.#sy = cropHeight / input.height
    this.#inputWidth = input.width
    const size = cropSize(crop.source)
    this.#w = Math.max(1, size.width)
    this.#h = Math.max(1, size.height)
    this.#H = perspectiveTransform(
      [
        [0, 0],
        [this.#w, 0],
        [this.#w, this.#h],
        [0, this.#h],
      ],
      crop.source,
    )
  }

  /** A point (x, y) of the recogniser's input, in the image as given (clamped to it). */
  point(x: number, y: number): Point {
    let u = x * this.#sx
    let v = y * this.#sy
    const turned = this.#crop.turned
    // the crop as read is (w, h) upright, (h, w) turned
    if (this.#crop.flipped) {
      u = (turned ? this.#h : this.#w) - u
      v = (turned ? this.#w : this.#h) - v
    }
    // np.rot90 (counter-clockwise): the turned crop's (u, v) shows the upright crop's (w − v, u)
    const [X, Y] = turned ? [this.#w - v, u] : [u, v]
    const H = this.#H
    const z = H[6]! * X + H[7]! * Y + H[8]!
    // clamped to the page the crop was cut from: the image turned by `rotation`
    const { rotation, width, height } = this.#page
    const sideways = rotation % 180 !== 0
    const px = Math.min((sideways ? height : width) - 1, Math.max(0, (H[0]! * X + H[1]! * Y + H[2]!) / z))
    const py = Math.min((sideways ? width : height) - 1, Math.max(0, (H[3]! * X + H[4]! * Y + H[5]!) / z))
    return rotation === 0 ? [px, py] : unrotatePoint(px, py, rotation, width, height)
  }

  /**
   * The box [x0, x1) × [y0, y1) of the recogniser's input, clockwise from its top-left: the text's
   * own. Along the text it stays within the line's box: a word's ink past the box's ends (a final
   * full stop the detector left out, which the crop's margin lets the recogniser read) is not
   * boxed, so that words nest in their line (hOCR, ALTO).
   */
  box(x0: number, y0: number, x1: number, y1: number): Quad {
    const ends = this.#crop.ends ?? 0
    if (ends > 0) {
      // the input before its padding is the crop as read, resized: the same shares of its width
      const lo = ends * this.#inputWidth
      const hi = (1 - ends) * this.#inputWidth
      x0 = Math.min(hi, Math.max(lo, x0))
      x1 = Math.min(hi, Math.max(lo, x1))
    }
    return [this.point(x0, y0), this.point(x1, y0), this.point(x1, y1), this.point(x0, y1)]
  }
}
