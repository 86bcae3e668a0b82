import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { contrastingBackground, flattenAlpha } from '../../src/image/alpha.js'
import { decodeImage } from '../../src/image/decode.js'

type Rgba = [number, number, number, number]

/** A w×h RGBA image of `bg` with a w/2 × h/2 block of `ink` in the middle. */
function block(w: number, h: number, bg: Rgba, ink: Rgba): Uint8Array {
  const d = new Uint8Array(w * h * 4)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = x >= w / 4 && x < (3 * w) / 4 && y >= h / 4 && y < (3 * h) / 4
      d.set(inside ? ink : bg, (y * w + x) * 4)
    }
  }
  return d
}

const CLEAR_WHITE: Rgba = [255, 255, 255, 0]
const CLEAR_BLACK: Rgba = [0, 0, 0, 0]

describe('contrastingBackground', () => {
  it.each<[string, Rgba, Rgba, 0 | 255]>([
    ['black ink on transparency', CLEAR_WHITE, [0, 0, 0, 255], 255],
    ['white ink on transparency', CLEAR_WHITE, [255, 255, 255, 255], 0],
    ['white ink, transparent pixels stored black', CLEAR_BLACK, [255, 255, 255, 255], 0],
    ['yellow ink (light: luma 226)', CLEAR_BLACK, [255, 255, 0, 255], 0],
    ['red ink (dark: luma 76)', CLEAR_WHITE, [255, 0, 0, 255], 255],
    ['half-transparent white ink still counts as the content (α 128)', CLEAR_WHITE, [255, 255, 255, 128], 0],
    ['fully opaque image (a screenshot with an alpha channel): white', [255, 255, 255, 255], [250, 250, 250, 255], 255],
    ['fully transparent image: white', CLEAR_WHITE, [255, 255, 255, 10], 255],
  ])('%s → %d', (_name, bg, ink, want) => {
    expect(contrastingBackground(block(8, 6, bg, ink), 8, 6)).toBe(want)
  })

  it('decides from the edges of the content, not its inside: a light box outlined in black on transparency → white', () => {
    // 10×10 transparent; an opaque 6×6 box whose 1-px rim is black and whose inside is white
    const w = 10
    const d = new Uint8Array(w * w * 4)
    for (let y = 2; y < 8; y++) {
      for (let x = 2; x < 8; x++) {
        const rim = x === 2 || x === 7 || y === 2 || y === 7
        d.set(rim ? [0, 0, 0, 255] : [255, 255, 255, 255], (y * w + x) * 4)
      }
    }
    expect(contrastingBackground(d, w, w)).toBe(255)
  })
})

describe('flattenAlpha', () => {
  it('composites c·α + bg·(1 − α) per channel, rounding', () => {
    const px = new Uint8Array([200, 100, 0, 255, 200, 100, 0, 0, 200, 100, 0, 51])
    expect([...flattenAlpha(px, 3, 1, 255).data]).toEqual([200, 100, 0, 255, 255, 255, 244, 224, 204])
    expect([...flattenAlpha(px, 3, 1, 0).data]).toEqual([200, 100, 0, 0, 0, 0, 40, 20, 0])
  })

  it('chooses the background itself: white ink comes out white on black', () => {
    const img = flattenAlpha(block(8, 6, CLEAR_WHITE, [255, 255, 255, 255]), 8, 6)
    expect([img.width, img.height]).toEqual([8, 6])
    expect([...img.data.subarray(0, 3)]).toEqual([0, 0, 0]) // corner: background
    expect([...img.data.subarray((3 * 8 + 4) * 3, (3 * 8 + 4) * 3 + 3)]).toEqual([255, 255, 255]) // centre: ink
  })

  it('gives what sharp.flatten gives on the same background (within 1 level)', async () => {
    const w = 16
    const d = new Uint8Array(w * w * 4)
    for (let i = 0; i < w * w; i++) d.set([(i * 37) & 255, (i * 11) & 255, (i * 5) & 255, (i * 13) & 255], i * 4)
    for (const bg of [0, 255]) {
      const ours = flattenAlpha(d, w, w, bg).data
      const theirs = await sharp(d, { raw: { width: w, height: w, channels: 4 } })
        .flatten({ background: { r: bg, g: bg, b: bg } })
        .raw()
        .toBuffer()
      let worst = 0
      for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!))
      expect(worst).toBeLessThanOrEqual(1)
    }
  })
})

describe('decodeImage with alpha', () => {
  const decodeOne = async (png: Buffer) => (await decodeImage(png, { maxPixels: 1e6 })).pages[0]!
  const pixel = (img: { data: Uint8Array; width: number }, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)]

  it.each<[string, Rgba, number[], number[]]>([
    ['white on transparency: flattened on black', [255, 255, 255, 255], [0, 0, 0], [255, 255, 255]],
    ['black on transparency: flattened on white', [0, 0, 0, 255], [255, 255, 255], [0, 0, 0]],
  ])('%s (8-bit RGBA PNG)', async (_name, ink, wantBg, wantInk) => {
    const png = await sharp(block(8, 8, CLEAR_WHITE, ink), { raw: { width: 8, height: 8, channels: 4 } }).png().toBuffer()
    const img = await decodeOne(png)
    expect(pixel(img, 0, 0)).toEqual(wantBg)
    expect(pixel(img, 4, 4)).toEqual(wantInk)
  })

  it('16-bit grey + alpha PNG with light ink: flattened on black', async () => {
    const w = 8
    const ga = new Uint16Array(w * w * 2)
    for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) ga.set([65535, 65535], (y * w + x) * 2)
    const png = await sharp(ga, { raw: { width: w, height: w, channels: 2 } }).toColourspace('grey16').png().toBuffer()
    expect((await sharp(png).metadata()).depth).toBe('ushort')
    const img = await decodeOne(png)
    expect(pixel(img, 0, 0)).toEqual([0, 0, 0])
    expect(pixel(img, 3, 3)).toEqual([255, 255, 255])
  })

  it('an opaque RGBA image keeps its own pixels', async () => {
    const d = block(8, 8, [250, 240, 230, 255], [10, 20, 30, 255])
    const png = await sharp(d, { raw: { width: 8, height: 8, channels: 4 } }).png().toBuffer()
    const img = await decodeOne(png)
    expect(pixel(img, 0, 0)).toEqual([250, 240, 230])
    expect(pixel(img, 4, 4)).toEqual([10, 20, 30])
  })
})
