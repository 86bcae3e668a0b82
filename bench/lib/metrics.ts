/**
 * Accuracy metrics for OCR evaluation: pure functions, no I/O.
 *
 * Per record (one image):
 * - Box mode (every GT line has a box): GT lines and predictions are matched one-to-one, greedily
 *   by quad IoU (largest first), pairs below `iouThreshold` (0.5) never match. GT lines marked
 *   `ignore` are left out; a prediction that is unmatched but lies mostly (≥ 50 % of its area)
 *   inside an ignore region is dropped instead of counted as a false positive.
 *   - detection: TP = matched pairs, FP = unmatched predictions, FN = unmatched GT lines.
 *   - characters: edit distance of each matched pair, clamped at the GT line's length; a missed
 *     GT line costs all its characters. False positives cost no characters (they cost precision).
 *   - exact lines: matched pairs whose normalised texts are equal.
 * - Text mode (some GT line has `box: null`: line crops, page transcripts without boxes): there is
 *   nothing to match boxes against, so the record is scored by concatenated text: the GT lines
 *   joined in label order against the predicted lines joined; the record's character errors are
 *   that edit distance, clamped at the GT length. Reading order is not scored: the labels' line
 *   order is the source's (zone order, column-major) and often not meaningful, so before joining,
 *   the predicted lines are put in the order in which they best match the GT text
 *   (orderByGt(): each line's best approximate-substring position), or kept in the engine's
 *   order where that gives fewer errors. Lines merged or split
 *   differently from the GT cost nothing; missing, extra and misread characters do. Exact lines
 *   are counted bag-of-lines (each GT line equal to a distinct predicted line). These records add
 *   nothing to detection P/R/F1.
 *
 * Text is compared after normalizeText(): NFKC (full-width ASCII and punctuation become their
 * half-width forms, e.g. "：" → ":"), all whitespace removed, and lower-cased where the record's
 * gt_quality is `case_insensitive`. Records with gt_quality `approximate` count toward character
 * accuracy but not toward the exact-line rate; with `exact_for_listed_lines`, unmatched
 * predictions are not false positives (the background text is not annotated).
 *
 * Words (scoreRecord, every engine alike): a page's words are the runs of non-space characters of
 * its lines after NFKC, case folded; GT and prediction are compared as bags of words per page
 * (TP = Σ min(count in GT, count predicted) per distinct word), and P/R/F1 are summed over pages.
 * Predictions on ignore regions do not count, nor (for `exact_for_listed_lines`) predictions that
 * match no listed line; records whose labels ignore whitespace (`exact_ignoring_whitespace`) are
 * left out of every word measure. The same counts restricted to words containing a Latin letter
 * give the Latin-word F1. Besides: exact lines with single spaces kept (whitespace runs → one
 * space, trimmed); spaces a prediction has between two CJK characters beyond those of its GT line;
 * and, where the labels carry word boxes and the engine gives words, the share of the engine's
 * words (paired in order with the GT words of equal text in the matched line) whose box has
 * IoU ≥ 0.5 with the GT word's ink box.
 */
import { createRequire } from 'node:module'

export type Point = [number, number]
/** A polygon given as points (4 for a quad), in any order or orientation. */
export type Polygon = readonly (readonly [number, number])[]

export type GtQuality = 'exact' | 'case_insensitive' | 'exact_ignoring_whitespace' | 'exact_for_listed_lines' | 'approximate'

/** A word with its box (GT: the rendered ink; prediction: the engine's word box). */
export interface BoxedWord {
  text: string
  box: Polygon
}

export interface GtLine {
  text: string
  box: Polygon | null
  ignore?: boolean
  /** The line's words with their ink boxes (generated pages only). */
  words?: BoxedWord[]
}

export interface GtRecord {
  image: string
  kind?: string
  lang?: string
  gt_quality?: GtQuality | string
  lines: GtLine[]
}

