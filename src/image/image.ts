/** A decoded image: 8-bit RGB, row-major HWC. */
export interface RgbImage {
  data: Uint8Array
  width: number
  height: number
}

/**
 * An image whose pixels are computed on demand (a perspective crop not yet warped). Reading `data`
 * computes them all; `pixels(rows, cols)` computes only those a resize will read, with the same
 * values. The rotations below return lazy views of a lazy image.
 */
export abstract class LazyImage implements RgbImage {
  abstract readonly width: number
  abstract readonly height: number
  /** Every pixel, computed. */
  abstract get data(): Uint8Array
  /**
   * The pixel buffer (HWC, width × height) with at least the pixels at `rows` × `cols` computed
   * (indices ascending, unique); the others may still be 0.
   */
  abstract pixels(rows: Int32Array, cols: Int32Array): Uint8Array
  abstract rot90ccw(): LazyImage
  abstract rot180(): LazyImage
}

export function createImage(width: number, height: number): RgbImage {
  return { data: new Uint8Array(width * height * 3), width, height }
}

/** Rotate 90° counter-clockwise (numpy's np.rot90 with k=1). */
export function rot90ccw(img: RgbImage): RgbImage {
  if (img instanceof LazyImage) return img.rot90ccw()
  const { width: w, height: h, data } = img
  const out = createImage(h, w)
  // out(x', y') with x' in [0,h), y' in [0,w): out[y'][x'] = in[x'][w-1-y']
  for (let yo = 0; yo < w; yo++) {
    const xi = w - 1 - yo
    for (let xo = 0; xo < h; xo++) {
      const si = (xo * w + xi) * 3
      const di = (yo * h + xo) * 3
      out.data[di] = data[si]!
      out.data[di + 1] = data[si + 1]!
      out.data[di + 2] = data[si + 2]!
    }
  }
  return out
}

/** Rotate 180° (cv2.rotate(img, ROTATE_180)). */
export function rot180(img: RgbImage): RgbImage {
  if (img instanceof LazyImage) return img.rot180()
  const { width: w, height: h, data } = img
  const out = createImage(w, h)
  const n = w * h
  for (let i = 0; i < n; i++) {
    const si = i * 3
    const di = (n - 1 - i) * 3
    out.data[di] = data[si]!
    out.data[di + 1] = data[si + 1]!
    out.data[di + 2] = data[si + 2]!
  }
  return out
}

/** Rotate clockwise by 0, 90, 180 or 270 degrees. */
export function rotateClockwise(img: RgbImage, degrees: number): RgbImage {
  switch (((degrees % 360) + 360) % 360) {
    case 0:
      return img
    case 90:
      return rot180(rot90ccw(img))
    case 180:
      return rot180(img)
    case 270:
      return rot90ccw(img)
    default:
      throw new RangeError(`rotation must be a multiple of 90, got ${degrees}`)
  }
}

/**
 * Maps a point of the image rotated clockwise by `degrees` back to the original image of size
 * width × height (pixel-index coordinates).
 */
export function unrotatePoint(x: number, y: number, degrees: number, width: number, height: number): [number, number] {
  switch (((degrees % 360) + 360) % 360) {
    case 90: // original (x,y) → (H-1-y, x)
      return [y, height - 1 - x]
    case 180:
      return [width - 1 - x, height - 1 - y]
    case 270: // original (x,y) → (y, W-1-x)
      return [width - 1 - y, x]
    default:
      return [x, y]
  }
}

/** The per-channel median colour of the image's outermost pixels (its background, usually). */
export function borderColor(img: RgbImage): [number, number, number] {
  const { width: w, height: h, data } = img
  const hist = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)]
  let n = 0
  const add = (x: number, y: number): void => {
    const i = (y * w + x) * 3
    hist[0]![data[i]!]!++
    hist[1]![data[i + 1]!]!++
    hist[2]![data[i + 2]!]!++
    n++
  }
  for (let x = 0; x < w; x++) {
    add(x, 0)
    if (h > 1) add(x, h - 1)
  }
  for (let y = 1; y < h - 1; y++) {
    add(0, y)
    if (w > 1) add(w - 1, y)
  }
  return hist.map((hh) => {
    let acc = 0
    for (let v = 0; v < 256; v++) {
      acc += hh[v]!
      if (acc * 2 >= n) return v
    }
    return 255
  }) as [number, number, number]
}

/** The image inside a border of `pad` pixels of a constant colour. */
export function padImage(img: RgbImage, pad: number, color: readonly [number, number, number]): RgbImage {
  const w = img.width + 2 * pad
  const h = img.height + 2 * pad
  const out = createImage(w, h)
  const d = out.data
  // one row of the colour, then block copies: the border rows, and each image row with its margins
  const fill = new Uint8Array(w * 3)
  for (let i = 0; i < fill.length; i += 3) {
    fill[i] = color[0]
    fill[i + 1] = color[1]
    fill[i + 2] = color[2]
  }
  const margin = fill.subarray(0, pad * 3)
  for (let y = 0; y < pad; y++) {
    d.set(fill, y * w * 3)
    d.set(fill, (h - 1 - y) * w * 3)
  }
  const rowBytes = img.width * 3
  for (let y = 0; y < img.height; y++) {
    const at = (y + pad) * w * 3
    d.set(margin, at)
    d.set(img.data.subarray(y * rowBytes, (y + 1) * rowBytes), at + pad * 3)
    d.set(margin, at + pad * 3 + rowBytes)
  }
  return out
}
