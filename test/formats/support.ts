/**
 * Shared helpers for the format tests: a hand-made two-page result (CJK, ASCII, XML specials, an
 * astral character, a rotated line), rendered pages whose lines carry word boxes (tilted as asked),
 * XML checks (libxml2 in WebAssembly), and text extraction with pdf.js (text runs, and every glyph's
 * place).
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createCanvas } from '@napi-rs/canvas'
import { getDocument, OPS } from 'pdfjs-dist/legacy/build/pdf.mjs'
import { ParseOption, XmlAttribute, XmlDocument, XmlParseError } from 'libxml2-wasm'
import sharp from 'sharp'
import { glyphsFromOperators, type GlyphLike } from '../../src/document/text-layer.js'
import type { OcrLine, OcrResult, OcrWord, PageResult, Point, Quad } from '../../src/types.js'
import { fontCss } from '../fixtures/fonts.js'
import { renderPage as renderSetPage } from '../fixtures/generate.js'

const timing = { decode: 1, det: 2, cls: 3, rec: 4, total: 10 }

/** An axis-aligned quad, clockwise from top-left. */
export const rect = (x: number, y: number, w: number, h: number): Quad => [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]

/** A w×h rectangle turned `deg` degrees counter-clockwise (as seen on the image) about its top-left corner (x, y). */
export function rotatedRect(x: number, y: number, w: number, h: number, deg: number): Quad {
  const a = (deg * Math.PI) / 180
  const along: Point = [Math.cos(a), -Math.sin(a)] // image y points down
  const down: Point = [Math.sin(a), Math.cos(a)]
  const p = (u: number, v: number): Point => [x + along[0] * u + down[0] * v, y + along[1] * u + down[1] * v]
  return [p(0, 0), p(w, 0), p(w, h), p(0, h)]
}

/**
 * A line of words laid one after another along a direction: each part is [text, width, gap, joined]
 * in pixels, `gap` the room before the word, `joined` true for a word the line's text writes without
 * a space before it (a CJK character), all `h` high, the whole turned `deg` degrees counter-clockwise
 * about its top-left corner (x, y). Word k's score is 0.5 + 0.05 k; the line's box spans its words.
 */
export function wordLine(parts: readonly (readonly [string, number, number, boolean?])[], x: number, y: number, h: number, deg = 0): OcrLine {
  const a = (deg * Math.PI) / 180
  const along: Point = [Math.cos(a), -Math.sin(a)]
  let offset = 0
  let text = ''
  const words = parts.map(([t, w, gap, joined], k): OcrWord => {
    offset += k === 0 ? 0 : gap
    text += (k > 0 && !joined ? ' ' : '') + t
    const box = rotatedRect(x + along[0] * offset, y + along[1] * offset, w, h, deg)
    offset += w
    return { text: t, box, score: 0.5 + 0.05 * k }
  })
  return { text, score: 0.9, box: rotatedRect(x, y, offset, h, deg), words }
}

export function page(n: number, width: number, height: number, lines: OcrLine[], extra: Partial<PageResult> = {}): PageResult {
  return { page: n, width, height, rotation: 0, lines, source: 'ocr', timing_ms: timing, ...extra }
}

export function result(pages: PageResult[]): OcrResult {
  const first = pages[0]!
  return { model: 'builtin', width: first.width, height: first.height, rotation: first.rotation, lines: first.lines, pages, timing_ms: timing }
}

/** Two pages: ASCII with XML specials, Chinese, a 30° line; page 2 with an astral character and an empty page-2 neighbour. */
export function sampleResult(): OcrResult {
  return result([
    page(1, 800, 600, [
      { text: 'Tom & Jerry <say> "hi" \'there\'', score: 0.987, box: rect(40, 50, 600, 40) },
      { text: '你好，世界 OCR 2024', score: 0.912, box: rect(40, 120, 420, 44) },
      { text: 'tilted line', score: 0.5, box: rotatedRect(100, 400, 300, 30, 30) },
    ]),
    page(2, 640, 480, [{ text: '𠀀 astral 😀', score: 0.75, box: rect(20, 30, 300, 36) }]),
  ])
}