export interface PredLine {
  text: string
  box: Polygon | null
  /** The engine's words, when it gives them (ocrserve with `words`, Tesseract). */
  words?: BoxedWord[]
}

// ---------------------------------------------------------------------------------------------
// Geometry (clipper-lib does the polygon intersection; it works on integer coordinates).

interface IntPoint {
  X: number
  Y: number
}
interface ClipperInstance {
  AddPath(path: IntPoint[], polyType: number, closed: boolean): boolean
  Execute(clipType: number, solution: IntPoint[][], subjFill: number, clipFill: number): boolean
}
interface ClipperModule {
  Clipper: { new (): ClipperInstance; Area(path: IntPoint[]): number }
  ClipType: { ctIntersection: number }
  PolyType: { ptSubject: number; ptClip: number }
  PolyFillType: { pftNonZero: number }
}

const ClipperLib = createRequire(import.meta.url)('clipper-lib') as ClipperModule

/** Coordinates are scaled to integers for clipper; 1/100 px is far below anything we measure. */
const SCALE = 100

/**
 * Convex hull (Andrew's monotone chain), counter-clockwise in y-up terms. Detector quads come in
 * every point order (clockwise from the text's corner, sorted by x, ...); the hull makes a quad
 * with any order a simple polygon, and leaves a proper convex quad unchanged.
 */
export function convexHull(points: Polygon): Point[] {
  const pts = [...new Map(points.map((p) => [`${p[0]},${p[1]}`, [p[0], p[1]] as Point])).values()]
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  if (pts.length < 3) return pts
  const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
  const lower: Point[] = []
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop()
    lower.push(p)
  }
  const upper: Point[] = []
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i]
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop()
    upper.push(p)
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)]
}

function toPath(poly: Polygon): IntPoint[] {
  return convexHull(poly).map(([x, y]) => ({ X: Math.round(x * SCALE), Y: Math.round(y * SCALE) }))
}

function pathArea(path: IntPoint[]): number {
  return Math.abs(ClipperLib.Clipper.Area(path)) / (SCALE * SCALE)
}

/** Area of a polygon's convex hull, in px². */
export function polygonArea(poly: Polygon): number {
  const path = toPath(poly)
  return path.length < 3 ? 0 : pathArea(path)
}

/** Area of the intersection of two polygons (their convex hulls), in px². */
export function intersectionArea(a: Polygon, b: Polygon): number {
  const pa = toPath(a)
  const pb = toPath(b)
  if (pa.length < 3 || pb.length < 3) return 0
  const clipper = new ClipperLib.Clipper()
  clipper.AddPath(pa, ClipperLib.PolyType.ptSubject, true)
  clipper.AddPath(pb, ClipperLib.PolyType.ptClip, true)
  const solution: IntPoint[][] = []
  const nz = ClipperLib.PolyFillType.pftNonZero
  clipper.Execute(ClipperLib.ClipType.ctIntersection, solution, nz, nz)
  return solution.reduce((sum, path) => sum + pathArea(path), 0)
}

/** Intersection over union of two quads (or convex polygons); 0 when either is degenerate. */
export function quadIoU(a: Polygon, b: Polygon): number {
  const inter = intersectionArea(a, b)
  if (inter <= 0) return 0
  const union = polygonArea(a) + polygonArea(b) - inter
  return union > 0 ? inter / union : 0
}

// ---------------------------------------------------------------------------------------------
// Text.

export interface NormalizeOptions {
  caseInsensitive?: boolean
}

/** NFKC, whitespace runs made one space, trimmed, optionally lower-cased: a line compared with its spaces. */
export function normalizeSpaced(text: string, options: NormalizeOptions = {}): string {
  const s = text.normalize('NFKC').replace(/\s+/gu, ' ').trim()
  return options.caseInsensitive ? s.toLowerCase() : s
}

/** A text's words: runs of non-space characters after NFKC, case folded. */
export function wordsOf(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().split(/\s+/u).filter(Boolean)
}

