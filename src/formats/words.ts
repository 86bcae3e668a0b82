/**
 * Which outputs need the lines' words (OcrLine.words), and a result without them. The engine boxes
 * words only when asked (ReadOptions.words: they multiply the size of a Chinese page's answer);
 * the faces ask for them whenever the output format places every word on the page.
 */
import type { Format } from './index.js'
import type { OcrResult } from '../types.js'

/** Formats that place every word: hOCR (ocrx_word), ALTO (String), searchable PDF (text over each word). */
const WORD_FORMATS: ReadonlySet<Format> = new Set<Format>(['hocr', 'alto', 'pdf'])

/** Whether rendering `format` needs the lines' words. */
export function formatNeedsWords(format: Format): boolean {
  return WORD_FORMATS.has(format)
}

/** The result without its lines' words (a JSON answer to a read that did not ask for them). */
export function withoutWords(result: OcrResult): OcrResult {
  const strip = (lines: OcrResult['lines']): OcrResult['lines'] => lines.map(({ words: _words, ...line }) => line)
  return { ...result, lines: strip(result.lines), pages: result.pages.map((p) => ({ ...p, lines: strip(p.lines) })) }
}
