/**
 * The benchmark's images: a fixed subset of ../shared/eval-real (pages, scenes, line crops) plus
 * a few generated pages, and the scaling series (page size, line count). Generated files go to
 * .cache/bench/ and are rebuilt when the generator's version key changes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import sharp from 'sharp'
import { hasEvalReal } from './eval-real.js'
import { makeLine, type LineKind } from '../../test/fixtures/corpus.js'
import { type LineSpec, type PageSpec, measureInk, renderPage, writeSet, type SetName } from '../../test/fixtures/generate.js'
import { createRng } from '../../test/fixtures/prng.js'

export interface BenchImage {
  /** Short name for tables, e.g. "page/sroie_037.jpg". */
  name: string
  path: string
  kind: 'page' | 'scene' | 'line' | 'generated'
  width: number
  height: number
  bytes: number
}

/** The real subset: fixed so runs compare. `quick` marks the images --quick keeps. */
const REAL: readonly { image: string; quick?: true }[] = [
  // documents and screenshots (en receipts and scans, zh screenshots)
  { image: 'images/page/sroie_037.jpg' },
  { image: 'images/page/sroie_320.jpg', quick: true },
  { image: 'images/page/tesseract_phototest.png', quick: true },
  { image: 'images/page/tesseract_eurotext.png' },
  { image: 'images/page/sroie_065.jpg' },
  { image: 'images/page/easydict_ocr-zh-text-two-columns-2.png' },
  { image: 'images/page/easydict_ocr-zh-poetry-1.png', quick: true },
  { image: 'images/page/cnocr_multi-line_cn2.png' },
  // scene photos
  { image: 'images/scene/ic15_test_img_10.jpg', quick: true },
  { image: 'images/scene/ic15_test_img_203.jpg' },
  { image: 'images/scene/ic15_train_img_1.jpg' },
  { image: 'images/scene/rects_train_000003.jpg' },
  { image: 'images/scene/rects_train_000004.jpg' },
  { image: 'images/scene/easyocr_chinese.jpg', quick: true },
  // word and line crops
  { image: 'images/line/paddleocr_ch_word_3.jpg', quick: true },
  { image: 'images/line/rapidocr_en_rec.jpg', quick: true },
  { image: 'images/line/ic15_test_word_1.png', quick: true },
  { image: 'images/line/mmocr_rec_1036169.jpg' },
  { image: 'images/line/tesseractjs_simple.png' },
  { image: 'images/line/rapidocr_text_rec.jpg' },
]

/** Generated pages of the set: (set, count), the quick run keeps the first. */
const GENERATED: readonly { set: SetName; count: number }[] = [
  { set: 'clean', count: 2 },
  { set: 'small', count: 1 },
  { set: 'faint', count: 1 },
]
const GENERATED_SEED = 2024

/** Bump when the generated series change, so cached files are rebuilt. */
const CACHE_VERSION = 'bench-v1'

async function describe(name: string, path: string, kind: BenchImage['kind']): Promise<BenchImage> {
  const meta = await sharp(path).metadata()
  const width = meta.autoOrient?.width ?? meta.width ?? 0
  const height = meta.autoOrient?.height ?? meta.height ?? 0
  return { name, path, kind, width, height, bytes: readFileSync(path).length }
}

/** True when `dir` holds files of this CACHE_VERSION for `what` (a series name). */
function fresh(dir: string, what: string): boolean {
  const file = join(dir, `VERSION.${what}`)
  return existsSync(file) && readFileSync(file, 'utf8') === CACHE_VERSION
}

function stamp(dir: string, what: string): void {
  writeFileSync(join(dir, `VERSION.${what}`), CACHE_VERSION)
}

