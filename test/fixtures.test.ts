import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, describe, expect, it } from 'vitest'
import { intersectionArea } from '../bench/lib/metrics.js'
import { loadCharset } from './fixtures/charset.js'
import { sampleAllTemplates } from './fixtures/corpus.js'
import { FONTS, fontsFor, missingGlyphs } from './fixtures/fonts.js'
import { buildSet, measureInk, type PageSpec, renderPage, type Rotation, rotatePoint, SET_NAMES, splitWords, writeSet } from './fixtures/generate.js'
import { createRng } from './fixtures/prng.js'

const charset = loadCharset()
const latinFonts = new Set(FONTS.filter((f) => f.script === 'latin').map((f) => f.alias))

async function rawPixels(png: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}

function inside([x, y]: [number, number], quad: [number, number][], pad: number): boolean {
  // Convex quad, clockwise in image coordinates (y down): the point is on the inner side of every edge.
  for (let i = 0; i < 4; i++) {
    const [ax, ay] = quad[i]
    const [bx, by] = quad[(i + 1) % 4]
    const len = Math.hypot(bx - ax, by - ay)
    const cross = ((bx - ax) * (y - ay) - (by - ay) * (x - ax)) / len
    if (cross < -pad) return false
  }
  return true
}

describe('test-page generator', () => {
  it('is deterministic: same seed, same bytes; another seed, other pages', async () => {
    const a = await renderPage(buildSet('faint', 1, 42)[0].spec)
    const b = await renderPage(buildSet('faint', 1, 42)[0].spec)
    const c = await renderPage(buildSet('faint', 1, 43)[0].spec)
    expect(a.png.equals(b.png)).toBe(true)
    expect(a.lines).toEqual(b.lines)
    expect(a.png.equals(c.png)).toBe(false)
  })

  it('page i does not depend on how many pages are built', () => {
    expect(buildSet('clean', 5, 9)[3]).toEqual(buildSet('clean', 4, 9)[3])
  })

  it.each(SET_NAMES.map((s) => [s]))('set %s: boxes inside the image, lines 3–30 chars, no overlapping boxes', async (name) => {
    for (const { spec } of buildSet(name, 3, 7)) {
      const page = await renderPage(spec)
      const meta = await sharp(page.png).metadata()
      expect([meta.width, meta.height]).toEqual([page.width, page.height])
      expect(page.lines.length).toBeGreaterThan(3)
      for (const line of page.lines) {
        expect([...line.text].length).toBeGreaterThanOrEqual(3)
        expect([...line.text].length).toBeLessThanOrEqual(30)
        for (const [x, y] of line.box) {
          expect(x).toBeGreaterThanOrEqual(0)
          expect(y).toBeGreaterThanOrEqual(0)
          expect(x).toBeLessThanOrEqual(page.width)
          expect(y).toBeLessThanOrEqual(page.height)
        }
      }
      for (let i = 0; i < page.lines.length; i++) {
        for (let j = i + 1; j < page.lines.length; j++) {
          expect(intersectionArea(page.lines[i].box, page.lines[j].box), `${page.lines[i].text} ∩ ${page.lines[j].text}`).toBe(0)
        }
      }
    }
  })

  it('uses the documented size ranges per set', () => {
    const ranges: Record<string, [number, number]> = { clean: [16, 40], small: [12, 16], rotated: [16, 48], tilted: [16, 48], faint: [16, 40], english: [16, 40], mixed: [16, 40], spacing: [16, 40] }
    for (const name of SET_NAMES) {
      for (const { spec } of buildSet(name, 4, 3)) {
        for (const line of spec.lines) {
          expect(line.size).toBeGreaterThanOrEqual(ranges[name][0])
          expect(line.size).toBeLessThanOrEqual(ranges[name][1])
        }
      }
    }
  })

  it('the rotated set turns whole pages by 90/180/270 and tilted pages by 2–6°', () => {
    expect(buildSet('rotated', 3, 1).map((p) => p.spec.rotation).sort()).toEqual([180, 270, 90])
    for (const { spec } of buildSet('tilted', 6, 1)) {
      expect(Math.abs(spec.tiltDeg)).toBeGreaterThanOrEqual(2)
      expect(Math.abs(spec.tiltDeg)).toBeLessThanOrEqual(6)
    }
  })

  it('GT boxes are tight: all ink lies in a box, and every box edge touches ink', async () => {
    const spec = buildSet('clean', 1, 11)[0].spec
    const page = await renderPage(spec)
    const { data, width, height } = await rawPixels(page.png)
    const quads = page.lines.map((l) => l.box as [number, number][])
    // The generator counts a pixel as ink from 25 % coverage; on white, with text grey level c,
    // that is a pixel value of at most 255 − 0.25·(255 − c).
    const textLevel = Number(/rgb\((\d+),/.exec(spec.lines[0].color)?.[1])
    expect(spec.lines.every((l) => l.color === spec.lines[0].color)).toBe(true)
    const inkMax = 255 - 0.25 * (255 - textLevel) - 1
    const touched = quads.map(() => [false, false, false, false])
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = data[(y * width + x) * 3]
        if (v > inkMax) continue // background or faint anti-aliasing
        const centre: [number, number] = [x + 0.5, y + 0.5]
        const owner = quads.findIndex((q) => inside(centre, q, 0.5))
        expect(owner, `dark pixel (${x}, ${y}) outside every box`).toBeGreaterThanOrEqual(0)
        const [[x0, y0], , [x1, y1]] = quads[owner]
        const t = touched[owner]
        if (centre[1] - y0 < 1.5) t[0] = true
        if (x1 - centre[0] < 1.5) t[1] = true
        if (y1 - centre[1] < 1.5) t[2] = true
        if (centre[0] - x0 < 1.5) t[3] = true
      }
    }
    touched.forEach((t, i) => expect(t, page.lines[i].text).toEqual([true, true, true, true]))
  })

  it.each([[90], [180], [270]] as [Rotation][])('rotation %i: pixels and boxes are the upright page turned clockwise', async (rotation) => {
    const upright: PageSpec = { ...buildSet('rotated', 1, 5)[0].spec, rotation: 0 }
    const base = await renderPage(upright)
    const turned = await renderPage({ ...upright, rotation })
    // Pixels: the same as rotating the upright image with sharp.
    const expected = await sharp(base.png).rotate(rotation).raw().toBuffer()
    const actual = await rawPixels(turned.png)
    expect(actual.data.equals(expected)).toBe(true)
    // Boxes: the upright boxes mapped through the rotation, same point order (text's top-left first).
    expect(turned.lines.map((l) => l.text)).toEqual(base.lines.map((l) => l.text))
    turned.lines.forEach((line, i) => {
      line.box.forEach((p, k) => {
        const q = rotatePoint(base.lines[i].box[k], base.width, base.height, rotation)
        expect(p[0]).toBeCloseTo(q[0], 1)
        expect(p[1]).toBeCloseTo(q[1], 1)
      })
    })
  })

  /** How far (px) a word's ink may fall from its box: see below. */
  const SLACK = 2.5
  it.each(['spacing', 'tilted'] as const)('%s: word boxes are tight: all ink of a line lies in its words’ boxes, and every word box edge touches ink', async (set) => {
    // page 1 of the spacing set has letter-spaced, tightly kerned and monospaced lines
    const spec = buildSet(set, 2, 1)[1]!.spec
    expect(set !== 'spacing' || spec.lines.some((l) => (l.letterSpacing ?? 0) > 0) && spec.lines.some((l) => (l.letterSpacing ?? 0) < 0)).toBe(true)
    const page = await renderPage({ ...spec, noise: { amplitude: 0, seed: 1 } })
    const { data, width, height } = await rawPixels(page.png)
    const textLevel = Number(/rgb\((\d+),/.exec(spec.lines[0]!.color)?.[1])
    const inkMax = 255 - 0.25 * (255 - textLevel) - 1
    const words = page.lines.flatMap((l) => l.words.map((w) => ({ line: l.text, ...w })))
    const touched = words.map(() => [false, false, false, false])
    // a word is rasterised alone at its place in the line; in a line drawn with a CJK font chain
    // (the npm fonts: a Chinese file and a second subset), digits and Latin letters of a word can
    // come out up to 2 px from where they fall alone (measured: `48.69` in `牛奶 1 x 48.69`, ink top
    // 757 against 755 alone; `75.19` one column wider): boxes hold the ink within SLACK px
    const pad = SLACK
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (data[(y * width + x) * 3]! > inkMax) continue
        const centre: [number, number] = [x + 0.5, y + 0.5]
        const owner = words.findIndex((w) => inside(centre, w.box as [number, number][], pad))
        expect(owner, `dark pixel (${x}, ${y}) outside every word box`).toBeGreaterThanOrEqual(0)
        if (set === 'tilted') continue
        const [[x0, y0], , [x1, y1]] = words[owner]!.box
        // and every edge of a box has ink within SLACK + 1 px of it (no box is loose)
        const t = touched[owner]!
        if (centre[1] - y0 < SLACK + 1) t[0] = true
        if (x1 - centre[0] < SLACK + 1) t[1] = true
        if (y1 - centre[1] < SLACK + 1) t[2] = true
        if (centre[0] - x0 < SLACK + 1) t[3] = true
      }
    }
    if (set !== 'tilted') touched.forEach((t, i) => expect(t, `${words[i]!.text} in ${words[i]!.line}`).toEqual([true, true, true, true]))
  })

  it.each([
    ['Amount received payment', ['Amount', 'received', 'payment']],
    ['No. 68590580', ['No.', '68590580']],
    ['根你只平强那相个 BOARDING324', ['根', '你', '只', '平', '强', '那', '相', '个', 'BOARDING324']],
    ['订单号：A18019803', ['订', '单', '号：', 'A18019803']],
    ['使用iPhone登录', ['使', '用', 'iPhone', '登', '录']],
    ['合计：12.50。', ['合', '计：', '12.50。']],
  ])('splitWords(%j)', (text, want) => {
    const words = splitWords(text)
    expect(words.map((w) => w.text)).toEqual(want)
    for (const w of words) expect(text.slice(w.start, w.start + w.text.length)).toBe(w.text)
  })

  it('lists box points clockwise from the text’s own top-left corner', async () => {
    for (const name of ['clean', 'tilted', 'rotated'] as const) {
      for (const { spec } of buildSet(name, 3, 2)) {
        const page = await renderPage(spec)
        const t = (spec.tiltDeg * Math.PI) / 180
        const r = (spec.rotation * Math.PI) / 180
        // The text's reading direction (top-left → top-right) after tilt and rotation.
        const dir = [Math.cos(t + r), Math.sin(t + r)]
        for (const { box } of page.lines) {
          const [p0, p1, , p3] = box
          const along = [p1[0] - p0[0], p1[1] - p0[1]]
          const down = [p3[0] - p0[0], p3[1] - p0[1]]
          const len = Math.hypot(along[0], along[1])
          expect((along[0] * dir[0] + along[1] * dir[1]) / len).toBeCloseTo(1, 3)
          // Clockwise in image coordinates (y down): "down" is "along" turned +90°.
          expect(along[0] * down[1] - along[1] * down[0]).toBeGreaterThan(0)
        }
      }
    }
  })

  it('every character of every line and template is in the recognizer charset', () => {
    const texts = [...sampleAllTemplates(createRng(1)), ...SET_NAMES.flatMap((s) => buildSet(s, 5, 1).flatMap((p) => p.spec.lines.map((l) => l.text)))]
    const missing = new Set<string>()
    for (const text of texts) for (const ch of text) if (ch !== ' ' && !charset.has(ch)) missing.add(ch)
    expect([...missing]).toEqual([])
  })

  it('draws lines in a Latin-only font only when they are plain ASCII (no tofu)', () => {
    for (const name of SET_NAMES) {
      for (const { spec } of buildSet(name, 5, 4)) {
        for (const line of spec.lines) if (latinFonts.has(line.font)) expect(line.text).toMatch(/^[\x20-\x7e]+$/)
      }
    }
  })

  it('every character of every line and template has a glyph in each font that may draw it', () => {
    const texts = [...sampleAllTemplates(createRng(1)), ...SET_NAMES.flatMap((s) => buildSet(s, 5, 1).flatMap((p) => p.spec.lines.map((l) => l.text)))]
    const missing = new Set<string>()
    for (const text of texts) {
      const fonts = /^[\x20-\x7e]*$/.test(text) ? FONTS : fontsFor('cjk')
      for (const f of fonts) for (const ch of missingGlyphs(f.alias, text)) missing.add(`${f.alias}: ${ch}`)
    }
    expect([...missing]).toEqual([])
  })

  it('refuses to draw a character its font lacks (no system fallback font, no tofu)', () => {
    expect(() => measureInk('价格 12', 'gen-arimo', 20)).toThrow(/gen-arimo \(@fontsource\/arimo\) has no glyph for "价" \(U\+4EF7\), "格" \(U\+683C\)/)
    // 𠀀 (U+20000, CJK Extension B) is in neither of Noto Sans SC's files
    expect(() => measureInk('一𠀀二', 'gen-noto-sans-sc', 20)).toThrow(/no glyph for "𠀀" \(U\+20000\)/)
    // ℃ is not in the chinese-simplified file but in the second one, so it is drawn from the same font
    expect(missingGlyphs('gen-noto-sans-sc', '温度 30℃')).toEqual([])
  })

  it('draws the same pixels on every machine: a page from the npm fonts has a fixed hash', async () => {
    // A change here means the pages changed (fonts, @napi-rs/canvas, the generator): re-measure the
    // thresholds that depend on them (test/engine/golden.test.ts, docs/ACCURACY.md).
    const page = await renderPage(buildSet('clean', 1, 1)[0].spec)
    const { data } = await rawPixels(page.png)
    expect(createHash('sha256').update(data).digest('hex').slice(0, 16)).toBe('365963366365b454')
  })

  describe('writeSet', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocrserve-gen-'))
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('writes images and labels.jsonl in the eval-real format', async () => {
      await writeSet('tilted', 2, 3, dir)
      const records = readFileSync(join(dir, 'labels.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
      expect(records).toHaveLength(2)
      for (const r of records) {
        expect(r).toMatchObject({ kind: 'page', gt_quality: 'exact', set: 'tilted', rotation: 0 })
        expect(['zh', 'en', 'mixed']).toContain(r.lang)
        expect(typeof r.source).toBe('string')
        const meta = await sharp(join(dir, r.image)).metadata()
        expect(meta.format).toBe('png')
        for (const line of r.lines) {
          expect(typeof line.text).toBe('string')
          expect(line.box).toHaveLength(4)
        }
      }
    })
  })
})