/** Words with a Latin letter (the ones whose spacing a recogniser can get wrong). */
export function hasLatinLetter(word: string): boolean {
  return /\p{Script=Latin}/u.test(word)
}

/** Han, kana, CJK symbols and punctuation, full-width forms. */
const CJK = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\u3000-\\u303f\\uff00-\\uffef'
const CJK_SPACE_CJK = new RegExp(`(?<=[${CJK}])\\s+(?=[${CJK}])`, 'gu')

/**
 * Whitespace runs between two CJK characters, after NFKC (as every text measure here): a
 * full-width `（` or `￥` folds to its ASCII form and no longer counts as CJK, so `总计 ￥186.98`
 * has none, as its GT `总计 ¥186.98`.
 */
export function cjkSpaces(text: string): number {
  return text.normalize('NFKC').match(CJK_SPACE_CJK)?.length ?? 0
}

/** Counts of a bag-of-words comparison. */
export interface WordCounts {
  /** Σ over distinct words of min(GT count, predicted count). */
  tp: number
  pred: number
  gt: number
}

/** Bag-of-words counts of the predicted texts against the GT texts (words kept by `keep`). */
export function wordCounts(gtTexts: readonly string[], predTexts: readonly string[], keep: (word: string) => boolean = () => true): WordCounts {
  const gt = new Map<string, number>()
  let gtN = 0
  for (const t of gtTexts) {
    for (const w of wordsOf(t)) {
      if (!keep(w)) continue
      gt.set(w, (gt.get(w) ?? 0) + 1)
      gtN++
    }
  }
  let tp = 0
  let predN = 0
  for (const t of predTexts) {
    for (const w of wordsOf(t)) {
      if (!keep(w)) continue
      predN++
      const n = gt.get(w) ?? 0
      if (n > 0) {
        tp++
        gt.set(w, n - 1)
      }
    }
  }
  return { tp, pred: predN, gt: gtN }
}

/**
 * Pairs the engine's words with the GT words of the same line in order (equal text after
 * wordsOf's normalisation; a predicted word pairs with the first unpaired GT word of equal text
 * after the previous pair) and returns each pair's box IoU.
 */
export function wordBoxIoUs(gt: readonly BoxedWord[], pred: readonly BoxedWord[]): number[] {
  const key = (w: BoxedWord): string => wordsOf(w.text).join(' ')
  const gtKeys = gt.map(key)
  const out: number[] = []
  let from = 0
  for (const p of pred) {
    const k = key(p)
    const j = gtKeys.indexOf(k, from)
    if (j < 0 || k === '') continue
    out.push(quadIoU(gt[j]!.box, p.box))
    from = j + 1
  }
  return out
}

/** NFKC, all whitespace removed, optionally lower-cased. */
export function normalizeText(text: string, options: NormalizeOptions = {}): string {
  const s = text.normalize('NFKC').replace(/\s+/gu, '')
  return options.caseInsensitive ? s.toLowerCase() : s
}

/** Levenshtein distance over Unicode code points (not UTF-16 units). */
export function editDistance(a: string, b: string): number {
  const s = [...a]
  const t = [...b]
  if (s.length === 0) return t.length
  if (t.length === 0) return s.length
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j)
  let cur = new Array<number>(t.length + 1)
  for (let i = 1; i <= s.length; i++) {
    cur[0] = i
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    }
    ;[prev, cur] = [cur, prev]
  }
  return prev[t.length]
}

/**
 * Where `needle` fits best inside `hay` as a substring, by edit distance with free leading and
 * trailing characters of `hay` (semi-global alignment). Returns the start index of the best
 * alignment in `hay` (code points) and its cost; among equally good places (repeated text) the
 * start closest to `near` wins, then the earliest.
 */
