/**
 * Shared helpers for the format tests: a hand-made two-page result (CJK, ASCII, XML specials, an
 * astral character, a rotated line), XML checks (libxml2 in WebAssembly), and text extraction with
 * pdf.js.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createCanvas } from '@napi-rs/canvas'
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs'
import { ParseOption, XmlAttribute, XmlDocument, XmlParseError } from 'libxml2-wasm'
import sharp from 'sharp'
import type { OcrLine, OcrResult, PageResult, Point, Quad } from '../../src/types.js'
import { fontCss } from '../fixtures/fonts.js'

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

export function page(n: number, width: number, height: number, lines: OcrLine[], extra: Partial<PageResult> = {}): PageResult {
  return { page: n, width, height, rotation: 0, lines, source: 'ocr', timing_ms: timing, ...extra }
}

export function result(pages: PageResult[]): OcrResult {
  const first = pages[0]!
  return { width: first.width, height: first.height, rotation: first.rotation, lines: first.lines, pages, timing_ms: timing }
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

