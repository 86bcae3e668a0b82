import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { Quad } from '../../src/types.js'
import { decodeBmp } from '../../src/image/bmp.js'
import { borderColor, padImage, rot180, rot90ccw, rotateClockwise, unrotatePoint, type RgbImage } from '../../src/image/image.js'
import { linearTable } from '../../src/image/resize.js'
import { packDetInput, packRecBatch, recResizedWidth, tensorLayout } from '../../src/image/tensor.js'
import { LEGACY_NORMS } from '../../src/packs/load.js'
import { DET_LAYOUT, REC_LAYOUT } from '../helpers/images.js'
import { cropSize, cropText, lazyCrop, lineCrop, perspectiveTransform, warpQuad } from '../../src/image/warp.js'
import { firstDiff } from '../helpers/arrays.js'

/** A w×h image whose pixel (x, y) is (x, y, 7). */
function coords(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3)
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x, y, 7], (y * w + x) * 3)
  return { data, width: w, height: h }
}
const px = (img: RgbImage, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)]

describe('rotations', () => {
  const img = coords(4, 3)
  it('rot90ccw matches np.rot90: out[y][x] = in[x][w-1-y]', () => {
    const r = rot90ccw(img)
    expect([r.width, r.height]).toEqual([3, 4])
    expect(px(r, 0, 0)).toEqual([3, 0, 7]) // top-right corner comes to top-left
    expect(px(r, 2, 3)).toEqual([0, 2, 7])
  })
  it('rot180', () => expect(px(rot180(img), 0, 0)).toEqual([3, 2, 7]))
  it.each([90, 180, 270])('unrotatePoint inverts rotateClockwise(%d) for every pixel', (deg) => {
    const r = rotateClockwise(img, deg)
    for (let y = 0; y < r.height; y++)
      for (let x = 0; x < r.width; x++) {
        const [ox, oy] = unrotatePoint(x, y, deg, img.width, img.height)
        expect(px(img, ox, oy)).toEqual(px(r, x, y))
      }
  })
  it('rejects other angles', () => expect(() => rotateClockwise(img, 45)).toThrow(RangeError))
})

describe('padding', () => {
  it('borderColor is the per-channel median of the border', () => {
    const img = { data: new Uint8Array(5 * 5 * 3).fill(200), width: 5, height: 5 }
    img.data.set([0, 0, 0], 0) // one dark corner pixel does not move the median
    img.data.set([0, 0, 0], (2 * 5 + 2) * 3) // interior is ignored
    expect(borderColor(img)).toEqual([200, 200, 200])
  })
  it('padImage surrounds the image with the colour', () => {
    const p = padImage(coords(2, 2), 1, [9, 9, 9])
    expect([p.width, p.height]).toEqual([4, 4])
    expect(px(p, 0, 0)).toEqual([9, 9, 9])
    expect(px(p, 1, 1)).toEqual([0, 0, 7])
    expect(px(p, 2, 2)).toEqual([1, 1, 7])
  })
})

describe('linearTable (cv2 INTER_LINEAR)', () => {
  it('halving samples between source pixel pairs', () => {
    const t = linearTable(4, 2)
    expect([...t.i0]).toEqual([0, 2])
    expect([...t.w]).toEqual([0.5, 0.5])
  })
  it('upscaling clamps at the edges', () => {
    const t = linearTable(2, 4)
    expect([...t.i0]).toEqual([0, 0, 0, 1])
    expect([...t.w].map((v) => +v.toFixed(2))).toEqual([0, 0.25, 0.75, 0])
  })
})

