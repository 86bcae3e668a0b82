/**
 * Words from the recogniser's output: where each character sits in the line, the spaces the
 * recogniser did not emit, punctuation width, and word boxes. Pure functions on the decoded
 * characters (rec-ctc.ts, with their CTC steps) and the line's ink (image/ink.ts), all in the
 * pixels of the recogniser's input; pipeline/line-frame.ts maps them to the image.
 *
 * Why: PP-OCRv4's Chinese recogniser seldom emits its space class between Latin words, so
 * "Amount received" reads "Amountreceived". Its CTC steps say where each character fired, and the
 * line's ink says where the glyphs are: a word ends where the gap is wide for this line.
 *
 * The rule (docs/WORDS.md has the measurements behind every number). Between two characters
 * the recogniser read without a space:
 * - never next to CJK punctuation or a full-width form, and never between two CJK characters;
 * - a CJK character next to a Latin one: a space when the gap is wider than 0.3 text heights;
 * - Latin text, by the line's kind. Its pitch (distance between neighbouring glyphs' centres) is
 *   regular in a monospaced line (receipts) and its gaps are regular in a proportional one:
 *   - monospaced (the pitch of letter pairs varies by < 5 % of the pitch, median deviation): a
 *     space where the pitch is ≥ 1.4 × the line's median pitch (an empty cell) and the gap
 *     ≥ 0.2 heights, or the gap alone ≥ 0.6 heights; a narrow glyph ('.', '1', 'i') leaves wide
 *     gaps in a monospaced line, so the gap alone is not enough there;
 *   - proportional: a space where the gap is ≥ 0.35 heights;
 *   - too few letter pairs to tell (numbers, short lines): as proportional on a page whose lines
 *     are proportional; otherwise a space where the gap is ≥ 0.3 heights and the pitch ≥ 1.3 ×
 *     the median (lines of 5 characters or more), or the gap alone ≥ 0.65 heights;
 * - letter-spaced text (`T H E  S H E L L I N G`): in a line with 3 or more pairs of adjacent
 *   letters, a gap threshold above is raised to at least the median gap of those pairs plus 0.2
 *   heights (proportional), 0.35 (monospaced: its 0.6 test) or 0.15 (CJK next to Latin, and the
 *   unknown line's 0.3 test); the monospaced pitch test and the unknown line's 0.65 stay as they are.
 * Spaces the recogniser emitted are kept; none is added at either end, none doubled.
 */
import { inkCut, inkReach, inkRows, type LineInk } from '../image/ink.js'
import type { CtcChar } from './rec-ctc.js'

/** Han, kana, hangul: scripts written without spaces between words. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u
/** CJK symbols and punctuation, full-width forms: they carry their own spacing. */
const CJK_PUNCTUATION = /[\u3000-\u303f\uff00-\uffef]/u
const LETTER = /^[A-Za-z]$/
/** Full-width ASCII forms (U+FF01–FF5E) are their ASCII counterparts shifted by this. */
const FULL_WIDTH_OFFSET = 0xfee0

/** Spacing thresholds, in text heights (LineInk.height) or as ratios of the line's median pitch. */
export const SPACING = {
  cjkLatinGap: 0.3,
  monoPitch: 1.4,
  monoPitchGap: 0.2,
  monoGap: 0.6,
  proportionalGap: 0.35,
  unknownGap: 0.3,
  unknownPitch: 1.3,
  unknownMinChars: 5,
  unknownWideGap: 0.65,
  /** A line is monospaced when the median deviation of its letter pairs' pitch is below this share of the pitch. */
  monoDeviation: 0.05,
  /** Letter pairs (gap below `innerGap`) needed to tell a line's kind. */
  minLetterPairs: 4,
  innerGap: 0.3,
  /** A page is proportional when at most this share of its lines of known kind are monospaced (and ≥ 3 are known). */
  proportionalPageShare: 0.2,
  /** A line's first and last glyphs reach outwards over gaps narrower than this (heights). */
  edgeGap: 0.15,
  /**
   * Letter-spaced text: a space must also be this much wider (heights) than the line's median gap
   * between adjacent letters (when it has at least `minLetterGaps` of them); beside a CJK
   * character, and in lines of unknown kind, `trackedUnknown`; in monospaced ones, `trackedMono`.
   */
  tracked: 0.2,
  trackedUnknown: 0.15,
  trackedMono: 0.35,
  minLetterGaps: 3,
} as const