export function bestSubstringMatch(needle: string, hay: string, near = 0): { start: number; cost: number } {
  const n = [...needle]
  const h = [...hay]
  if (n.length === 0) return { start: 0, cost: 0 }
  // cost[j] / from[j]: best alignment of n[0..i) ending at h[j), and where in h it started.
  let cost = new Array<number>(h.length + 1).fill(0)
  let from = Array.from({ length: h.length + 1 }, (_, j) => j)
  let nextCost = new Array<number>(h.length + 1)
  let nextFrom = new Array<number>(h.length + 1)
  for (let i = 1; i <= n.length; i++) {
    nextCost[0] = i
    nextFrom[0] = 0
    for (let j = 1; j <= h.length; j++) {
      const sub = cost[j - 1] + (n[i - 1] === h[j - 1] ? 0 : 1)
      const del = cost[j] + 1 // needle char unmatched
      const ins = nextCost[j - 1] + 1 // hay char inside the match
      let best = sub
      let start = from[j - 1]
      if (del < best || (del === best && from[j] < start)) {
        best = del
        start = from[j]
      }
      if (ins < best || (ins === best && nextFrom[j - 1] < start)) {
        best = ins
        start = nextFrom[j - 1]
      }
      nextCost[j] = best
      nextFrom[j] = start
    }
    ;[cost, nextCost] = [nextCost, cost]
    ;[from, nextFrom] = [nextFrom, from]
  }
  let best = { start: 0, cost: Number.POSITIVE_INFINITY }
  for (let j = 0; j <= h.length; j++) {
    const closer = Math.abs(from[j] - near) < Math.abs(best.start - near) || (Math.abs(from[j] - near) === Math.abs(best.start - near) && from[j] < best.start)
    if (cost[j] < best.cost || (cost[j] === best.cost && closer)) best = { start: from[j], cost: cost[j] }
  }
  return best
}

/**
 * Orders predicted lines by where each best matches in the GT text, so that joining them follows
 * the GT's order whatever the engine's reading order was. Repeated text is placed nearest to
 * where the engine's own order puts it; the sort is stable.
 */
export function orderByGt(predLines: readonly string[], gtText: string): string[] {
  let offset = 0
  return predLines
    .map((text, index) => {
      const near = offset
      offset += charCount(text)
      return { text, index, start: bestSubstringMatch(text, gtText, near).start }
    })
    .sort((a, b) => a.start - b.start || a.index - b.index)
    .map((p) => p.text)
}

function charCount(s: string): number {
  return [...s].length
}

// ---------------------------------------------------------------------------------------------
// Matching and scoring.

export interface Match {
  gt: number
  pred: number
  iou: number
}

export interface MatchResult {
  matches: Match[]
  /** Indices of non-ignored GT lines left unmatched. */
  missedGt: number[]
  /** Indices of predictions that are false positives. */
  falsePositives: number[]
  /** Indices of unmatched predictions dropped because they fall on an ignore region. */
  ignoredPreds: number[]
}

/**
 * One-to-one greedy matching by IoU: every (GT, prediction) pair with IoU ≥ threshold, largest
 * IoU first (ties: lower GT index, then lower prediction index), each side used at most once.
 * Predictions without a box can never match.
 */
