/**
 * Output formats for results: JSON, JSON Lines, plain text, hOCR, ALTO XML and searchable PDF
 * (docs/FORMATS.md), in one table (RENDERERS): each format's content type and extension, how it
 * renders one document, and how several inputs' results share one stream (the CLI's stdout).
 * The server and CLI pick a format by name (`format=`, `--format`) or from an HTTP Accept header
 * (formatFromAccept).
 */
import type { OcrResult } from '../types.js'
import { renderAlto } from './alto.js'
import { renderHocr } from './hocr.js'

export const FORMATS = ['json', 'jsonl', 'text', 'hocr', 'alto', 'pdf'] as const
export type Format = (typeof FORMATS)[number]

export interface RenderOptions {
  /** The bytes the result was read from: required for pdf (the page images), unused otherwise. */
  source?: Uint8Array
  /** The input's name: jsonl's `file`, hOCR's image name, ALTO's fileName, the PDF's title. */
  fileName?: string
}

/**
 * How several inputs' results share one stream (the CLI's stdout or --out): `open`, then each
 * input's piece with `between` before every piece but the first, then `close`. framedStream puts
 * the pieces together.
 */
export interface StreamFraming {
  open: string
  between: string
  close: string
  /** One input's result as a piece of the stream. */
  item(file: string, result: OcrResult): string
  /** An input that could not be read, as a piece of the stream (jsonl's error record); null: it leaves no trace there (stderr says it). */
  failure: ((file: string, error: { code: string; message: string }) => string) | null
}

/** One output format: what it is on the wire and on disk, and how results are written in it. */
export interface Renderer {
  /** Content-Type of a response in this format. */
  contentType: string
  /** File name extension, with the dot. */
  extension: string
  /** true: render gives bytes (Uint8Array); false: a string. */
  binary: boolean
  /** render needs the bytes the result was read from (RenderOptions.source). */
  needsSource: boolean
  /** The format places every word on the page: the engine is asked for the lines' words (OcrLine.words). */
  words: boolean
  /** One whole document for one result. */
  render(result: OcrResult, options: RenderOptions): string | Uint8Array | Promise<string | Uint8Array>
  /**
   * Several inputs in one stream; null: one document per input only (concatenated XML documents
   * or PDFs are not one document), so several inputs need one output file each.
   */
  stream: StreamFraming | null
}

/** Plain text: each page's lines in reading order, one per line; a blank line between pages. */
export function resultText(r: OcrResult): string {
  return r.pages.map((p) => p.lines.map((l) => l.text).join('\n')).join('\n\n')
}

const textDocument = (r: OcrResult): string => {
  const text = resultText(r)
  return text ? text + '\n' : ''
}

/** A JSON Lines record: the result, with the input's name first when there is one. */
const jsonlRecord = (r: OcrResult, file: string | undefined): string => JSON.stringify(file !== undefined ? { file, ...r } : r) + '\n'

/** No framing: the pieces follow one another (JSON Lines, text with file headers). */
const concatenated = { open: '', between: '', close: '' }

export const RENDERERS: Record<Format, Renderer> = {
  json: {
    words: false,
    contentType: 'application/json; charset=utf-8',
    extension: '.json',
    binary: false,
    needsSource: false,
    render: (r) => JSON.stringify(r, null, 2) + '\n',
    // a JSON array of {"file", ...result}, one element a line; after Ctrl-C the elements written so far, still valid JSON
    stream: { open: '[\n', between: ',\n', close: '\n]\n', item: (file, r) => JSON.stringify({ file, ...r }), failure: null },
  },
  jsonl: {
    words: false,
    contentType: 'application/x-ndjson; charset=utf-8',
    extension: '.jsonl',
    binary: false,
    needsSource: false,
    render: (r, o) => jsonlRecord(r, o.fileName),
    stream: { ...concatenated, item: (file, r) => jsonlRecord(r, file), failure: (file, error) => JSON.stringify({ file, error }) + '\n' },
  },
  text: {
    words: false,
    contentType: 'text/plain; charset=utf-8',
    extension: '.txt',
    binary: false,
    needsSource: false,
    render: textDocument,
    stream: { ...concatenated, item: (file, r) => `==> ${file} <==\n` + textDocument(r), failure: null },
  },
  hocr: {
    words: true,
    contentType: 'text/vnd.hocr+html; charset=utf-8',
    extension: '.hocr',
    binary: false,
    needsSource: false,
    render: (r, o) => renderHocr(r, o.fileName),
    stream: null,
  },
  alto: {
    words: true,
    contentType: 'application/alto+xml; charset=utf-8',
    extension: '.xml',
    binary: false,
    needsSource: false,
    render: (r, o) => renderAlto(r, o.fileName),
    stream: null,
  },
  pdf: {
    words: true,
    contentType: 'application/pdf',
    extension: '.pdf',
    binary: true,
    needsSource: true,
    // pdf-lib and sharp are loaded for the one format that needs them
    render: async (r, o) => (await import('./pdf.js')).renderPdf(r, o),
    stream: null,
  },
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

/** One document in `format`: a string, or bytes for binary formats (RENDERERS[format].binary). */
export async function renderResult(format: Format, result: OcrResult, options: RenderOptions = {}): Promise<Uint8Array | string> {
  return RENDERERS[format].render(result, options)
}

/** A stream being written in a framing: `open` and `close` to write first and last, and each input's piece with what goes before it. */
export interface FramedStream {
  open: string
  close: string
  /** The next piece (an item or a failure) as it goes into the stream: `between` before all but the first. */
  next(piece: string): string
}

export function framedStream(framing: Pick<StreamFraming, 'open' | 'between' | 'close'>): FramedStream {
  let written = 0
  return { open: framing.open, close: framing.close, next: (piece) => (written++ > 0 ? framing.between : '') + piece }
}

/** Whether rendering `format` needs the lines' words (hOCR's ocrx_word, ALTO's String, the PDF's text over each word). */
export function formatNeedsWords(format: Format): boolean {
  return RENDERERS[format].words
}