/** Parses `xml` with libxml2 (WebAssembly: no system xmllint, no network, no external DTDs). */
function parseXml(xml: string): XmlDocument {
  return XmlDocument.fromString(xml, { option: ParseOption.XML_PARSE_NONET })
}

/** libxml2's complaints about `xml`, one per line ('' when well-formed), as `xmllint --noout` gives them. */
export function xmlErrors(xml: string): string {
  try {
    parseXml(xml).dispose()
    return ''
  } catch (err) {
    if (!(err instanceof XmlParseError)) throw err
    return err.details.map((d) => `${d.line}:${d.col}: ${d.message.trim()}`).join('\n') || err.message
  }
}

/**
 * An XPath 1.0 expression evaluated on `xml`, as `xmllint --xpath` prints it: a string or number
 * as such, a node set as its nodes serialised one after another (attributes as name="value"),
 * '' for an empty node set.
 */
export function xpath(xml: string, expr: string): string {
  const doc = parseXml(xml)
  try {
    const v = doc.eval(expr)
    if (!Array.isArray(v)) return String(v).trim()
    return v.map((n) => (n instanceof XmlAttribute ? `${n.name}="${n.value}"` : n.toString())).join(' ')
  } finally {
    doc.dispose()
  }
}

const pdfjsDir = dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'))
export const standardFontDataUrl = join(pdfjsDir, 'standard_fonts') + '/'

export interface TextItem {
  str: string
  /** The text matrix of the run in user space: [a, b, c, d, e, f] (e, f: the origin). */
  transform: number[]
  width: number
  height: number
}

export interface ExtractedPage {
  /** The page's view (CropBox) in user space: [x0, y0, x1, y1]. */
  view: number[]
  rotate: number
  /** All runs joined, a newline where pdf.js ends a line. */
  text: string
  /** The runs holding visible characters. */
  items: TextItem[]
}

async function openPdf(bytes: Uint8Array) {
  return getDocument({ data: new Uint8Array(bytes), standardFontDataUrl, isEvalSupported: false, verbosity: 0 }).promise
}

/** Every page's text runs, as pdf.js's getTextContent reports them. */
export async function extractPdf(bytes: Uint8Array): Promise<ExtractedPage[]> {
  const doc = await openPdf(bytes)
  try {
    const pages: ExtractedPage[] = []
    for (let i = 1; i <= doc.numPages; i++) {
      const p = await doc.getPage(i)
      const content = await p.getTextContent()
      let text = ''
      const items: TextItem[] = []
      for (const it of content.items) {
        if (!('str' in it)) continue
        text += it.str + (it.hasEOL ? '\n' : '')
        if (it.str.trim() !== '') items.push({ str: it.str, transform: it.transform as number[], width: it.width, height: it.height })
      }
      pages.push({ view: [...p.view], rotate: p.rotate, text, items })
    }
    return pages
  } finally {
    await doc.destroy()
  }
}

/** Page `n` (1-based) rasterised by pdf.js at `dpi` (its /Rotate applied): RGBA pixels. */
export async function rasterPdfPage(bytes: Uint8Array, n: number, dpi: number): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
  const doc = await openPdf(bytes)
  try {
    const p = await doc.getPage(n)
    const viewport = p.getViewport({ scale: dpi / 72 })
    const canvas = createCanvas(Math.round(viewport.width), Math.round(viewport.height))
    const ctx = canvas.getContext('2d')
    await p.render({ canvas: canvas as never, canvasContext: ctx as never, viewport }).promise
    return { data: ctx.getImageData(0, 0, canvas.width, canvas.height).data, width: canvas.width, height: canvas.height }
  } finally {
    await doc.destroy()
  }
}