export function matchLines(gt: readonly GtLine[], preds: readonly PredLine[], iouThreshold = 0.5): MatchResult {
  const candidates: Match[] = []
  gt.forEach((g, gi) => {
    if (g.ignore || !g.box) return
    preds.forEach((p, pi) => {
      if (!p.box) return
      const iou = quadIoU(g.box as Polygon, p.box)
      if (iou >= iouThreshold) candidates.push({ gt: gi, pred: pi, iou })
    })
  })
  candidates.sort((a, b) => b.iou - a.iou || a.gt - b.gt || a.pred - b.pred)
  const usedGt = new Set<number>()
  const usedPred = new Set<number>()
  const matches: Match[] = []
  for (const c of candidates) {
    if (usedGt.has(c.gt) || usedPred.has(c.pred)) continue
    usedGt.add(c.gt)
    usedPred.add(c.pred)
    matches.push(c)
  }
  const missedGt = gt.flatMap((g, i) => (!g.ignore && !usedGt.has(i) ? [i] : []))
  const ignoreBoxes = gt.filter((g) => g.ignore && g.box).map((g) => g.box as Polygon)
  const falsePositives: number[] = []
  const ignoredPreds: number[] = []
  preds.forEach((p, pi) => {
    if (usedPred.has(pi)) return
    const area = p.box ? polygonArea(p.box) : 0
    const onIgnore = p.box !== null && area > 0 && ignoreBoxes.some((ib) => intersectionArea(ib, p.box as Polygon) / area >= 0.5)
    ;(onIgnore ? ignoredPreds : falsePositives).push(pi)
  })
  matches.sort((a, b) => a.gt - b.gt)
  return { matches, missedGt, falsePositives, ignoredPreds }
}

export interface LineError {
  gt: string
  pred: string | null
  iou: number | null
  distance: number
}

export interface RecordScore {
  image: string
  mode: 'box' | 'text'
  /** Detection counts (box mode only; zero in text mode). */
  tp: number
  fp: number
  fn: number
  /** Σ clamped edit distance and Σ GT characters (normalised). */
  charErrors: number
  gtChars: number
  /** Lines counted for the exact-line rate (0 for `approximate` records) and how many were exact. */
  exactLines: number
  exactEligible: number
  /** Of those, lines read exactly with their spaces (normalizeSpaced). */
  exactSpacedLines: number
  /** Bag-of-words counts, all words and words with a Latin letter (null: labels ignore whitespace). */
  words: WordCounts | null
  latinWords: WordCounts | null
  /** Whitespace between two CJK characters the prediction has beyond its GT. */
  cjkSpaces: number
  /** IoU of each engine word paired with a GT word box (empty without word boxes on both sides). */
  wordBoxIoUs: number[]
  /** Lines that were not read exactly, for failure reports. */
  errors: LineError[]
}

/** How a record's gt_quality maps to comparison options. */
export function recordPolicy(quality: string | undefined): { caseInsensitive: boolean; countExact: boolean; penaliseUnlisted: boolean; spacesLabelled: boolean } {
  return {
    caseInsensitive: quality === 'case_insensitive',
    countExact: quality !== 'approximate',
    penaliseUnlisted: quality !== 'exact_for_listed_lines',
    spacesLabelled: quality !== 'exact_ignoring_whitespace',
  }
}

/** The word measures of a record from its scored GT lines and the predictions that count. */
function wordScores(
  policy: ReturnType<typeof recordPolicy>,
  gtTexts: readonly string[],
  predTexts: readonly string[],
): Pick<RecordScore, 'words' | 'latinWords'> {
  if (!policy.spacesLabelled) return { words: null, latinWords: null }
  return { words: wordCounts(gtTexts, predTexts), latinWords: wordCounts(gtTexts, predTexts, hasLatinLetter) }
}

/** Bag of lines: how many GT lines can each claim one distinct, equal predicted line. */
function bagOfLines(gt: readonly string[], pred: readonly string[]): number {
  const available = new Map<string, number>()
  for (const t of pred) available.set(t, (available.get(t) ?? 0) + 1)
  let exact = 0
  for (const t of gt) {
    const n = available.get(t) ?? 0
    if (n > 0) {
      exact++
      available.set(t, n - 1)
    }
  }
  return exact
}