describe('normalisation tables (PaddleOCR float32 arithmetic)', () => {
  // Digests and values computed with numpy 2.4 exactly as PaddleOCR does it:
  //   det (NormalizeImage): (img.astype('float32') * np.float32(1./255.) - mean_f32) / std_f32
  //   rec/cls (resize_norm_img): img.astype('float32') / 255; -= 0.5; /= 0.5
  // over every pixel value, tables of tensor channels 0, 1, 2 in a row, little-endian float32.
  const digest = (luts: readonly Float32Array[]): string => {
    const h = createHash('sha256')
    for (const t of luts) h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength))
    return h.digest('hex')
  }
  it('the detector table is NormalizeImage in float32, entry for entry', () => {
    expect(digest(DET_LAYOUT.luts)).toBe('000219c35056cdffe555889658a32cefce385fb2dfbd779a46c03f68e1daaf95')
    expect([DET_LAYOUT.luts[0]![0], DET_LAYOUT.luts[0]![1], DET_LAYOUT.luts[1]![77], DET_LAYOUT.luts[2]![255]]).toEqual([-2.1179039478302, -2.1007792949676514, -0.6876749992370605, 2.640000104904175])
  })
  it('the line models divide by 255 as PaddleOCR does (multiplying by 1/255 rounds differently)', () => {
    expect(digest(REC_LAYOUT.luts)).toBe('59e92db758d185f3e78b2d7a346580fc50ce7b0317d28f68f40ad10293501ab3')
    expect([0, 1, 3, 128, 255].map((v) => REC_LAYOUT.luts[0]![v])).toEqual([-1, -0.9921568632125854, -0.9764705896377563, 0.003921627998352051, 1])
    const multiplied = tensorLayout({ ...LEGACY_NORMS.line, divide: false })
    expect(digest(multiplied.luts)).not.toBe(digest(REC_LAYOUT.luts))
  })
})

describe('tensor packing', () => {
  it('det input: BGR order, ImageNet mean/std, CHW', () => {
    const img = { data: new Uint8Array([255, 0, 0]), width: 1, height: 1 } // pure red
    const t = packDetInput(img, 1, 1, DET_LAYOUT)
    expect(t[0]).toBeCloseTo((0 - 0.485) / 0.229, 5) // B plane
    expect(t[1]).toBeCloseTo((0 - 0.456) / 0.224, 5) // G plane
    expect(t[2]).toBeCloseTo((1 - 0.406) / 0.225, 5) // R plane
  })
  it('det input into a lent buffer: the same values, in its first 3·W·H entries; a short buffer is not used', () => {
    const img = { data: Uint8Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 37) & 255), width: 7, height: 5 }
    const fresh = packDetInput(img, 4, 3, DET_LAYOUT)
    const lent = new Float32Array(100).fill(99)
    const into = packDetInput(img, 4, 3, DET_LAYOUT, lent)
    expect(into.buffer).toBe(lent.buffer)
    expect(into.byteOffset).toBe(0)
    expect([...into]).toEqual([...fresh])
    expect(lent[36]).toBe(99) // past 3 · 4 · 3 nothing is written
    const short = new Float32Array(10)
    const other = packDetInput(img, 4, 3, DET_LAYOUT, short)
    expect(other.buffer).not.toBe(short.buffer)
    expect([...other]).toEqual([...fresh])
  })
  it('rec batch: height 48, ratio-preserving width, zero padding on the right, (x/255−0.5)/0.5', () => {
    const white = { data: new Uint8Array(20 * 10 * 3).fill(255), width: 20, height: 10 }
    expect(recResizedWidth(white, 48, 320)).toBe(96)
    const W = 320
    const t = packRecBatch([white], 48, W, REC_LAYOUT)
    expect(t).toHaveLength(3 * 48 * W)
    expect(t[0]).toBeCloseTo(1) // white → 1
    expect(t[95]).toBeCloseTo(1)
    expect(t[96]).toBe(0) // padding
    expect(t[2 * 48 * W + 47 * W + 95]).toBeCloseTo(1) // last row of the R plane
  })
  it('rec width is capped at W', () => {
    expect(recResizedWidth({ data: new Uint8Array(3000 * 3), width: 1000, height: 1 }, 48, 320)).toBe(320)
  })
})

describe('perspective crop (get_rotate_crop_image)', () => {
  it('perspectiveTransform maps the four points', () => {
    const src: [number, number][] = [[10, 10], [50, 12], [48, 30], [8, 28]]
    const dst: [number, number][] = [[0, 0], [40, 0], [40, 18], [0, 18]]
    const H = perspectiveTransform(src, dst)
    for (let i = 0; i < 4; i++) {
      const [x, y] = src[i]!
      const z = H[6]! * x + H[7]! * y + H[8]!
      expect((H[0]! * x + H[1]! * y + H[2]!) / z).toBeCloseTo(dst[i]![0], 6)
      expect((H[3]! * x + H[4]! * y + H[5]!) / z).toBeCloseTo(dst[i]![1], 6)
    }
  })
  it('an axis-aligned quad crops the same pixels', () => {
    const img = coords(30, 20)
    const crop = warpQuad(img, [[5, 4], [25, 4], [25, 14], [5, 14]])
    expect([crop.width, crop.height]).toEqual([20, 10])
    // dst (0,0) → src (5,4); dst (10,5) → src (15,9)
    expect(px(crop, 0, 0)).toEqual([5, 4, 7])
    expect(px(crop, 10, 5)).toEqual([15, 9, 7])
  })
  it('crop size is the longer of the opposite edges, truncated', () => {
    expect(cropSize([[0, 0], [10.9, 0], [10, 5], [0, 5.5]])).toEqual({ width: 10, height: 5 })
  })
  it('tall crops (h/w ≥ 1.5) are turned 90° counter-clockwise', () => {
    const { crop, turned } = cropText(coords(40, 40), [[10, 5], [20, 5], [20, 35], [10, 35]])
    expect(turned).toBe(true)
    expect([crop.width, crop.height]).toEqual([30, 10])
  })
})

