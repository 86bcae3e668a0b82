/**
 * Golden tests: real images committed under test/fixtures/real (see its SOURCES.md) scored against
 * their labels (bench/lib/metrics, the same scoring as `npm run eval`), and generated pages whose
 * every line and box is known.
 *
 * Each threshold is the value measured with the default settings (pages drawn with the npm fonts
 * of test/fixtures/fonts.ts) minus a small margin, so a change that reads worse fails; the measured
 * value is in the comment beside it.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { editDistance, matchLines, normalizeText, scoreRecord, summarize, type GtRecord, type RecordScore } from '../../bench/lib/metrics.js'
import { createOcr, type Ocr, type OcrResult } from '../../src/index.js'
import { buildSet, renderPage, type RenderedPage, type Rotation, type SetName } from '../fixtures/generate.js'

const REAL_DIR = fileURLToPath(new URL('../fixtures/real', import.meta.url))

let ocr: Ocr
beforeAll(async () => {
  // every read is queued at once (25 of them on 2 workers): the deadline, which counts time in the
  // queue, is set for a busy machine rather than the 30 s default (these tests measure accuracy)
  ocr = await createOcr({ workers: 2, timeoutMs: 600_000 })
})
afterAll(async () => ocr?.close())

/** Reads started once (all at once, the engine queues them) and shared by the tests. */
const started = new Map<string, Promise<OcrResult>>()
function readOnce(key: string, input: () => Promise<Buffer | string> | Buffer | string): Promise<OcrResult> {
  let p = started.get(key)
  if (!p) {
    p = Promise.resolve(input()).then((i) => ocr.read(i))
    started.set(key, p)
  }
  return p
}

const accuracy = (s: RecordScore): number => (s.gtChars === 0 ? 1 : 1 - s.charErrors / s.gtChars)

interface RealCase {
  image: string
  /** Minimum character accuracy of the record (measured value in the comment). */
  minAcc: number
  /** Box records: minimum detection recall / precision against the GT boxes. */
  minRecall?: number
  minPrecision?: number
  /** Box records: GT lines that must be found (IoU ≥ 0.5) and read exactly (after normalisation). */
  mustRead?: string[]
}

const REAL: RealCase[] = [
  // scans
  { image: 'page/tesseract_phototest.png', minAcc: 0.98 }, // measured 0.9956 (en, 8 lines; the final "." is dropped)
  { image: 'page/tesseract_eurotext.png', minAcc: 0.95 }, // measured 0.9712 (de/fr/it/es/pt: the Chinese model's charset has no accented letters, „ or «)
  // screenshots
  { image: 'page/cnocr_multi-line_cn1.png', minAcc: 0.95 }, // measured 0.9775 (zh; "--" read as "一一")
  { image: 'page/cnocr_multi-line_cn2.png', minAcc: 0.95 }, // measured 0.9710 (zh; the em dash read as "一—")
  { image: 'page/cnocr_multi-line_en_black.png', minAcc: 0.98 }, // measured 1.0 (en, 273 chars)
  { image: 'page/cnocr_multi-line_en_white.png', minAcc: 0.98 }, // measured 1.0 (en, 300 chars)
  // street photo: measured char acc 1.0, 8/8 GT lines matched, 0 false positives; one missed line allowed
  { image: 'scene/easyocr_chinese.jpg', minAcc: 0.95, minRecall: 0.87, minPrecision: 0.87, mustRead: ['愚园路', 'Yuyuan Rd.', '315'] },
  // line crops: each measured 1.0
  { image: 'line/rapidocr_en_rec.jpg', minAcc: 0.98 },
  { image: 'line/rapidocr_text_rec.jpg', minAcc: 0.98 },
  { image: 'line/rapidocr_text_cls.jpg', minAcc: 0.98 },
  { image: 'line/rapidocr_test_without_det.jpg', minAcc: 0.98 },
  { image: 'line/rapidocr_issue_170.png', minAcc: 0.98 },
  { image: 'line/rapidocr_black_font_color_transparent.png', minAcc: 0.98 }, // black text in the alpha channel
  { image: 'line/cnocr_helloworld.jpg', minAcc: 0.98 }, // mixed en/zh
  { image: 'line/tesseractjs_chinese.png', minAcc: 0.98 }, // traditional characters
  { image: 'line/tesseractjs_simple.png', minAcc: 0.98 },
  { image: 'line/tesseractjs_simple-90.jpg', minAcc: 0.98 }, // EXIF orientation 6
  { image: 'line/tesseractjs_simple-180.jpg', minAcc: 0.98 }, // EXIF orientation 3
  { image: 'line/tesseractjs_simple-270.jpg', minAcc: 0.98 }, // EXIF orientation 8
  { image: 'line/rapidocr_img_exif_orientation.jpg', minAcc: 0.98 }, // EXIF orientation 3
]