export type LineKind = 'monospaced' | 'proportional' | 'unknown'

/** What a character is, for the spacing and word rules. */
export type CharKind = 'cjk' | 'cjkPunctuation' | 'letter' | 'punctuation' | 'other'

/** CJK (Han, kana, hangul), CJK punctuation and full-width forms, ASCII letters, other punctuation and symbols, the rest (digits …). */
export function charKind(text: string): CharKind {
  if (isCjk(text)) return 'cjk'
  if (CJK_PUNCTUATION.test(text)) return 'cjkPunctuation'
  if (LETTER.test(text)) return 'letter'
  if (/^[\p{P}\p{S}]$/u.test(text)) return 'punctuation'
  return 'other'
}

/** A character of a line, placed in the recogniser's input (columns, rec-input pixels). */
export interface PlacedChar {
  text: string
  kind: CharKind
  prob: number
  /** Where its CTC steps fired (centre column). */
  centre: number
  /** Its ink: from the cut before it to the cut after it. */
  x0: number
  x1: number
}

/** A line's characters (spaces the recogniser emitted left out) and the measurements the spacing rule reads. */
export interface LineLayout {
  chars: PlacedChar[]
  /** modelSpace[i]: the recogniser emitted a space before chars[i]. */
  modelSpace: boolean[]
  /** gap[i]: the ink gap before chars[i], in text heights (0 for i = 0). */
  gap: number[]
  /** pitch[i]: distance between the ink centres of chars[i − 1] and chars[i], as a share of the line's median pitch. */
  pitch: number[]
  kind: LineKind
  /** Median gap between adjacent letters (text heights); 0 with fewer than SPACING.minLetterGaps. */
  letterGap: number
  ink: LineInk
}

export interface LayoutOptions {
  /** Full-width punctuation inside Latin text written as ASCII. */
  asciiPunctuation: boolean
}

const isCjk = (s: string): boolean => CJK.test(s)

/**
 * Full-width forms (`（ ） ： ， ；` …) whose nearest characters on both sides (punctuation and
 * spaces skipped) are not CJK, as their ASCII forms: "（CO.REG:933109-X)" → "(CO.REG:933109-X)",
 * while "合计：12.50" keeps its "：".
 */
export function asciiPunctuation(texts: readonly string[]): string[] {
  const neighbour = (i: number, step: -1 | 1): string | undefined => {
    for (let j = i + step; j >= 0 && j < texts.length; j += step) {
      const t = texts[j]!
      if (t.trim() === '' || CJK_PUNCTUATION.test(t) || /^\p{P}$/u.test(t)) continue
      return t
    }
    return undefined
  }
  const latin = texts.map((t, i) => {
    const code = t.length === 1 ? t.charCodeAt(0) : 0
    if (code < 0xff01 || code > 0xff5e) return false
    const before = neighbour(i, -1)
    const after = neighbour(i, 1)
    return (before === undefined || !isCjk(before)) && (after === undefined || !isCjk(after))
  })
  // a pair of brackets keeps one width: "电话（01）", not "电话（01)"
  const open: number[] = []
  texts.forEach((t, i) => {
    const pair = BRACKETS.indexOf(t)
    if (pair < 0) return
    if (pair % 2 === 0) open.push(i)
    else if (open.length > 0) {
      const j = open.pop()!
      if (BRACKETS.indexOf(texts[j]!) === pair - 1 && latin[i] !== latin[j]) latin[i] = latin[j] = false
    }
  })
  return texts.map((t, i) => (latin[i] ? String.fromCharCode(t.charCodeAt(0) - FULL_WIDTH_OFFSET) : t))
}

/** Opening and closing full-width brackets, in pairs. */
const BRACKETS = ['（', '）', '［', '］', '｛', '｝', '＜', '＞']

function median(values: readonly number[]): number {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  return s[s.length >> 1]!
}

/** A decoded line's characters as read: spaces the recogniser emitted left out and noted, punctuation width settled. */
export interface ReadChars {
  chars: { text: string; kind: CharKind; ctc: CtcChar }[]
  /** modelSpace[i]: the recogniser emitted a space before chars[i]. */
  modelSpace: boolean[]
}