describe('lineCrop (a line cropped a little past its box)', () => {
  const close = (q: Quad, want: Quad) => q.forEach((p, i) => p.forEach((v, k) => expect(v).toBeCloseTo(want[i]![k]!, 9)))
  it.each<[string, Quad, number, Quad]>([
    // a 100 × 20 line: 0.15 × 20 = 3 px more at each end, none across the text
    ['wide', [[10, 5], [110, 5], [110, 25], [10, 25]], 0.15, [[7, 5], [113, 5], [113, 25], [7, 25]]],
    // vertical text (h/w ≥ 1.5, turned by cropText): lengthened along its height by 0.5 × its width
    ['tall', [[10, 5], [20, 5], [20, 35], [10, 35]], 0.5, [[10, 0], [20, 0], [20, 40], [10, 40]]],
    // taller than wide but under 1.5: read unturned, so lengthened along its width
    ['near square', [[0, 0], [20, 0], [20, 25], [0, 25]], 0.2, [[-5, 0], [25, 0], [25, 25], [-5, 25]]],
    // tilted 3-4-5: 10 px more along the text (6, 8), nothing across it
    ['tilted', [[0, 0], [60, 80], [52, 86], [-8, 6]], 1, [[-6, -8], [66, 88], [58, 94], [-14, -2]]],
    ['margin 0: the box itself', [[10, 5], [110, 5], [110, 25], [10, 25]], 0, [[10, 5], [110, 5], [110, 25], [10, 25]]],
  ])('%s', (_, quad, margin, want) => close(lineCrop(quad, margin).quad, want))

  it('ends: the share of the crop past each end of the box', () => {
    // 100 px long, 3 px more at each end: the box spans [3, 103] of the 106 px crop
    expect(lineCrop([[10, 5], [110, 5], [110, 25], [10, 25]], 0.15).ends).toBeCloseTo(3 / 106, 12)
    // tall: 0.5 × 10 px more at each end of 30
    expect(lineCrop([[10, 5], [20, 5], [20, 35], [10, 35]], 0.5).ends).toBeCloseTo(5 / 40, 12)
    expect(lineCrop([[10, 5], [110, 5], [110, 25], [10, 25]], 0).ends).toBe(0)
  })

  it('keeps the turn cropText gives the box', () => {
    const img = coords(60, 60)
    for (const q of [[[10, 5], [20, 5], [20, 35], [10, 35]], [[5, 10], [35, 10], [35, 30], [5, 30]], [[0, 0], [20, 0], [20, 29], [0, 29]]] as Quad[]) {
      expect(cropText(img, lineCrop(q, 0.3).quad).turned).toBe(cropText(img, q).turned)
    }
  })

  it('the crop shows the pixels past the box’s end', () => {
    const img = coords(60, 30)
    const crop = warpQuad(img, lineCrop([[10, 5], [40, 5], [40, 15], [10, 15]], 0.5).quad)
    expect([crop.width, crop.height]).toEqual([40, 10])
    expect(px(crop, 0, 0)).toEqual([5, 5, 7])
    expect(px(crop, 39, 0)).toEqual([44, 5, 7])
  })
})

