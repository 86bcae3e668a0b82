/**
 * Output formats for results: JSON, JSON Lines, plain text, hOCR, ALTO XML and searchable PDF
 * (docs/FORMATS.md). The server and CLI pick a format by name (`format=`, `--format`) or from an
 * HTTP Accept header (formatFromAccept), then call renderResult for one document.
 */
import { OcrError } from '../errors.js'
import type { OcrResult } from '../types.js'
import { renderAlto } from './alto.js'
import { renderHocr } from './hocr.js'

export const FORMATS = ['json', 'jsonl', 'text', 'hocr', 'alto', 'pdf'] as const
export type Format = (typeof FORMATS)[number]

export interface FormatInfo {
  /** Content-Type of a response in this format. */
  contentType: string
  /** File name extension, with the dot. */
  extension: string
  /** true: renderResult gives bytes (Uint8Array); false: a string. */
  binary: boolean
}

export const FORMAT_INFO: Record<Format, FormatInfo> = {
  json: { contentType: 'application/json; charset=utf-8', extension: '.json', binary: false },
  jsonl: { contentType: 'application/x-ndjson; charset=utf-8', extension: '.jsonl', binary: false },
  text: { contentType: 'text/plain; charset=utf-8', extension: '.txt', binary: false },
  hocr: { contentType: 'text/vnd.hocr+html; charset=utf-8', extension: '.hocr', binary: false },
  alto: { contentType: 'application/alto+xml; charset=utf-8', extension: '.xml', binary: false },
  pdf: { contentType: 'application/pdf', extension: '.pdf', binary: true },
}

export function isFormat(s: string): s is Format {
  return (FORMATS as readonly string[]).includes(s)
}

/** Media types (lower case, no parameters) → the format that answers them. Wildcards give the default, json. */
const MEDIA_TYPES: Record<string, Format> = {
  'application/json': 'json',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
  'application/x-jsonlines': 'jsonl',
  'text/plain': 'text',
  'text/*': 'text',
  'text/vnd.hocr+html': 'hocr',
  'text/html': 'hocr',
  'application/xhtml+xml': 'hocr',
  'application/alto+xml': 'alto',
  'application/xml': 'alto',
  'text/xml': 'alto',
  'application/pdf': 'pdf',
  'application/*': 'json',
  '*/*': 'json',
}

/**
 * The format an HTTP Accept header asks for: the acceptable media range with the highest q (ties:
 * the more specific range first, then header order) that names a format. No header → 'json';
 * null → the header accepts none of ours (the caller answers 406, or falls back to json).
 */
export function formatFromAccept(accept: string | undefined): Format | null {
  if (!accept || !accept.trim()) return 'json'
  const ranges = accept.split(',').map((part, order) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase())
    const qParam = params.find((p) => p.startsWith('q='))
    const q = qParam ? Number(qParam.slice(2)) : 1
    return { type, q: Number.isFinite(q) ? q : 0, wildcard: type.includes('*') ? 1 : 0, order }
  })
  ranges.sort((a, b) => b.q - a.q || a.wildcard - b.wildcard || a.order - b.order)
  for (const r of ranges) {
    if (r.q <= 0) continue
    const format = MEDIA_TYPES[r.type]
    if (format) return format
  }
  return null
}

/** Plain text: each page's lines in reading order, one per line; a blank line between pages. */
export function resultText(r: OcrResult): string {
  return r.pages.map((p) => p.lines.map((l) => l.text).join('\n')).join('\n\n')
}

export interface RenderOptions {
  /** The bytes the result was read from: required for pdf (the page images), unused otherwise. */
  source?: Uint8Array
  /** The input's name: jsonl's `file`, hOCR's image name, ALTO's fileName, the PDF's title. */
  fileName?: string
}

/** One document in `format`: a string, or bytes for binary formats (FORMAT_INFO[format].binary). */
export async function renderResult(format: Format, result: OcrResult, options: RenderOptions = {}): Promise<Uint8Array | string> {
  switch (format) {
    case 'json':
      return JSON.stringify(result, null, 2) + '\n'
    case 'jsonl':
      return JSON.stringify(options.fileName !== undefined ? { file: options.fileName, ...result } : result) + '\n'
    case 'text': {
      const text = resultText(result)
      return text ? text + '\n' : ''
    }
    case 'hocr':
      return renderHocr(result, options.fileName)
    case 'alto':
      return renderAlto(result, options.fileName)
    case 'pdf': {
      // pdf-lib and sharp are loaded for the one format that needs them
      const { renderPdf } = await import('./pdf.js')
      return renderPdf(result, options)
    }
  }
}

/**
 * One file's result in a text `format` (the CLI's streaming writer). For json with several files
 * the records are array elements (the caller writes the brackets and commas); for text with several
 * files each gets a "==> file <==" header. hocr and alto give one whole document per file. pdf is
 * binary and needs the source bytes: use renderResult.
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
    case 'hocr':
      return renderHocr(r, file)
    case 'alto':
      return renderAlto(r, file)
    case 'pdf':
      throw new OcrError('BAD_REQUEST', 'pdf output is binary and needs the source file: use renderResult')
  }
}