/** The characters of a decoded line (CTC runs of dictionary classes). */
export function readChars(ctc: readonly CtcChar[], charset: readonly string[], options: LayoutOptions): ReadChars {
  let texts = ctc.map((c) => charset[c.cls] ?? '')
  if (options.asciiPunctuation) texts = asciiPunctuation(texts)
  const chars: ReadChars['chars'] = []
  const modelSpace: boolean[] = []
  let spaceSeen = false
  texts.forEach((text, i) => {
    if (text.trim() === '') {
      spaceSeen = chars.length > 0
      return
    }
    modelSpace.push(spaceSeen)
    spaceSeen = false
    chars.push({ text, kind: charKind(text), ctc: ctc[i]! })
  })
  return { chars, modelSpace }
}

/**
 * Whether the spacing rule could put a space anywhere in the line: two neighbours without a space
 * that are not both CJK and neither CJK punctuation. A line without (Chinese text) needs no ink.
 */
export function mayNeedSpaces(read: ReadChars): boolean {
  return read.chars.some((c, k) => {
    if (k === 0 || read.modelSpace[k]) return false
    const a = read.chars[k - 1]!.kind
    return a !== 'cjkPunctuation' && c.kind !== 'cjkPunctuation' && !(a === 'cjk' && c.kind === 'cjk')
  })
}

/**
 * Places a line's characters in a recogniser input whose CTC steps are `stepWidth` columns wide,
 * `ink` measured on that input.
 */
export function layoutLine(read: ReadChars, stepWidth: number, ink: LineInk): LineLayout {
  const { modelSpace } = read
  const h = ink.height
  const centres = read.chars.map(({ ctc }) => ((ctc.start + ctc.end) / 2) * stepWidth)
  const cuts: [number, number][] = []
  for (let k = 1; k < centres.length; k++) cuts.push(inkCut(ink.columns, centres[k - 1]!, centres[k]!))
  const reach = SPACING.edgeGap * h
  const last = centres.length - 1
  const placed: PlacedChar[] = read.chars.map(({ text, kind, ctc }, k) => ({
    text,
    kind,
    prob: ctc.prob,
    centre: centres[k]!,
    x0: k > 0 ? cuts[k - 1]![1] : inkReach(ink.columns, firstInk(ink.columns, centres[k]!, last > 0 ? cuts[0]![0] : ink.width, 1), -1, reach),
    x1: k < last ? cuts[k]![0] : inkReach(ink.columns, firstInk(ink.columns, centres[k]!, k > 0 ? cuts[k - 1]![1] : 0, -1), 1, reach),
  }))
  const gap = placed.map((_, k) => (k === 0 ? 0 : (cuts[k - 1]![1] - cuts[k - 1]![0]) / h))
  const mid = placed.map((c) => (c.x0 + c.x1) / 2)
  const rawPitch = mid.map((m, k) => (k === 0 ? 0 : m - mid[k - 1]!))
  const medianPitch = median(rawPitch.slice(1)) || 1
  const pitch = rawPitch.map((p) => p / medianPitch)
  const letterGaps = gap.filter((_, k) => k > 0 && !modelSpace[k] && placed[k - 1]!.kind === 'letter' && placed[k]!.kind === 'letter')
  const letterGap = letterGaps.length >= SPACING.minLetterGaps ? median(letterGaps) : 0
  return { chars: placed, modelSpace, gap, pitch, kind: lineKind(placed, modelSpace, gap, rawPitch), letterGap, ink }
}

/** The first ink column from `at` towards `limit` (at itself when there is none): where a glyph whose CTC step fired beside it is. */
function firstInk(columns: Uint16Array, at: number, limit: number, direction: -1 | 1): number {
  const start = Math.round(at)
  for (let x = start; direction > 0 ? x < limit : x >= limit; x += direction) if (columns[x]! > 0) return x
  return start
}

/** Monospaced when the pitch of adjacent letter pairs (narrow gaps, no space) hardly varies. */
function lineKind(chars: readonly PlacedChar[], modelSpace: readonly boolean[], gap: readonly number[], rawPitch: readonly number[]): LineKind {
  const inner: number[] = []
  for (let k = 1; k < chars.length; k++) {
    if (!modelSpace[k] && chars[k - 1]!.kind === 'letter' && chars[k]!.kind === 'letter' && gap[k]! < SPACING.innerGap) inner.push(rawPitch[k]!)
  }
  if (inner.length < SPACING.minLetterPairs) return 'unknown'
  const m = median(inner)
  return median(inner.map((p) => Math.abs(p - m))) < SPACING.monoDeviation * m ? 'monospaced' : 'proportional'
}

