/**
 * A PDF page's own text layer as OCR-shaped lines: pdf.js text items (runs of text, each with its
 * baseline origin and direction in PDF user space) are merged into lines and boxed in the pixel
 * frame the page would be rendered in. Pure functions: the caller passes the items, the font
 * styles and the user-space → pixel mapping (the pdf.js viewport at the page's dpi, which
 * includes the page's /Rotate and its crop box).
 */
import { readingOrder } from '../geometry/reading-order.js'
import type { OcrLine, Point, Quad } from '../types.js'

/** The fields of a pdf.js TextItem used here. */
export interface TextItemLike {
  str: string
  /** [a, b, c, d, e, f]: (a, b) the text direction × horizontal scale, (c, d) the up vector × font size, (e, f) the baseline origin. */
  transform: number[]
  /** Advance along the text direction, in user space. */
  width: number
  fontName: string
  hasEOL: boolean
}
/** The fields of a pdf.js TextStyle used here (ascent/descent as fractions of the font size). */
export interface TextStyleLike {
  ascent: number
  descent: number
}

/**
 * Fewest visible characters (letters, digits, punctuation, symbols; not U+FFFD) for a page's text
 * layer to count as real text under `pdfText: auto`. Below it the page is OCRed: a scan stamped
 * with a page number or a lone mark is still a scan.
 */
export const MIN_TEXT_CHARS = 4
/** Items merge into one line when their baselines are this close (× font size) across the line... */
export const SAME_LINE_ACROSS = 0.3
/** ...and the gap between them along it is at most this (× font size); more starts a new line (table columns). */
export const MAX_WORD_GAP = 1.0
/** A gap wider than this (× font size) between merged items reads as a space. */
export const SPACE_GAP = 0.15
/** Ascent/descent used when the font gives none. */
const DEFAULT_ASCENT = 0.8
const DEFAULT_DESCENT = -0.2

const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/gu

/** Visible characters in the items' text (U+FFFD, which unmappable glyphs become, not counted). */
export function visibleChars(items: readonly { str: string }[]): number {
  let n = 0
  for (const it of items) for (const m of it.str.matchAll(VISIBLE)) if (m[0] !== '\uFFFD') n++
  return n
}

export function hasRealText(items: readonly { str: string }[]): boolean {
  return visibleChars(items) >= MIN_TEXT_CHARS
}

interface Run {
  origin: Point
  /** Unit vector along the text, and the unit normal pointing up from the baseline. */
  dir: Point
  up: Point
  size: number
  text: string
  /** Extent along `dir` from the origin, and above/below the baseline along `up`. */
  end: number
  top: number
  bottom: number
  space: boolean
}

const dot = (a: Point, b: Point): number => a[0] * b[0] + a[1] * b[1]

/**
 * Lines from text items, in reading order, each with a quad in pixels (clockwise from the text's
 * top-left, clipped to the page), score 1. Consecutive items merge when they run the same way on
 * the same baseline with a small gap; an item ending a line (hasEOL) closes it.
 */
export function embeddedLines(
  items: readonly TextItemLike[],
  styles: Readonly<Record<string, TextStyleLike | undefined>>,
  toPixels: (x: number, y: number) => Point,
  width: number,
  height: number,
): OcrLine[] {
  const runs: Run[] = []
  let cur: Run | null = null
  const flush = () => {
    if (cur && cur.text.trim() !== '') runs.push(cur)
    cur = null
  }
  for (const item of items) {
    if (item.str.trim() === '') {
      // whitespace runs carry no geometry worth boxing; they separate words
      if (cur) cur.space = true
      if (item.hasEOL) flush()
      continue
    }
    const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0] = item.transform
    const scaleX = Math.hypot(a, b)
    const size = Math.hypot(c, d)
    if (scaleX === 0 || size === 0) continue
    const dir: Point = [a / scaleX, b / scaleX]
    const up: Point = [-dir[1], dir[0]]
    const style = styles[item.fontName]
    const ascent = style && style.ascent > 0 ? style.ascent : DEFAULT_ASCENT
    const descent = style && style.descent < 0 ? style.descent : DEFAULT_DESCENT
    const run: Run | null = cur
    if (run) {
      const delta: Point = [e - run.origin[0], f - run.origin[1]]
      const along = dot(delta, run.dir)
      const across = dot(delta, run.up)
      const em = Math.max(size, run.size)
      const gap = along - run.end
      if (dot(dir, run.dir) > 0.99 && Math.abs(across) <= SAME_LINE_ACROSS * em && gap >= -0.5 * em && gap <= MAX_WORD_GAP * em) {
        const needSpace = (run.space || gap > SPACE_GAP * em) && !/\s$/u.test(run.text) && !/^\s/u.test(item.str)
        run.text += (needSpace ? ' ' : '') + item.str
        run.end = Math.max(run.end, along + item.width)
        run.top = Math.max(run.top, across + ascent * size)
        run.bottom = Math.min(run.bottom, across + descent * size)
        run.space = false
        if (item.hasEOL) flush()
        continue
      }
      flush()
    }
    cur = { origin: [e, f], dir, up, size, text: item.str, end: item.width, top: ascent * size, bottom: descent * size, space: false }
    if (item.hasEOL) flush()
  }
  flush()
  const lines = runs.map((r): OcrLine => {
    const at = (t: number, v: number): Point => {
      const [x, y] = toPixels(r.origin[0] + r.dir[0] * t + r.up[0] * v, r.origin[1] + r.dir[1] * t + r.up[1] * v)
      return [clamp(Math.round(x), width), clamp(Math.round(y), height)]
    }
    const box: Quad = [at(0, r.top), at(r.end, r.top), at(r.end, r.bottom), at(0, r.bottom)]
    return { text: r.text.trim().replace(/\s+/gu, ' '), score: 1, box }
  })
  return readingOrder(lines.map((l) => l.box)).map((i) => lines[i]!)
}

/**
 * The clockwise rotation (0, 90, 180, 270) that would turn the lines upright, from their baselines'
 * directions in pixels weighted by length: what PageResult.rotation reports for an OCRed page
 * (text running down the page, on a page turned 90° clockwise, gives 270).
 */
export function linesRotation(lines: readonly OcrLine[]): number {
  const votes = [0, 0, 0, 0]
  for (const { box } of lines) {
    const dx = box[1][0] - box[0][0]
    const dy = box[1][1] - box[0][1]
    // baseline angle clockwise on screen, in quarter turns
    const quarter = ((Math.round(Math.atan2(dy, dx) / (Math.PI / 2)) % 4) + 4) % 4
    votes[quarter]! += Math.hypot(dx, dy)
  }
  const best = votes.indexOf(Math.max(...votes))
  return ((4 - best) % 4) * 90
}

const clamp = (v: number, max: number): number => Math.min(max, Math.max(0, v))
