/**
 * The invisible text layer of a searchable PDF page: content-stream operators that lay each word's
 * text over its own box, in the glyph-less font of glyphless-font.ts (blank glyphs; a ToUnicode CMap
 * carries the text).
 *
 * Words. Each word is one text object: the text matrix turns it to the word quad's direction with
 * its origin on the quad's bottom-left corner, the font size is the quad's height (the font's ascent
 * is one em, so a viewer's selection box covers the quad), and its glyphs share the quad's length.
 * The advance is carried by the glyphs' own widths: a code (CID) stands for a character at one width
 * (GlyphCodes), so the font has as many widths as the text needs and the horizontal scaling stays at
 * 100 %. (A Tz per word fits a word just as well, but pdf.js, reading a rotated line, compares the
 * positions of consecutive words through each one's horizontal scale, and a change of scale between
 * two words made it end the line there: a tilted line came out of pdf.js one word per line.)
 * A CJK character is a word of its own; its glyph reaches the next character's start, so the
 * characters of a CJK run abut and no extractor reads the gaps between their boxes as spaces. A word
 * the line's text follows with a space ends with a space glyph reaching the next word, so copy and
 * paste give the line's text with its spaces whatever gap heuristics a viewer uses. A line without
 * measured words is laid out as one word: its whole text spread evenly over its quad.
 *
 * Lines poppler would cut. Poppler (pdftotext, Evince, Okular) builds a line from words whose
 * baselines lie within half the font size of the first word's, measured along the page's y axis (x
 * for vertical text), breaks a word wherever its baseline moves by half a point, and starts a new
 * column at a gap wider than 0.7 to 1 font size. A tilted line drifts by its length × sin(angle):
 * 3.5° over a line twenty heights long is 1.2 heights, so poppler cut such lines into fragments (one
 * character each on steep lines) and read them out of order, bottom to top; a monospaced line's
 * word gaps look like column gaps to it. Lines that drift further than MAX_POPPLER_DRIFT × their
 * height, or have a gap wider than MAX_POPPLER_GAP × their height, are wrapped in a marked-content
 * span with /ActualText (PDF 32000 §14.9.4, replacement text) holding the line's text: poppler reads
 * the span as one word from the line's start to its end, and keeps the line whole and in order.
 * Such a line is drawn as ONE text object along the line (the glyphs still start where their words
 * are), because PDFium (Chrome) hands a span's text to the text objects inside it one by one and,
 * for tilted lines, repeated the line for every word. pdf.js ignores ActualText and reads every word
 * at its own place; viewers that honour it (Acrobat, PDFium, poppler) select such a line as a whole.
 */
import type { OcrLine, Point, Quad } from '../types.js'
import { lineFrame } from './geometry.js'
import { lineWords } from './words.js'

/**
 * Largest drift of a line's baseline across the page's nearest axis, as a fraction of its height,
 * that poppler still reads as one line without ActualText (its own limit is 0.5 from the first
 * word's baseline; the margin keeps rounding and uneven word boxes on the safe side).
 */
export const MAX_POPPLER_DRIFT = 0.4
/**
 * Widest space between two words, as a fraction of their height, that poppler still reads as a gap
 * within the line. Measured with pdftotext 22.12: gaps up to 0.9 stay in the line, 1.0 starts a new
 * column (a monospaced font's space with its side bearings comes close to that).
 */
export const MAX_POPPLER_GAP = 0.8
/** Narrowest space glyph written between two words, as a fraction of the font size. */
const MIN_SPACE = 0.1
/** Glyph widths are rounded to steps of this ratio (2 %): each step of a character costs a code. */
const WIDTH_STEP = 1.02
/** The rounding of widths may move a glyph this far (1/1000 em) from its place before a TJ number corrects it. */
const MAX_DRIFT = 5
/** Codes available: 2-byte CIDs, 0 being .notdef. */
const MAX_CIDS = 0xfffe

/** Maps page-image pixels to PDF user space (points, y up). */
export type PixelMap = (p: Point) => Point

/**
 * The codes (CIDs) of one document's text layer: a code per character and glyph width (in 1/1000
 * em, rounded to WIDTH_STEP), shared by every page. The font's /W array gives each code its width
 * and the ToUnicode CMap its character.
 */
export class GlyphCodes {
  private readonly byKey = new Map<string, number>()
  /** Per code (index = CID − 1): its code point and width. */
  private readonly codes: { cp: number; width: number }[] = []
  /** Widths already coded for each code point, for when the codes run out. */
  private readonly widthsOf = new Map<number, number[]>()