export function scoreRecord(record: GtRecord, preds: readonly PredLine[], iouThreshold = 0.5): RecordScore {
  const policy = recordPolicy(record.gt_quality)
  const norm = (s: string): string => normalizeText(s, { caseInsensitive: policy.caseInsensitive })
  const spaced = (s: string): string => normalizeSpaced(s, { caseInsensitive: policy.caseInsensitive })
  const scored = record.lines.filter((l) => !l.ignore)
  const boxMode = record.lines.every((l) => l.box !== null)
  const errors: LineError[] = []
  if (boxMode) {
    const m = matchLines(record.lines, preds, iouThreshold)
    let charErrors = 0
    let exact = 0
    let exactSpaced = 0
    let extraCjkSpaces = 0
    const ious: number[] = []
    for (const { gt, pred, iou } of m.matches) {
      const gtLine = record.lines[gt]
      const predLine = preds[pred]
      const g = norm(gtLine.text)
      const p = norm(predLine.text)
      const d = Math.min(editDistance(g, p), charCount(g))
      charErrors += d
      if (g === p) exact++
      else errors.push({ gt: gtLine.text, pred: predLine.text, iou, distance: d })
      if (spaced(gtLine.text) === spaced(predLine.text)) exactSpaced++
      extraCjkSpaces += Math.max(0, cjkSpaces(predLine.text) - cjkSpaces(gtLine.text))
      if (gtLine.words && predLine.words) ious.push(...wordBoxIoUs(gtLine.words, predLine.words))
    }
    for (const pi of m.falsePositives) extraCjkSpaces += cjkSpaces(preds[pi].text)
    // predictions on ignore regions, and for listed-lines records the unmatched ones, are not read
    const counted = policy.penaliseUnlisted ? [...m.matches.map((x) => x.pred), ...m.falsePositives] : m.matches.map((x) => x.pred)
    for (const gi of m.missedGt) {
      const g = norm(record.lines[gi].text)
      charErrors += charCount(g)
      errors.push({ gt: record.lines[gi].text, pred: null, iou: null, distance: charCount(g) })
    }
    const gtChars = scored.reduce((s, l) => s + charCount(norm(l.text)), 0)
    return {
      image: record.image,
      mode: 'box',
      tp: m.matches.length,
      fp: policy.penaliseUnlisted ? m.falsePositives.length : 0,
      fn: m.missedGt.length,
      charErrors,
      gtChars,
      exactLines: policy.countExact ? exact : 0,
      exactEligible: policy.countExact ? scored.length : 0,
      exactSpacedLines: policy.countExact && policy.spacesLabelled ? exactSpaced : 0,
      ...wordScores(policy, scored.map((l) => l.text), counted.map((pi) => preds[pi].text)),
      cjkSpaces: extraCjkSpaces,
      wordBoxIoUs: ious,
      errors,
    }
  }
  const gtText = scored.map((l) => norm(l.text)).join('')
  const predLines = preds.map((p) => norm(p.text))
  const gtChars = charCount(gtText)
  // Whichever order is closer: the GT-guided one, or the engine's own (the guide can misplace
  // lines of repeated text).
  const distance = Math.min(editDistance(gtText, orderByGt(predLines, gtText).join('')), editDistance(gtText, predLines.join('')))
  const charErrors = Math.min(distance, gtChars)
  const exact = bagOfLines(scored.map((l) => norm(l.text)), preds.map((p) => norm(p.text)))
  const exactSpaced = bagOfLines(scored.map((l) => spaced(l.text)), preds.map((p) => spaced(p.text)))
  const sumCjk = (texts: readonly string[]): number => texts.reduce((sum, t) => sum + cjkSpaces(t), 0)
  if (charErrors > 0) errors.push({ gt: scored.map((l) => l.text).join(' / '), pred: preds.map((p) => p.text).join(' / '), iou: null, distance: charErrors })
  return {
    image: record.image,
    mode: 'text',
    tp: 0,
    fp: 0,
    fn: 0,
    charErrors,
    gtChars,
    exactLines: policy.countExact ? exact : 0,
    exactEligible: policy.countExact ? scored.length : 0,
    exactSpacedLines: policy.countExact && policy.spacesLabelled ? exactSpaced : 0,
    ...wordScores(policy, scored.map((l) => l.text), preds.map((p) => p.text)),
    cjkSpaces: Math.max(0, sumCjk(preds.map((p) => p.text)) - sumCjk(scored.map((l) => l.text))),
    wordBoxIoUs: [],
    errors,
  }
}