describe('lazy crops', () => {
  // a textured page (no pixel 0) and a tilted quad of large text: a 400×240 crop, shrunk to 48 px high
  const page: RgbImage = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 3) }
  for (let i = 0; i < page.data.length; i++) page.data[i] = 20 + Math.round(110 * (1 + Math.sin(i * 0.013) * Math.cos(i * 0.0007)))
  const quad: Quad = [[81.5, 100.2], [477.9, 61.7], [502.3, 300.1], [105.8, 343.6]]
  const eager = warpQuad(page, quad)

  it('pixels(rows, cols) computes exactly those pixels, with the eager values', () => {
    const rows = Int32Array.from([0, 1, 7, 50, eager.height - 1])
    const cols = Int32Array.from([0, 3, 100, eager.width - 1])
    const buf = lazyCrop(page, quad).pixels(rows, cols)
    const want = new Uint8Array(eager.data.length)
    for (const y of rows)
      for (const x of cols) {
        const i = (y * eager.width + x) * 3
        want.set(eager.data.subarray(i, i + 3), i)
      }
    expect(firstDiff(buf, want)).toBe(-1)
  })
  it('packs the same classifier and recogniser tensors as the eager crop, computing a fraction of it', () => {
    const lazy = lazyCrop(page, quad)
    const W = recResizedWidth(eager, 48, 2000)
    expect(firstDiff(packRecBatch([lazy], 48, 192, REC_LAYOUT), packRecBatch([eager], 48, 192, REC_LAYOUT))).toBe(-1)
    expect(firstDiff(packRecBatch([lazy], 48, W + 32, REC_LAYOUT), packRecBatch([eager], 48, W + 32, REC_LAYOUT))).toBe(-1)
    const buf = lazy.pixels(new Int32Array(0), new Int32Array(0))
    let computed = 0
    for (let i = 0; i < buf.length; i += 3) if (buf[i] !== 0) computed++
    // rows: ~2 of every 5 (48 of 240, two taps each); columns likewise
    expect(computed / (eager.width * eager.height)).toBeLessThan(0.25)
    expect(firstDiff(lazy.data, eager.data)).toBe(-1)
  })
  it('turned views are warped in their turned position', () => {
    expect(firstDiff(rot90ccw(lazyCrop(page, quad)).data, rot90ccw(eager).data)).toBe(-1)
    expect(firstDiff(rot180(lazyCrop(page, quad)).data, rot180(eager).data)).toBe(-1)
    expect(firstDiff(rot180(rot90ccw(lazyCrop(page, quad))).data, rot180(rot90ccw(eager)).data)).toBe(-1)
    const turned = rot90ccw(lazyCrop(page, quad))
    expect(firstDiff(packRecBatch([rot180(turned)], 48, 64, REC_LAYOUT), packRecBatch([rot180(rot90ccw(eager))], 48, 64, REC_LAYOUT))).toBe(-1)
  })
})

describe('decodeBmp', () => {
  function bmp24(w: number, h: number, pixel: (x: number, y: number) => [number, number, number], topDown = false): Uint8Array {
    const stride = Math.ceil((w * 3) / 4) * 4
    const b = new Uint8Array(54 + stride * h)
    const dv = new DataView(b.buffer)
    b.set([0x42, 0x4d])
    dv.setUint32(2, b.length, true)
    dv.setUint32(10, 54, true)
    dv.setUint32(14, 40, true)
    dv.setInt32(18, w, true)
    dv.setInt32(22, topDown ? -h : h, true)
    dv.setUint16(26, 1, true)
    dv.setUint16(28, 24, true)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const row = topDown ? y : h - 1 - y
        const [r, g, bl] = pixel(x, y)
        b.set([bl, g, r], 54 + row * stride + x * 3)
      }
    return b
  }
  it.each([false, true])('24-bit, top-down=%s, rows padded to 4 bytes', (topDown) => {
    const img = decodeBmp(bmp24(3, 2, (x, y) => [x * 10, y * 10, 99], topDown), 1e6)
    expect([img.width, img.height]).toEqual([3, 2])
    expect(px(img, 2, 1)).toEqual([20, 10, 99])
    expect(px(img, 0, 0)).toEqual([0, 0, 99])
  })
  it('truncated pixel data → UNDECODABLE_IMAGE', () => {
    expect(() => decodeBmp(bmp24(10, 10, () => [0, 0, 0]).subarray(0, 100), 1e6)).toThrow(expect.objectContaining({ code: 'UNDECODABLE_IMAGE' }))
  })
  it('too many pixels → IMAGE_TOO_LARGE before reading pixels', () => {
    expect(() => decodeBmp(bmp24(10, 10, () => [0, 0, 0]), 50)).toThrow(expect.objectContaining({ code: 'IMAGE_TOO_LARGE' }))
  })
})
