/**
 * The coordinate chain (src/pipeline/line-frame.ts): a mark drawn in the image is cut out with the
 * pipeline's own transforms (page rotation, perspective crop, turn of a tall crop, 180° flip,
 * resize to the recogniser's input); found there, it must map back to where it was drawn.
 */
import { describe, expect, it } from 'vitest'
import { createImage, rot180, rotateClockwise, unrotatePoint, type RgbImage } from '../../src/image/image.js'
import { packRecBatch, recInputGray, recResizedWidth, tensorLayout } from '../../src/image/tensor.js'
import { LEGACY_NORMS } from '../../src/packs/load.js'
import { cropText, lineCrop } from '../../src/image/warp.js'
import { LineFrame, lineBox, type CropPlacement } from '../../src/pipeline/line-frame.js'
import type { Point, Quad } from '../../src/types.js'

const W = 400
const H = 300
const REC_H = 48

/** A white image with a dark 5×5 mark centred at `at`. */
function marked(at: Point): RgbImage {
  const img = createImage(W, H)
  img.data.fill(255)
  for (let y = Math.round(at[1]) - 2; y <= Math.round(at[1]) + 2; y++) for (let x = Math.round(at[0]) - 2; x <= Math.round(at[0]) + 2; x++) img.data.fill(0, (y * W + x) * 3, (y * W + x) * 3 + 3)
  return img
}

/** A rectangle of `w` × `h` centred at `c`, turned clockwise by `deg`, clockwise from its top-left. */
function rect(c: Point, w: number, h: number, deg: number): Quad {
  const t = (deg * Math.PI) / 180
  const corner = ([u, v]: Point): Point => [c[0] + u * Math.cos(t) - v * Math.sin(t), c[1] + u * Math.sin(t) + v * Math.cos(t)]
  return [corner([-w / 2, -h / 2]), corner([w / 2, -h / 2]), corner([w / 2, h / 2]), corner([-w / 2, h / 2])]
}

/** The mark's centre in the recogniser's input: the centroid of its dark pixels. */
function findMark(gray: Uint8Array, width: number): Point {
  let sx = 0
  let sy = 0
  let n = 0
  for (let y = 0; y < REC_H; y++) {
    for (let x = 0; x < width; x++) {
      const w = Math.max(0, 200 - gray[y * width + x]!)
      sx += w * (x + 0.5)
      sy += w * (y + 0.5)
      n += w
    }
  }
  return [sx / n, sy / n]
}

describe('LineFrame: a point of the recogniser input back to the image', () => {
  it.each([
    { name: 'upright line', tilt: 0, tall: false, flipped: false, rotation: 0 },
    { name: 'tilted 7°', tilt: 7, tall: false, flipped: false, rotation: 0 },
    { name: 'tilted −4°, flipped by the classifier', tilt: -4, tall: false, flipped: true, rotation: 0 },
    { name: 'tall crop turned 90°', tilt: 3, tall: true, flipped: false, rotation: 0 },
    { name: 'tall crop turned and flipped', tilt: 0, tall: true, flipped: true, rotation: 0 },
    { name: 'page rotated 90°', tilt: 2, tall: false, flipped: false, rotation: 90 },
    { name: 'page rotated 180°', tilt: 0, tall: false, flipped: false, rotation: 180 },
    { name: 'page rotated 270°, tall crop', tilt: 5, tall: true, flipped: false, rotation: 270 },
    // cropped past the box's ends (lineCropMargin): the input's ends lie outside the line's box
    { name: 'tilted 6°, cropped 0.3 × its height past its ends', tilt: 6, tall: false, flipped: false, rotation: 0, margin: 0.3 },
    { name: 'tall crop turned and flipped, cropped past its ends', tilt: 2, tall: true, flipped: true, rotation: 90, margin: 0.2 },
  ])('$name', ({ tilt, tall, flipped, rotation, margin = 0 }) => {
    const mark: Point = [231, 142]
    const img = marked(mark)
    // the page the crops are cut from, and the mark in it
    const page = rotateClockwise(img, rotation)
    const inPage = rotatedPoint(mark, rotation)
    // a line box around the mark (off-centre, so a wrong turn or flip would show)
    const [bw, bh] = tall ? [40, 180] : [220, 44]
    const quad = rect([inPage[0] + (tall ? 6 : -37), inPage[1] + (tall ? -41 : 5)], bw, bh, tilt)
    const { quad: source, ends } = lineCrop(quad, margin)
    const cut = cropText(page, source)
    expect(cut.turned).toBe(tall)
    const image = flipped ? rot180(cut.crop) : cut.crop
    // the recogniser's input: 48 px high, padded on the right
    const width = recResizedWidth(image, REC_H, 2000)
    const tensorWidth = width + 32
    const gray = recInputGray(packRecBatch([image], REC_H, tensorWidth, tensorLayout(LEGACY_NORMS.line)), 0, REC_H, tensorWidth, width, LEGACY_NORMS.line)
    const [x, y] = findMark(gray, width)
    const crop: CropPlacement = { quad, source, turned: cut.turned, flipped, ends }
    const frame = new LineFrame(crop, { rotation, width: W, height: H }, { width, height: REC_H }, image.width, image.height)
    const [px, py] = frame.point(x, y)
    // one recogniser pixel is a few image pixels: the mark comes back within 1.5 px
    expect(Math.hypot(px - (mark[0] + 0.5), py - (mark[1] + 0.5))).toBeLessThan(1.5)
    // the corners of the input are the line box's corners, starting at the text's top-left (a
    // box never reaches past the line's ends, where the crop does)
    const box = lineBox(crop, { rotation, width: W, height: H })
    const corners = frame.box(0, 0, width, REC_H)
    corners.forEach((c, k) => expect(Math.hypot(c[0] - box[k]![0], c[1] - box[k]![1])).toBeLessThan(1.5))
  })
})

/** Where a point of the image lands once the image is turned clockwise by `rotation`. */
function rotatedPoint([x, y]: Point, rotation: number): Point {
  // unrotatePoint maps rotated → original; search its inverse among the four quarter turns' formulas
  switch (rotation) {
    case 90:
      return [H - 1 - y, x]
    case 180:
      return [W - 1 - x, H - 1 - y]
    case 270:
      return [y, W - 1 - x]
    default:
      return [x, y]
  }
}

describe('lineBox', () => {
  const quad: Quad = [
    [10, 20],
    [110, 20],
    [110, 50],
    [10, 50],
  ]
  it('starts at the text’s own top-left: the quad’s, its top-right when turned, the opposite corner when flipped', () => {
    const page = { rotation: 0, width: W, height: H }
    expect(lineBox({ quad, source: quad, turned: false, flipped: false }, page)[0]).toEqual([10, 20])
    expect(lineBox({ quad, source: quad, turned: true, flipped: false }, page)[0]).toEqual([110, 20])
    expect(lineBox({ quad, source: quad, turned: false, flipped: true }, page)[0]).toEqual([110, 50])
  })
  it('maps a rotated page’s box back to the image as given', () => {
    const box = lineBox({ quad, source: quad, turned: false, flipped: false }, { rotation: 90, width: W, height: H })
    expect(box[0]).toEqual(unrotatePoint(10, 20, 90, W, H))
  })
})
