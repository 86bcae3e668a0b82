/** Output formats for results: JSON, JSON Lines, plain text. */
import type { OcrResult } from '../types.js'

export const FORMATS = ['json', 'jsonl', 'text'] as const
export type Format = (typeof FORMATS)[number]

/** Plain text: the lines in reading order, pages separated by a form feed. */
export function resultText(r: OcrResult): string {
  return r.pages.map((p) => p.lines.map((l) => l.text).join('\n')).join('\n\f\n')
}

/**
 * One file's result in `format`. For json with several files the records are array elements
 * (the caller writes the brackets and commas); for text with several files each gets a "==> file <==" header.
 */
export function formatResult(format: Format, file: string, r: OcrResult, many: boolean): string {
  switch (format) {
    case 'jsonl':
      return JSON.stringify({ file, ...r }) + '\n'
    case 'json':
      return many ? JSON.stringify({ file, ...r }) : JSON.stringify(r, null, 2) + '\n'
    case 'text': {
      const text = resultText(r)
      return (many ? `==> ${file} <==\n` : '') + (text ? text + '\n' : '')
    }
  }
}
