/**
 * A line's words (OcrLine.words) as the document formats use them: each word with its quad, its
 * score and whether the line's text has whitespace before it (Latin words are separated by spaces;
 * CJK characters, each its own word, follow one another with none); and a result without them. The
 * engine boxes words only when asked (ReadOptions.words: they multiply the size of a Chinese page's
 * answer); the faces ask for them whenever the output format places every word on the page
 * (RENDERERS' `words`).
 */
import type { OcrLine, OcrResult, Point, Quad } from '../types.js'

export interface LineWord {
  text: string
  quad: Quad
  score: number
  /** The line's text has whitespace between the previous word and this one (false for the first word). */
  spaceBefore: boolean
}

/**
 * The line's words in order, or null when it has none, or when they do not spell its text (the words,
 * joined with the whitespace between them, must give the line's text): the formats then fall back to
 * the line as a whole, as for results made without words.
 */
export function lineWords(line: OcrLine): LineWord[] | null {
  const words = line.words
  if (!words || words.length === 0) return null
  const text = line.text
  const out: LineWord[] = []
  let at = 0
  for (const w of words) {
    const start = at
    while (at < text.length && /\s/u.test(text[at]!)) at++
    if (w.text === '' || /\s/u.test(w.text) || !text.startsWith(w.text, at)) return null
    out.push({ text: w.text, quad: w.box, score: w.score, spaceBefore: out.length > 0 && at > start })
    at += w.text.length
  }
  return text.slice(at).trim() === '' ? out : null
}

/**
 * Words of a line that has no measured ones, split on whitespace, with ESTIMATED quads: the line quad
 * cut along its length in proportion to code-point counts (every character, spaces included, gets
 * the same share) — right for monospaced text, typically within a character or two otherwise. Each
 * word gets the line's score.
 */
export function estimatedWords(line: OcrLine): LineWord[] {
  const chars = Array.from(line.text)
  const n = chars.length
  const [tl, tr, br, bl] = line.box
  const at = (a: Point, b: Point, t: number): Point => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
  const words: LineWord[] = []
  let i = 0
  while (i < n) {
    if (/\s/u.test(chars[i]!)) {
      i++
      continue
    }
    let j = i
    while (j < n && !/\s/u.test(chars[j]!)) j++
    const [t0, t1] = [i / n, j / n]
    const quad: Quad = [at(tl, tr, t0), at(tl, tr, t1), at(bl, br, t1), at(bl, br, t0)]
    words.push({ text: chars.slice(i, j).join(''), quad, score: line.score, spaceBefore: words.length > 0 })
    i = j
  }
  return words
}

/** The result without its lines' words (a JSON answer to a read that did not ask for them). */
export function withoutWords(result: OcrResult): OcrResult {
  const strip = (lines: OcrResult['lines']): OcrResult['lines'] => lines.map(({ words: _words, ...line }) => line)
  return { ...result, lines: strip(result.lines), pages: result.pages.map((p) => ({ ...p, lines: strip(p.lines) })) }
}