export interface Summary {
  images: number
  /** Images scored in box mode (the ones behind P/R/F1). */
  boxImages: number
  tp: number
  fp: number
  fn: number
  /** null when no record was scored in box mode. */
  precision: number | null
  recall: number | null
  f1: number | null
  /** 1 − Σ errors / Σ GT chars; null without GT characters. */
  charAccuracy: number | null
  exactLineRate: number | null
  /** Exact lines with their spaces (over the records whose labels keep whitespace). */
  exactSpacedRate: number | null
  /** Word precision, recall, F1 (bag of words per page, summed); null without labelled words. */
  wordPrecision: number | null
  wordRecall: number | null
  wordF1: number | null
  /** The same over words with a Latin letter. */
  latinWordF1: number | null
  latinWords: number
  /** Spaces between two CJK characters beyond the GT's. */
  cjkSpaces: number
  /** Share of the engine's words paired with a GT word box at IoU ≥ 0.5; null without pairs. */
  wordBoxShare: number | null
  wordBoxPairs: number
  gtChars: number
  gtLines: number
}

/** P/R/F1 of summed word counts; nulls when there are no words on either side. */
export function wordPRF(counts: readonly (WordCounts | null)[]): { precision: number | null; recall: number | null; f1: number | null; gt: number } {
  const have = counts.filter((c): c is WordCounts => c !== null)
  const tp = have.reduce((s, c) => s + c.tp, 0)
  const pred = have.reduce((s, c) => s + c.pred, 0)
  const gt = have.reduce((s, c) => s + c.gt, 0)
  if (pred === 0 && gt === 0) return { precision: null, recall: null, f1: null, gt }
  const precision = pred === 0 ? 0 : tp / pred
  const recall = gt === 0 ? 0 : tp / gt
  return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), gt }
}

export function summarize(scores: readonly RecordScore[]): Summary {
  const sum = (f: (s: RecordScore) => number): number => scores.reduce((acc, s) => acc + f(s), 0)
  const tp = sum((s) => s.tp)
  const fp = sum((s) => s.fp)
  const fn = sum((s) => s.fn)
  const boxImages = scores.filter((s) => s.mode === 'box').length
  const precision = boxImages === 0 ? null : tp + fp === 0 ? (fn === 0 ? 1 : 0) : tp / (tp + fp)
  const recall = boxImages === 0 ? null : tp + fn === 0 ? 1 : tp / (tp + fn)
  const f1 = precision === null || recall === null ? null : precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall)
  const gtChars = sum((s) => s.gtChars)
  const charErrors = sum((s) => s.charErrors)
  const eligible = sum((s) => s.exactEligible)
  const spacedEligible = sum((s) => (s.words === null ? 0 : s.exactEligible))
  const words = wordPRF(scores.map((s) => s.words))
  const latin = wordPRF(scores.map((s) => s.latinWords))
  const ious = scores.flatMap((s) => s.wordBoxIoUs)
  return {
    images: scores.length,
    boxImages,
    tp,
    fp,
    fn,
    precision,
    recall,
    f1,
    charAccuracy: gtChars === 0 ? null : 1 - charErrors / gtChars,
    exactLineRate: eligible === 0 ? null : sum((s) => s.exactLines) / eligible,
    exactSpacedRate: spacedEligible === 0 ? null : sum((s) => s.exactSpacedLines) / spacedEligible,
    wordPrecision: words.precision,
    wordRecall: words.recall,
    wordF1: words.f1,
    latinWordF1: latin.f1,
    latinWords: latin.gt,
    cjkSpaces: sum((s) => s.cjkSpaces),
    wordBoxShare: ious.length === 0 ? null : ious.filter((v) => v >= 0.5).length / ious.length,
    wordBoxPairs: ious.length,
    gtChars,
    gtLines: eligible,
  }
}