/** What the page's lines say about its type, for lines too short to tell. */
export interface PageSpacing {
  proportional: boolean
}

/** A page is proportional when few of its lines of known kind are monospaced, or (too few known) none is. */
export function pageSpacing(lines: readonly LineLayout[]): PageSpacing {
  const known = lines.filter((l) => l.kind !== 'unknown')
  const mono = known.filter((l) => l.kind === 'monospaced').length
  const proportional = known.length >= 3 ? mono <= SPACING.proportionalPageShare * known.length : mono === 0
  return { proportional }
}

/** spaces[i]: a space goes before chars[i] (the recogniser's own, or restored by the rule). */
export function lineSpaces(line: LineLayout, page: PageSpacing): boolean[] {
  const { chars, gap, pitch } = line
  return chars.map((c, k) => {
    if (k === 0) return false
    if (line.modelSpace[k]) return true
    const a = chars[k - 1]!.kind
    const b = c.kind
    if (a === 'cjkPunctuation' || b === 'cjkPunctuation') return false
    const cjkA = a === 'cjk'
    const cjkB = b === 'cjk'
    if (cjkA && cjkB) return false
    const g = gap[k]!
    // a letter-spaced line's letters stand apart: a space is wider than their gap
    const lg = line.letterGap
    if (cjkA || cjkB) return g > Math.max(SPACING.cjkLatinGap, lg + SPACING.trackedUnknown)
    const p = pitch[k]!
    const kind = line.kind === 'unknown' && page.proportional ? 'proportional' : line.kind
    switch (kind) {
      case 'monospaced':
        return (p > SPACING.monoPitch && g > SPACING.monoPitchGap) || g > Math.max(SPACING.monoGap, lg + SPACING.trackedMono)
      case 'proportional':
        return g > Math.max(SPACING.proportionalGap, lg + SPACING.tracked)
      case 'unknown':
        return (g > Math.max(SPACING.unknownGap, lg + SPACING.trackedUnknown) && p > SPACING.unknownPitch && chars.length >= SPACING.unknownMinChars) || g > SPACING.unknownWideGap
    }
  })
}

/** The line's text: its characters with one space wherever `spaces` says. */
export function lineText(line: { chars: readonly { text: string }[] }, spaces: readonly boolean[]): string {
  let text = ''
  line.chars.forEach((c, k) => {
    if (spaces[k]) text += ' '
    text += c.text
  })
  return text
}

/** A word in the recogniser's input: columns [x0, x1), rows [y0, y1). */
export interface PlacedWord {
  text: string
  /** Mean of its characters' probabilities. */
  score: number
  x0: number
  x1: number
  y0: number
  y1: number
}

/**
 * The line's words: runs of Latin letters and digits between spaces, each CJK character a word of
 * its own; punctuation stays with the word before it unless a space separates them. Joining the
 * words' texts with the line's spacing (a space where `spaces` has one, none elsewhere) gives
 * lineText().
 */
export function lineWords(line: LineLayout, spaces: readonly boolean[]): PlacedWord[] {
  const groups: { cjk: boolean; chars: number[] }[] = []
  line.chars.forEach((c, k) => {
    const current = groups[groups.length - 1]
    const cjk = c.kind === 'cjk'
    const punctuation = c.kind === 'cjkPunctuation' || c.kind === 'punctuation'
    if (current && !spaces[k] && !cjk && (punctuation || !current.cjk)) current.chars.push(k)
    else groups.push({ cjk, chars: [k] })
  })
  return groups.map((g) => {
    const chars = g.chars.map((k) => line.chars[k]!)
    const x0 = chars[0]!.x0
    const x1 = Math.max(x0 + 1, chars[chars.length - 1]!.x1)
    const [y0, y1] = inkRows(line.ink, x0, x1)
    return { text: chars.map((c) => c.text).join(''), score: chars.reduce((s, c) => s + c.prob, 0) / chars.length, x0, x1, y0, y1 }
  })
}
