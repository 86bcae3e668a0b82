/**
 * A PDF page's own text layer as OCR-shaped lines: pdf.js text items (runs of text, each with its
 * baseline origin and direction in PDF user space) are merged into lines and boxed in the pixel
 * frame the page would be rendered in. Pure functions: the caller passes the items, the font
 * styles and the user-space → pixel mapping (the pdf.js viewport at the page's dpi, which
 * includes the page's /Rotate and its crop box).
 *
 * Words (asked for with `words`): a text item is a run of glyphs, often several words long, and
 * carries only its total width. Each character's place comes from the glyph that drew it: the
 * page's operator list replayed for the text state (glyphsFromOperators) gives every glyph's start
 * and advance, and the glyphs are matched to the items' characters in order. An item whose glyphs
 * cannot be matched, or do not span it (a Type 3 or vertical font, whose units the replay does not
 * know), has its characters spread evenly over its width instead.
 */
import { readingOrder } from '../geometry/reading-order.js'
import type { OcrLine, OcrWord, Point, Quad } from '../types.js'

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
  /** With words: where each character of `text` starts and ends along `dir` (null for whitespace). */
  places: ([number, number] | null)[] | null
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
  /** The page's glyphs (glyphsFromOperators): lines then carry their words. */
  glyphs?: readonly GlyphLike[],
): OcrLine[] {
  const matcher = glyphs ? new GlyphMatcher(glyphs) : null
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
    const places = matcher?.place(item, [e, f], dir, size) ?? null
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
        if (run.places && places) run.places.push(...(needSpace ? [null] : []), ...places.map((p) => (p ? ([p[0] + along, p[1] + along] as [number, number]) : null)))
        else run.places = null
        run.end = Math.max(run.end, along + item.width)
        run.top = Math.max(run.top, across + ascent * size)
        run.bottom = Math.min(run.bottom, across + descent * size)
        run.space = false
        if (item.hasEOL) flush()
        continue
      }
      flush()
    }
    cur = { origin: [e, f], dir, up, size, text: item.str, end: item.width, top: ascent * size, bottom: descent * size, space: false, places }
    if (item.hasEOL) flush()
  }
  flush()
  const lines = runs.map((r): OcrLine => {
    const at = (t: number, v: number): Point => {
      const [x, y] = toPixels(r.origin[0] + r.dir[0] * t + r.up[0] * v, r.origin[1] + r.dir[1] * t + r.up[1] * v)
      return [clamp(Math.round(x), width), clamp(Math.round(y), height)]
    }
    const quad = (t0: number, t1: number): Quad => [at(t0, r.top), at(t1, r.top), at(t1, r.bottom), at(t0, r.bottom)]
    const line: OcrLine = { text: r.text.trim().replace(/\s+/gu, ' '), score: 1, box: quad(0, r.end) }
    if (r.places) line.words = runWords(r.text, r.places, quad)
    return line
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

/** A glyph as the page's content draws it: its text, and its baseline from its origin to its advance's end (user space). */
export interface GlyphLike {
  unicode: string
  start: Point
  end: Point
}

/** CJK characters (and their full-width punctuation): each is a word of its own. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Bopomofo}\u3000-\u303f\uff00-\uffef]/u

/**
 * The line's words: runs of non-space characters, each CJK character a word of its own, boxed from
 * its first character's start to its last one's end across the line's height.
 */
function runWords(text: string, places: readonly ([number, number] | null)[], quad: (t0: number, t1: number) => Quad): OcrWord[] {
  const chars = Array.from(text)
  const words: OcrWord[] = []
  let word: { text: string; start: number; end: number } | null = null
  const close = () => {
    if (word) words.push({ text: word.text, score: 1, box: quad(word.start, Math.max(word.start, word.end)) })
    word = null
  }
  chars.forEach((ch, i) => {
    const p = places[i]
    if (!p || /\s/u.test(ch)) return close()
    if (word && (CJK.test(ch) || CJK.test(Array.from(word.text).pop()!))) close()
    if (word) {
      word.text += ch
      word.end = Math.max(word.end, p[1])
    } else word = { text: ch, start: p[0], end: p[1] }
  })
  close()
  return words
}

/** Glyphs looked ahead past ones that match no character (drawn off the page, invisible marks). */
const LOOKAHEAD = 8

/**
 * Matches text items' characters to the page's glyphs, in content order. A glyph whose text
 * normalises to several characters (a ligature) gives each an equal share of its advance.
 */
class GlyphMatcher {
  private next = 0
  private readonly texts: string[]
  constructor(private readonly glyphs: readonly GlyphLike[]) {
    this.texts = glyphs.map((g) => g.unicode.normalize('NFKC').replace(/\s+/gu, ''))
  }

  /**
   * Where each character of `item` starts and ends along `dir` from `origin` (null for whitespace):
   * from its glyph, or spread evenly over the item's width when the glyphs do not match it or do not
   * span it (to within a quarter of the font size).
   */
  place(item: TextItemLike, origin: Point, dir: Point, size: number): ([number, number] | null)[] {
    const chars = Array.from(item.str)
    const even = chars.map((ch, i): [number, number] | null => (/\s/u.test(ch) ? null : [(item.width * i) / chars.length, (item.width * (i + 1)) / chars.length]))
    const along = (p: Point): number => (p[0] - origin[0]) * dir[0] + (p[1] - origin[1]) * dir[1]
    let g = this.next
    let offset = 0 // characters of glyph g already given out
    const placed: ([number, number] | null)[] = []
    for (const ch of chars) {
      if (/\s/u.test(ch)) {
        placed.push(null)
        continue
      }
      const want = ch.normalize('NFKC')
      if (offset === 0 || !this.texts[g]!.startsWith(want, offset)) {
        if (offset > 0) g++
        offset = 0
        // whitespace glyphs (no text) are passed over freely, others up to LOOKAHEAD of them
        let skipped = 0
        while (g < this.glyphs.length && !this.texts[g]!.startsWith(want) && (this.texts[g] === '' || skipped++ < LOOKAHEAD)) g++
        if (g >= this.glyphs.length || !this.texts[g]!.startsWith(want)) return this.skip(chars, even)
      }
      const glyph = this.glyphs[g]!
      const t = this.texts[g]!
      const [s, e] = [along(glyph.start), along(glyph.end)]
      placed.push([s + ((e - s) * offset) / t.length, s + ((e - s) * (offset + want.length)) / t.length])
      offset += want.length
      if (offset >= t.length) {
        g++
        offset = 0
      }
    }
    const spans = placed.filter((p): p is [number, number] => p !== null)
    const tol = size / 4
    if (spans.length === 0 || Math.abs(spans[0]![0]) > tol || Math.abs(spans[spans.length - 1]![1] - item.width) > tol) return this.skip(chars, even)
    this.next = offset > 0 ? g + 1 : g
    return placed
  }

  /** Gives up on an item: its characters get `even`, and the search moves past about as many glyphs. */
  private skip(chars: readonly string[], even: ([number, number] | null)[]): ([number, number] | null)[] {
    let n = chars.filter((c) => !/\s/u.test(c)).length
    while (this.next < this.glyphs.length && n > 0) if (this.texts[this.next++] !== '') n--
    return even
  }
}

/** The pdf.js operator codes glyphsFromOperators reads (pdf.js's `OPS`). */
export type TextOps = Record<
  | 'save'
  | 'restore'
  | 'transform'
  | 'beginText'
  | 'setTextMatrix'
  | 'moveText'
  | 'setLeadingMoveText'
  | 'setLeading'
  | 'nextLine'
  | 'setFont'
  | 'setHScale'
  | 'setCharSpacing'
  | 'setWordSpacing'
  | 'setTextRise'
  | 'showText'
  | 'showSpacedText',
  number
>

type Matrix = [number, number, number, number, number, number]
/** m1 then m2, in PDF's row-vector convention (p · m1 · m2). */
const then = (m1: Matrix, m2: Matrix): Matrix => [
  m1[0] * m2[0] + m1[1] * m2[2],
  m1[0] * m2[1] + m1[1] * m2[3],
  m1[2] * m2[0] + m1[3] * m2[2],
  m1[2] * m2[1] + m1[3] * m2[3],
  m1[4] * m2[0] + m1[5] * m2[2] + m2[4],
  m1[4] * m2[1] + m1[5] * m2[3] + m2[5],
]
const apply = (m: Matrix, x: number, y: number): Point => [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]]

/**
 * Every glyph a page draws, where it draws it: pdf.js's operator list (fnArray, argsArray) replayed
 * for the text state — CTM, Tm, Td/TD/T*, TL, Tf, Tz, Tc, Tw, Ts and TJ adjustments — as PDF 32000
 * §9.4.4 advances the text matrix. Glyph widths are read in thousandths of an em, which holds for
 * every font but Type 3 (its own font matrix) and vertical writing.
 */
export function glyphsFromOperators(fnArray: readonly number[], argsArray: readonly unknown[], ops: TextOps): GlyphLike[] {
  const glyphs: GlyphLike[] = []
  let ctm: Matrix = [1, 0, 0, 1, 0, 0]
  const stack: Matrix[] = []
  let tm: Matrix = [1, 0, 0, 1, 0, 0]
  let tlm: Matrix = tm
  let size = 0
  let scale = 1
  let charSpacing = 0
  let wordSpacing = 0
  let rise = 0
  let leading = 0
  const moveLine = (tx: number, ty: number) => {
    tm = tlm = then([1, 0, 0, 1, tx, ty], tlm)
  }
  fnArray.forEach((fn, k) => {
    const args = (argsArray[k] ?? []) as unknown[]
    const nums = (): number[] => Array.from((args.length === 1 && typeof args[0] === 'object' ? args[0] : args) as ArrayLike<number>)
    switch (fn) {
      case ops.save:
        stack.push(ctm)
        break
      case ops.restore:
        ctm = stack.pop() ?? ctm
        break
      case ops.transform:
        ctm = then(nums() as Matrix, ctm)
        break
      case ops.beginText:
        tm = tlm = [1, 0, 0, 1, 0, 0]
        break
      case ops.setTextMatrix:
        tm = tlm = nums() as Matrix
        break
      case ops.moveText:
        moveLine(args[0] as number, args[1] as number)
        break
      case ops.setLeadingMoveText:
        leading = -(args[1] as number)
        moveLine(args[0] as number, args[1] as number)
        break
      case ops.setLeading:
        leading = args[0] as number
        break
      case ops.nextLine:
        moveLine(0, -leading)
        break
      case ops.setFont:
        size = args[1] as number
        break
      case ops.setHScale:
        scale = (args[0] as number) / 100
        break
      case ops.setCharSpacing:
        charSpacing = args[0] as number
        break
      case ops.setWordSpacing:
        wordSpacing = args[0] as number
        break
      case ops.setTextRise:
        rise = args[0] as number
        break
      case ops.showText:
      case ops.showSpacedText:
        for (const g of (args[0] ?? []) as ({ unicode: string; width: number; isSpace: boolean } | number | null)[]) {
          if (g === null) continue
          const advance = typeof g === 'number' ? (-g / 1000) * size * scale : ((g.width / 1000) * size + charSpacing + (g.isSpace ? wordSpacing : 0)) * scale
          if (typeof g !== 'number') {
            const m = then(tm, ctm)
            glyphs.push({ unicode: g.unicode, start: apply(m, 0, rise), end: apply(m, advance, rise) })
          }
          tm = then([1, 0, 0, 1, advance, 0], tm)
        }
        break
    }
  })
  return glyphs
}