  /**
   * The code for code point `cp` at about `width` (1/1000 em), and the width it has. Once every code
   * is taken, the code point's nearest coded width; undefined when it has none.
   */
  code(cp: number, width: number): { cid: number; width: number } | undefined {
    const w = Math.max(1, Math.round(WIDTH_STEP ** Math.round(Math.log(Math.max(1, width)) / Math.log(WIDTH_STEP))))
    const key = `${cp}:${w}`
    const known = this.byKey.get(key)
    if (known !== undefined) return { cid: known, width: w }
    if (this.codes.length >= MAX_CIDS) {
      const widths = this.widthsOf.get(cp)
      if (!widths) return undefined
      const nearest = widths.reduce((a, b) => (Math.abs(b - width) < Math.abs(a - width) ? b : a))
      return { cid: this.byKey.get(`${cp}:${nearest}`)!, width: nearest }
    }
    this.codes.push({ cp, width: w })
    const cid = this.codes.length
    this.byKey.set(key, cid)
    this.widthsOf.set(cp, [...(this.widthsOf.get(cp) ?? []), w])
    return { cid, width: w }
  }
  get size(): number {
    return this.codes.length
  }
  /** The CIDFont's /W array: widths from CID 1 on. */
  widths(): number[] {
    return this.codes.map((c) => c.width)
  }
  /** The ToUnicode CMap program. */
  toUnicode(): string {
    const entries = this.codes.map((c, i) => `<${hex4(i + 1)}> <${utf16Hex(String.fromCodePoint(c.cp))}>`)
    const blocks: string[] = []
    for (let i = 0; i < entries.length; i += 100) {
      const chunk = entries.slice(i, i + 100)
      blocks.push(`${chunk.length} beginbfchar\n${chunk.join('\n')}\nendbfchar`)
    }
    return [
      '/CIDInit /ProcSet findresource begin',
      '12 dict begin',
      'begincmap',
      '/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def',
      '/CMapName /Adobe-Identity-UCS def',
      '/CMapType 2 def',
      '1 begincodespacerange',
      '<0000> <FFFF>',
      'endcodespacerange',
      ...blocks,
      'endcmap',
      'CMapName currentdict /CMap defineresource pop',
      'end',
      'end',
      '',
    ].join('\n')
  }
}

const hex4 = (v: number): string => v.toString(16).padStart(4, '0')

/** UTF-16BE code units as hex (an astral character is a surrogate pair). */
function utf16Hex(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) out += hex4(s.charCodeAt(i))
  return out
}

const num = (v: number): string => {
  const s = v.toFixed(3)
  return s.includes('.') ? s.replace(/\.?0+$/, '') || '0' : s
}

/** Glyphs along one baseline in user space: one text object. */
interface Piece {
  /** The first glyph's origin, and the unit vector along the baseline. */
  origin: Point
  dir: Point
  /** Font size: the height of the box the glyphs cover. */
  size: number
  /** Each character, and how far along `dir` the next one starts (the last: where the piece ends). */
  glyphs: { ch: string; advance: number }[]
}

const mid = (a: Point, b: Point): Point => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]

/**
 * One word's piece: its characters spread evenly from its quad's left edge to its right edge, or to
 * where `joined` (the next word, which the text writes without a space) starts, so a run of CJK
 * characters abuts; then, when `spaced` (the next word, after a space) is given, a space glyph
 * reaching it. Quads in user space; null for a degenerate quad.
 */
function wordPiece(text: string, q: Quad, joined: Quad | null, spaced: Quad | null): Piece | null {
  const { dir, height } = lineFrame(q)
  const along = (p: Point): number => (p[0] - q[3][0]) * dir[0] + (p[1] - q[3][1]) * dir[1]
  const startOf = (w: Quad): number => along(mid(w[0], w[3]))
  const start = startOf(q)
  const end = joined ? startOf(joined) : along(mid(q[1], q[2]))
  const chars = Array.from(text)
  if (chars.length === 0 || !(height > 0) || !(end > start)) return null
  const glyphs = chars.map((ch) => ({ ch, advance: (end - start) / chars.length }))
  if (spaced) glyphs.push({ ch: ' ', advance: Math.max(MIN_SPACE * height, startOf(spaced) - end) })
  return { origin: [q[3][0] + dir[0] * start, q[3][1] + dir[1] * start], dir, size: height, glyphs }
}

/**
 * The line's pieces in user space: one per measured word, or its whole text over its quad (also
 * when a word's quad is degenerate, or overlaps the next one's start: its text must not be lost).
 */
function linePieces(line: OcrLine, map: PixelMap): Piece[] {
  const toUser = (q: Quad): Quad => q.map(map) as Quad
  const words = lineWords(line)
  const pieces = words?.map((w, k) => {
    const next = words[k + 1]
    const nextQuad = next ? toUser(next.quad) : null
    return wordPiece(w.text, toUser(w.quad), next && !next.spaceBefore ? nextQuad : null, next?.spaceBefore ? nextQuad : null)
  })
  if (pieces && pieces.every((p) => p !== null)) return pieces as Piece[]
  const whole = wordPiece(line.text, toUser(line.box), null, null)
  return whole ? [whole] : []
}

/**
 * True when poppler would cut the line: its words' bottom corners (the line's, without words) spread
 * across the nearest page axis by more than MAX_POPPLER_DRIFT × the smallest word height, or a space
 * between two words is wider than MAX_POPPLER_GAP × that height. Pixels of the page as displayed,
 * which is poppler's frame too.
 */