describe('golden: real images (test/fixtures/real) against labels.jsonl', () => {
  const records = new Map<string, GtRecord>()
  const scores: RecordScore[] = []
  const path = (image: string): string => `${REAL_DIR}/images/${image}`
  beforeAll(() => {
    for (const line of readFileSync(`${REAL_DIR}/labels.jsonl`, 'utf8').split('\n')) {
      if (!line.trim()) continue
      const r = JSON.parse(line) as GtRecord
      records.set(r.image.replace(/^images\//, ''), r)
    }
    for (const c of REAL) void readOnce(c.image, () => path(c.image)).catch(() => undefined)
    startGenerated()
  })

  it.each(REAL)('$image', async ({ image, minAcc, minRecall, minPrecision, mustRead }) => {
    const rec = records.get(image)
    expect(rec, `${image} in labels.jsonl`).toBeDefined()
    const r = await readOnce(image, () => path(image))
    const s = scoreRecord(rec!, r.lines)
    scores.push(s)
    expect(accuracy(s), JSON.stringify(s.errors.slice(0, 5))).toBeGreaterThanOrEqual(minAcc)
    for (const l of r.lines) {
      for (const [x, y] of l.box) {
        expect(x).toBeGreaterThanOrEqual(0)
        expect(y).toBeGreaterThanOrEqual(0)
        expect(x).toBeLessThanOrEqual(r.width)
        expect(y).toBeLessThanOrEqual(r.height)
      }
    }
    if (s.mode === 'box') {
      expect(s.tp / (s.tp + s.fn), 'recall').toBeGreaterThanOrEqual(minRecall ?? 0)
      expect(s.tp + s.fp === 0 ? 1 : s.tp / (s.tp + s.fp), 'precision').toBeGreaterThanOrEqual(minPrecision ?? 0)
      const m = matchLines(rec!.lines, r.lines, 0.5)
      const ci = rec!.gt_quality === 'case_insensitive'
      for (const want of mustRead ?? []) {
        const gi = rec!.lines.findIndex((l) => l.text === want)
        expect(gi, `GT line "${want}"`).toBeGreaterThanOrEqual(0)
        const match = m.matches.find((x) => x.gt === gi)
        expect(match, `"${want}" found with IoU ≥ 0.5`).toBeDefined()
        expect(normalizeText(r.lines[match!.pred]!.text, { caseInsensitive: ci })).toBe(normalizeText(want, { caseInsensitive: ci }))
      }
    }
  })

  it.each(['line/rapidocr_img_exif_orientation.jpg', 'line/tesseractjs_simple-90.jpg'])('the EXIF-rotated JPEG %s is read in its upright size', async (image) => {
    const meta = await sharp(path(image)).metadata()
    expect(meta.orientation).toBeGreaterThan(1)
    const r = await readOnce(image, () => path(image))
    expect([r.width, r.height]).toEqual([meta.autoOrient.width, meta.autoOrient.height])
  })

  it('all of them together', () => {
    // runs after the per-image tests (vitest runs a file's tests in order)
    expect(scores).toHaveLength(REAL.length)
    const sum = summarize(scores)
    expect(sum.charAccuracy).toBeGreaterThanOrEqual(0.98) // measured 0.9900 over these 20 records (1,501 GT characters)
  })
})

// ---------------------------------------------------------------------------------------------
// Generated pages (test/fixtures/generate.ts, seed 1): every line known, with its box.

interface GenCase {
  set: SetName
  index: number
  /** Lines kept from the top of the page (fewer lines, shorter test; the page keeps its size). */
  keep: number
}

const GENERATED: GenCase[] = [
  { set: 'clean', index: 1, keep: 8 },
  { set: 'clean', index: 2, keep: 8 },
  { set: 'rotated', index: 0, keep: 5 }, // turned 90° clockwise
  { set: 'rotated', index: 1, keep: 5 }, // 180°
  { set: 'rotated', index: 2, keep: 5 }, // 270°
]

async function generated(c: GenCase): Promise<RenderedPage & { rotation: Rotation }> {
  const page = buildSet(c.set, c.index + 1, 1)[c.index]!
  page.spec.lines = page.spec.lines.slice(0, c.keep)
  return { ...(await renderPage(page.spec)), rotation: page.spec.rotation }
}

const pages = new Map<string, Promise<RenderedPage & { rotation: Rotation }>>()
const key = (c: GenCase) => `${c.set}_${c.index}`
/** Renders the generated pages and queues their reads behind the real images'. */
function startGenerated(): void {
  for (const c of GENERATED) {
    const p = generated(c)
    pages.set(key(c), p)
    void readOnce(key(c), async () => (await p).png).catch(() => undefined)
  }
}

describe('golden: generated pages with known lines and boxes', () => {
  beforeAll(() => {
    if (pages.size === 0) startGenerated() // this block run alone (-t)
  })

  const read = async (c: GenCase) => {
    const page = (await pages.get(key(c)))!
    const r = await readOnce(key(c), () => page.png)
    const m = matchLines(page.lines.map((l) => ({ text: l.text, box: l.box })), r.lines.map((l) => ({ text: l.text, box: l.box })), 0.5)
    return { page, r, m }
  }

  /** Every line found (IoU ≥ 0.5), nothing extra, each read to within one character, boxes from the text's top-left. */
  const expectLinesRead = async (c: GenCase) => {
    const { page, r, m } = await read(c)
    expect([r.width, r.height]).toEqual([page.width, page.height])
    expect(m.missedGt.map((i) => page.lines[i]!.text), 'missed lines').toEqual([])
    expect(m.falsePositives.map((i) => r.lines[i]!.text), 'extra lines').toEqual([])
    let errors = 0
    let chars = 0
    for (const { gt, pred, iou } of m.matches) {
      const want = normalizeText(page.lines[gt]!.text)
      const got = normalizeText(r.lines[pred]!.text)
      const d = editDistance(want, got)
      // at most one character off per line (measured: a dropped final ".", "，" read "。", "℃" read "°℃")
      expect(d, `"${page.lines[gt]!.text}" read as "${r.lines[pred]!.text}" (IoU ${iou.toFixed(2)})`).toBeLessThanOrEqual(1)
      // boxes start at the text's own top-left corner: the first GT and predicted points are close
      // (measured: at most 10.6 px apart)
      const [gx, gy] = page.lines[gt]!.box[0]
      const [px, py] = r.lines[pred]!.box[0]
      expect(Math.hypot(gx - px, gy - py), `first point of "${page.lines[gt]!.text}"`).toBeLessThan(15)
      errors += d
      chars += [...want].length
    }
    // measured: 0.987–1.0 on each of these pages
    expect(1 - errors / chars).toBeGreaterThanOrEqual(0.97)
  }

  /** The rotation the engine applied is reported, and the lines come in the page's own order. */
  const expectOrientation = async (c: GenCase) => {
    const { page, r, m } = await read(c)
    // a page turned R° clockwise is turned back by (360 − R)°
    expect(r.rotation).toBe((360 - page.rotation) % 360)
    expect([...m.matches].sort((a, b) => a.pred - b.pred).map((x) => x.gt)).toEqual(page.lines.map((_, i) => i))
  }

  const name = (c: GenCase) => `${c.set} #${c.index}${c.set === 'rotated' ? ` (turned ${[90, 180, 270][c.index % 3]}°)` : ''}`
  for (const c of GENERATED) {
    it(`${name(c)}: every line found (IoU ≥ 0.5) and read`, () => expectLinesRead(c))
    it(`${name(c)}: rotation reported, lines in reading order`, () => expectOrientation(c))
  }
})
