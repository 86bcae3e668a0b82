/**
 * Shared helpers for the format tests: a hand-made two-page result (CJK, ASCII, XML specials, an
 * astral character, a rotated line), xmllint wrappers, and text extraction with pdf.js.
 */
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs'
import type { OcrLine, OcrResult, PageResult, Point, Quad } from '../../src/types.js'

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

/** xmllint's complaints about `xml` ('' when well-formed). Never touches the network. */
export function xmllintErrors(xml: string, args: string[] = []): string {
  try {
    execFileSync('xmllint', ['--noout', '--nonet', ...args, '-'], { input: xml, stdio: ['pipe', 'pipe', 'pipe'] })
    return ''
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err)
  }
}

/** xmllint --xpath on `xml`: the string result ('' when the node set is empty). */
export function xpath(xml: string, expr: string): string {
  try {
    return execFileSync('xmllint', ['--nonet', '--xpath', expr, '-'], { input: xml, stdio: ['pipe', 'pipe', 'pipe'] }).toString().trim()
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '')
    if (/XPath set is empty/.test(stderr)) return ''
    throw err
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
  width: number
  height: number
  rotate: number
  items: TextItem[]
}

/** Every page's text runs, as pdf.js's getTextContent reports them (empty runs dropped). */
export async function extractPdf(bytes: Uint8Array): Promise<ExtractedPage[]> {
  const doc = await getDocument({ data: new Uint8Array(bytes), standardFontDataUrl, isEvalSupported: false, verbosity: 0 }).promise
  try {
    const pages: ExtractedPage[] = []
    for (let i = 1; i <= doc.numPages; i++) {
      const p = await doc.getPage(i)
      const [x0, y0, x1, y1] = p.view as [number, number, number, number]
      const content = await p.getTextContent()
      const items = content.items.flatMap((it) => ('str' in it && it.str.trim() !== '' ? [{ str: it.str, transform: it.transform as number[], width: it.width, height: it.height }] : []))
      pages.push({ width: x1 - x0, height: y1 - y0, rotate: p.rotate, items })
    }
    return pages
  } finally {
    await doc.destroy()
  }
}