/** The benchmark set: real subset (when ../shared/eval-real exists) + generated pages. */
export async function loadBenchSet(evalReal: string, cache: string, quick: boolean): Promise<BenchImage[]> {
  const out: BenchImage[] = []
  if (hasEvalReal('benchmarking the generated pages only.', evalReal)) {
    for (const r of REAL) {
      if (quick && !r.quick) continue
      const path = join(evalReal, r.image)
      if (!existsSync(path)) throw new Error(`eval-real image missing: ${path}`)
      const kind = r.image.split('/')[1] as 'page' | 'scene' | 'line'
      out.push(await describe(r.image.replace(/^images\//, ''), path, kind))
    }
  }
  const dir = join(cache, 'generated')
  if (!fresh(dir, 'set')) {
    mkdirSync(dir, { recursive: true })
    for (const g of GENERATED) await writeSet(g.set, g.count, GENERATED_SEED, join(dir, g.set))
    stamp(dir, 'set')
  }
  for (const [gi, g] of GENERATED.entries()) {
    const count = quick ? (gi === 0 ? 1 : 0) : g.count
    for (let i = 0; i < count; i++) {
      const file = `${g.set}_${String(i).padStart(3, '0')}.png`
      out.push(await describe(`generated/${file}`, join(dir, g.set, 'images', file), 'generated'))
    }
  }
  return out
}

export function contentType(path: string): string {
  const ext = extname(path).toLowerCase()
  const types: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.bmp': 'image/bmp', '.tif': 'image/tiff', '.tiff': 'image/tiff', '.gif': 'image/gif' }
  return types[ext] ?? 'application/octet-stream'
}

// ---------------------------------------------------------------------------------------------
// Scaling series

export interface ScaledImage extends BenchImage {
  /** The series parameter: megapixels or line count. */
  param: number
  /** Lines drawn on the page (tiled: lines of the base page × tiles, cut lines included). */
  linesDrawn: number
}

const CJK_FONT = 'gen-noto-sans-sc'
const LATIN_FONT = 'gen-dejavu-sans'
const KINDS: readonly LineKind[] = ['zh', 'en', 'num', 'mixed']

/** `count` lines of `size` px text on a white `width`×`height` page, one per `pitch` px row. */
function textPageSpec(width: number, height: number, count: number, size: number, pitch: number, seed: number): PageSpec {
  const rng = createRng(seed)
  const margin = Math.round(size * 1.5)
  const lines: LineSpec[] = []
  for (let i = 0; lines.length < count; i++) {
    if (i > count * 20) throw new Error(`cannot fit ${count} lines of ${size}px on ${width}×${height}`)
    const text = makeLine(KINDS[i % KINDS.length]!, rng)
    if ([...text].length < 3) continue
    const font = /^[\x20-\x7e]*$/.test(text) ? LATIN_FONT : CJK_FONT
    const ink = measureInk(text, font, size)
    if (!ink || ink[2] - ink[0] > width - 2 * margin) continue
    const top = margin + lines.length * pitch
    if (top + pitch > height - margin / 2) throw new Error(`${count} lines of pitch ${pitch} do not fit a ${height}px page`)
    lines.push({ text, font, size, x: margin - ink[0], y: top - ink[1], color: 'rgb(20,20,20)' })
  }
  return { width, height, background: { kind: 'solid', color: '#ffffff' }, lines, tiltDeg: 0, rotation: 0, noise: { amplitude: 0, seed: 1 } }
}

/** Megapixels of the size series and the line counts of the line series. */
export const SIZE_SERIES_MP = [0.3, 1, 4, 12] as const
export const LINE_SERIES = [5, 20, 50] as const

/** 4:3 width×height with about `mp` megapixels. */
function sizeFor(mp: number): { width: number; height: number } {
  const height = Math.round(Math.sqrt((mp * 1e6 * 3) / 4))
  return { width: Math.round((height * 4) / 3), height }
}

/**
 * The size series, two ways: `upscaled` (one 0.3 MP page of 12 lines resized: same text, larger
 * glyphs) and `tiled` (the same page repeated: glyphs keep their size, text grows with the area).
 */
export async function sizeSeries(cache: string, how: 'upscaled' | 'tiled'): Promise<ScaledImage[]> {
  const dir = join(cache, 'scaling')
  mkdirSync(dir, { recursive: true })
  const base = sizeFor(SIZE_SERIES_MP[0])
  const baseLines = 12
  const basePath = join(dir, 'base.png')
  const rebuild = !fresh(dir, how)
  if (rebuild || !existsSync(basePath)) {
    writeFileSync(basePath, (await renderPage(textPageSpec(base.width, base.height, baseLines, 20, 34, 11))).png)
  }
  const out: ScaledImage[] = []
  for (const mp of SIZE_SERIES_MP) {
    const { width, height } = sizeFor(mp)
    const path = join(dir, `${how}_${mp}mp.png`)
    if (rebuild || !existsSync(path)) {
      const png =
        how === 'upscaled'
          ? await sharp(basePath).resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).png({ compressionLevel: 2 }).toBuffer()
          : await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
              .composite([{ input: basePath, tile: true, top: 0, left: 0 }])
              .png({ compressionLevel: 2 })
              .toBuffer()
      writeFileSync(path, png)
    }
    const tiles = how === 'tiled' ? (width * height) / (base.width * base.height) : 1
    out.push({ ...(await describe(`${how} ${mp} MP`, path, 'generated')), param: mp, linesDrawn: Math.round(baseLines * tiles) })
  }
  if (rebuild) stamp(dir, how)
  return out
}

/** Pages of one size (1000×1400) with 5, 20, 50 lines of 20 px text. */
export async function lineSeries(cache: string): Promise<ScaledImage[]> {
  const dir = join(cache, 'lines')
  mkdirSync(dir, { recursive: true })
  const rebuild = !fresh(dir, 'lines')
  const out: ScaledImage[] = []
  for (const n of LINE_SERIES) {
    const path = join(dir, `lines_${n}.png`)
    if (rebuild || !existsSync(path)) writeFileSync(path, (await renderPage(textPageSpec(1000, 1400, n, 20, 26, 100 + n))).png)
    out.push({ ...(await describe(`${n} lines`, path, 'generated')), param: n, linesDrawn: n })
  }
  if (rebuild) stamp(dir, 'lines')
  return out
}