export function popplerSplits(line: OcrLine): boolean {
  const words = lineWords(line)
  const quads = words?.map((w) => w.quad) ?? [line.box]
  const { dir } = lineFrame(line.box)
  const axis = Math.abs(dir[0]) >= Math.abs(dir[1]) ? 1 : 0 // horizontal text: poppler's baseline is y
  let lo = Infinity
  let hi = -Infinity
  let height = Infinity
  for (const q of quads) {
    for (const p of [q[2], q[3]]) {
      lo = Math.min(lo, p[axis])
      hi = Math.max(hi, p[axis])
    }
    height = Math.min(height, lineFrame(q).height)
  }
  if (hi - lo > MAX_POPPLER_DRIFT * height) return true
  const along = (p: Point): number => p[0] * dir[0] + p[1] * dir[1]
  return (words ?? []).some((w, k) => {
    const prev = words![k - 1]
    return prev !== undefined && w.spaceBefore && along(mid(w.quad[0], w.quad[3])) - along(mid(prev.quad[1], prev.quad[2])) > MAX_POPPLER_GAP * height
  })
}

/**
 * The pieces of a line as one piece along the line: from the first piece's origin towards the last
 * one's end, at their mean height, every glyph starting where its own piece puts it.
 */
function joinPieces(pieces: readonly Piece[]): Piece {
  const first = pieces[0]!
  const last = pieces[pieces.length - 1]!
  const lastLength = last.glyphs.reduce((s, g) => s + g.advance, 0)
  const end: Point = [last.origin[0] + last.dir[0] * lastLength, last.origin[1] + last.dir[1] * lastLength]
  const length = Math.hypot(end[0] - first.origin[0], end[1] - first.origin[1])
  const dir: Point = length > 0 ? [(end[0] - first.origin[0]) / length, (end[1] - first.origin[1]) / length] : first.dir
  const along = (p: Point): number => (p[0] - first.origin[0]) * dir[0] + (p[1] - first.origin[1]) * dir[1]
  const placed: { ch: string; start: number; advance: number }[] = []
  for (const p of pieces) {
    let at = along(p.origin)
    for (const g of p.glyphs) {
      placed.push({ ch: g.ch, start: at, advance: g.advance })
      at += g.advance
    }
  }
  // each glyph reaches the next one's start (never backwards: overlapping words keep their order)
  const glyphs = placed.map((g, i) => ({ ch: g.ch, advance: Math.max(0, (placed[i + 1]?.start ?? g.start + g.advance) - g.start) }))
  const size = pieces.reduce((s, p) => s + p.size, 0) / pieces.length
  return { origin: first.origin, dir, size, glyphs }
}

/**
 * One piece as `Tf Tm [...] TJ`, or '' when none of its characters has a code. Each glyph's code
 * carries its advance; a TJ number after a glyph corrects what the rounding of widths left over.
 */
function showPiece(p: Piece, font: string, codes: GlyphCodes): string {
  const parts: string[] = []
  let hex = ''
  let drift = 0 // where the pen is, minus where the next glyph starts (1/1000 em)
  for (const g of p.glyphs) {
    const want = (1000 * g.advance) / p.size
    const code = codes.code(g.ch.codePointAt(0)!, want)
    if (!code) {
      drift -= want // a character without a code: the next one still starts where it belongs
      continue
    }
    if (Math.abs(drift) >= MAX_DRIFT && hex) {
      parts.push(`<${hex}>`, num(drift))
      hex = ''
      drift = 0
    }
    hex += hex4(code.cid)
    drift += code.width - want
  }
  if (!hex) return ''
  parts.push(`<${hex}>`)
  const [dx, dy] = p.dir
  return `${font} ${num(p.size)} Tf ${num(dx)} ${num(dy)} ${num(-dy)} ${num(dx)} ${num(p.origin[0])} ${num(p.origin[1])} Tm [${parts.join(' ')}] TJ`
}

/** The content stream that draws `lines` invisibly with font resource `font` ('' when there is nothing to draw). */
export function textLayerContent(lines: readonly OcrLine[], map: PixelMap, codes: GlyphCodes, font: string): string {
  const ops: string[] = []
  for (const line of lines) {
    const pieces = linePieces(line, map)
    if (pieces.length === 0) continue
    if (popplerSplits(line)) {
      const joined = joinPieces(pieces)
      const shown = showPiece(joined, font, codes)
      if (shown) ops.push(`/Span <</ActualText <FEFF${utf16Hex(joined.glyphs.map((g) => g.ch).join(''))}>>> BDC`, shown, 'EMC')
    } else {
      ops.push(...pieces.map((p) => showPiece(p, font, codes)).filter(Boolean))
    }
  }
  return ops.length > 0 ? `BT\n3 Tr\n${ops.join('\n')}\nET\n` : ''
}