/**
 * Checks that pdf.js finds `line` where it should: a run starting within `tol` points of the
 * quad's bottom-left corner mapped by `map`, and the runs along that baseline ending within `tol`
 * of its bottom-right corner, with a height within `tol` of the quad's.
 */
export function expectPlaced(items: readonly TextItem[], line: OcrLine, map: (p: Point) => Point, tol = 1): void {
  const [tl, , br, bl] = line.box.map(map) as Quad
  const dx = br[0] - bl[0]
  const dy = br[1] - bl[1]
  const len = Math.hypot(dx, dy)
  const along = (p: number[]): number => ((p[0]! - bl[0]) * dx + (p[1]! - bl[1]) * dy) / len
  const off = (p: number[]): number => Math.abs((p[0]! - bl[0]) * dy - (p[1]! - bl[1]) * dx) / len
  const onLine = items.filter((it) => off(it.transform.slice(4)) < tol && along(it.transform.slice(4)) > -tol && along(it.transform.slice(4)) < len + tol)
  if (onLine.length === 0) throw new Error(`no text run on the baseline of "${line.text}"`)
  const start = Math.min(...onLine.map((it) => along(it.transform.slice(4))))
  const end = Math.max(...onLine.map((it) => along(it.transform.slice(4)) + it.width))
  if (Math.abs(start) > tol || Math.abs(end - len) > tol) throw new Error(`"${line.text}": runs span ${start.toFixed(2)}..${end.toFixed(2)} pt, expected 0..${len.toFixed(2)}`)
  const height = Math.hypot(tl[0] - bl[0], tl[1] - bl[1])
  for (const it of onLine) if (Math.abs(it.height - height) > tol) throw new Error(`"${line.text}": run height ${it.height}, expected ${height}`)
}

export interface Drawn {
  png: Buffer
  rgb: Buffer
  lines: OcrLine[]
}

/** A white page (fonts: registerFonts() from test/fixtures/fonts.ts first) with each text drawn in black at (x, baseline y); each line's quad from the font's measured extent. */
export function drawPage(width: number, height: number, texts: { text: string; x: number; y: number; size: number; deg?: number }[]): Promise<Drawn> {
  const canvas = createCanvas(width, height)
  const ctx = canvas.getContext('2d')
  ctx.fillStyle = '#fff'
  ctx.fillRect(0, 0, width, height)
  ctx.fillStyle = '#000'
  const lines: OcrLine[] = []
  for (const t of texts) {
    ctx.font = fontCss('gen-noto-sans-sc', t.size, t.text)
    const w = ctx.measureText(t.text).width
    const deg = t.deg ?? 0
    ctx.save()
    ctx.translate(t.x, t.y)
    ctx.rotate((-deg * Math.PI) / 180)
    ctx.fillText(t.text, 0, 0)
    ctx.restore()
    // the quad's top-left is one em above the baseline start, turned with the text
    const a = (deg * Math.PI) / 180
    const top: Point = [t.x - Math.sin(a) * t.size, t.y - Math.cos(a) * t.size]
    lines.push({ text: t.text, score: 0.9, box: rotatedRect(top[0], top[1], w, t.size * 1.25, deg) })
  }
  const png = canvas.toBuffer('image/png')
  return sharp(png).removeAlpha().raw().toBuffer().then((raw) => ({ png, rgb: raw, lines }))
}


export type PlacedGlyph = GlyphLike

/**
 * Every glyph of every page where pdf.js's parser puts it: the page's operator list replayed for the
 * text state (glyphsFromOperators, the replay ocrserve uses for born-digital pages; its own tests
 * check it against pdf.js's text items).
 */
export async function pdfGlyphs(bytes: Uint8Array): Promise<PlacedGlyph[][]> {
  const doc = await openPdf(bytes)
  try {
    const pages: PlacedGlyph[][] = []
    for (let i = 1; i <= doc.numPages; i++) {
      const { fnArray, argsArray } = await (await doc.getPage(i)).getOperatorList()
      pages.push(glyphsFromOperators(fnArray, argsArray, OPS))
    }
    return pages
  } finally {
    await doc.destroy()
  }
}

