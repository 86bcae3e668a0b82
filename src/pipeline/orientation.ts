/**
 * Page orientation from what the models already give: the 0/180° line classifier's votes say
 * when a page may be upside down (or, for tall boxes, which way a sideways page turns), and the
 * recogniser decides, by reading the lines both ways. Pure functions on votes and readings; the
 * pipeline (./pipeline.ts) runs the models and turns the page.
 *
 * PaddleOCR leaves this to a separate 4-class page model (PP-LCNet_x1_0_doc_ori, 0/90/180/270°,
 * `use_doc_orientation_classify` in PaddleOCR 3's OCR pipeline), which the PP-OCRv4 model set we
 * ship does not include; its line classifier only turns single lines.
 */
import type { ClsDecision } from '../models/cls.js'
import type { Decoded } from '../models/rec-ctc.js'

/** What the orientation decision reads of a line: its text and its score. */
export type Reading = Pick<Decoded, 'text' | 'score'>

/** Turned crops must read at least this confidently (length-weighted mean score) to turn the page. */
export const SIDEWAYS_MIN_CONFIDENCE = 0.75

/**
 * Share of the classifier's vote weight (Σ aspect ratio × score) that says '180', from which the
 * page is read both ways to decide whether it is upside down.
 */
export const UPSIDE_DOWN_VOTE_SHARE = 0.5

/** Length-weighted mean score of the readings (0 when there is no text). */
export function meanConfidence(texts: readonly Reading[]): number {
  let sum = 0
  let n = 0
  for (const t of texts) {
    sum += t.score * t.text.length
    n += t.text.length
  }
  return n === 0 ? 0 : sum / n
}

/** How much confident text a reading holds: Σ score × length over the lines that would be kept. */
export function readingQuality(texts: readonly Reading[], dropScore: number): number {
  let q = 0
  for (const t of texts) if (t.score >= dropScore) q += t.score * t.text.length
  return q
}

/**
 * The share of the classifier's votes that say '180', each weighted by its crop's aspect ratio
 * (width / height: a long line shows the classifier more text) and its score; 0 without votes.
 */
export function upsideDownShare(ratios: readonly number[], votes: readonly ClsDecision[]): number {
  let up = 0
  let down = 0
  votes.forEach((v, i) => {
    const w = ratios[i]! * v.score
    if (v.label === '180') down += w
    else up += w
  })
  return up + down === 0 ? 0 : down / (up + down)
}

/**
 * Whether lines read as they are (`asIs`) are the wrong way up, from the same lines each read
 * turned 180° (`turned`, same order): the turned reading must hold more confident text. Both
 * readings are of the same crops, so only the text's own orientation tells them apart. A tie
 * (nothing readable either way, or text that reads the same both ways, like "NOON") keeps them as
 * they are: a page turned for nothing reads in reverse order, and false turns are worse than misses.
 */
export function readsBetterTurned(asIs: readonly Reading[], turned: readonly Reading[], dropScore: number): boolean {
  return readingQuality(turned, dropScore) > readingQuality(asIs, dropScore)
}

/**
 * Per line, once the page's orientation is chosen: whether to keep the line's other reading
 * (turned 180° against the page) instead of the page's. `votes` are the classifier's on the page
 * as decoded; on a page turned 180° a confident '0' is a line upside down against the turned page.
 * As for single lines (the classifier turns a line at score > clsThresh), the other reading is
 * kept only when the classifier is that sure and it reads at least as confidently: the 192-px
 * classifier can be confidently wrong on a long line, and the recogniser's score catches it.
 */
export function linesAgainstPage(
  votes: readonly ClsDecision[],
  pageTurned: boolean,
  page: readonly Reading[],
  other: readonly Reading[],
  clsThresh: number,
): boolean[] {
  const against = pageTurned ? '0' : '180'
  return votes.map((v, i) => v.label === against && v.score > clsThresh && other[i]!.score >= page[i]!.score)
}