/** Inside the convex quad q (either winding), within `tol`. */
export function insideQuad(p: Point, q: Quad, tol = 0): boolean {
  const signs = q.map((a, i) => {
    const b = q[(i + 1) % 4]!
    const len = Math.hypot(b[0] - a[0], b[1] - a[1])
    return ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])) / len
  })
  return signs.every((d) => d >= -tol) || signs.every((d) => d <= tol)
}

export interface WordsPage {
  png: Buffer
  width: number
  height: number
  lines: OcrLine[]
}

/**
 * A white page with one line per text (24 px, 64 px apart), tilted `tiltDeg` degrees clockwise by
 * the test-page generator; every line carries its words as OcrLine.words would: a Latin word per
 * space-separated run, each CJK character its own word. A word's box spans the line's full height
 * and its own ink along the line (each word is drawn on its own where the whole line would put it,
 * so the generator measures its ink); the line's box spans all its words.
 */
export async function wordsPage(texts: readonly string[], tiltDeg: number, font = 'gen-noto-sans-sc', size = 24): Promise<WordsPage> {
  const measure = createCanvas(1, 1).getContext('2d')
  measure.font = fontCss(font, size, texts.join(""))
  const drawn: { text: string; line: number; x: number; y: number }[] = []
  texts.forEach((text, line) => {
    let offset = 0
    for (const part of text.split(/(\s+)/u)) {
      if (part.trim() === '') {
        offset += measure.measureText(part).width
        continue
      }
      // a Latin run is one word; each Han character is its own
      for (const w of part.split(/(\p{Script=Han})/u).filter(Boolean)) {
        drawn.push({ text: w, line, x: 40 + Math.round(offset), y: 60 + line * 64 })
        offset += measure.measureText(w).width
      }
    }
  })
  const page = await renderSetPage({
    width: 900,
    height: 60 + texts.length * 64,
    background: { kind: 'solid', color: '#fff' },
    lines: drawn.map((d) => ({ text: d.text, font, size, x: d.x, y: d.y, color: '#000' })),
    tiltDeg,
    rotation: 0,
    noise: { amplitude: 0, seed: 1 },
  })
  const lines = texts.map((text, i): OcrLine => {
    const own = drawn.flatMap((d, k) => (d.line === i ? [{ text: d.text, ink: page.lines[k]!.box as Quad }] : []))
    // the line's frame: along its first word's top edge, across its normal
    const [tl, tr] = own[0]!.ink
    const len = Math.hypot(tr[0] - tl[0], tr[1] - tl[1])
    const dir: Point = [(tr[0] - tl[0]) / len, (tr[1] - tl[1]) / len]
    const along = (p: Point): number => (p[0] - tl[0]) * dir[0] + (p[1] - tl[1]) * dir[1]
    const across = (p: Point): number => -(p[0] - tl[0]) * dir[1] + (p[1] - tl[1]) * dir[0]
    const all = own.flatMap((w) => w.ink)
    const top = Math.min(...all.map(across))
    const bottom = Math.max(...all.map(across))
    const at = (a: number, n: number): Point => [tl[0] + dir[0] * a - dir[1] * n, tl[1] + dir[1] * a + dir[0] * n]
    const box = (a0: number, a1: number): Quad => [at(a0, top), at(a1, top), at(a1, bottom), at(a0, bottom)]
    const words: OcrWord[] = own.map((w, k) => ({ text: w.text, score: 0.8 + 0.01 * (k % 10), box: box(Math.min(...w.ink.map(along)), Math.max(...w.ink.map(along))) }))
    return { text, score: 0.9, box: box(Math.min(...all.map(along)), Math.max(...all.map(along))), words }
  })
  return { png: page.png, width: page.width, height: page.height, lines }
}
