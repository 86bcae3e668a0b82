/**
 * The document and its read options from a request, for POST /v1/ocr and POST /v1/jobs alike:
 * the raw body (image/*, application/pdf, application/octet-stream), a multipart file field
 * `image` with option fields beside it, JSON {"image": base64, ...options}, or (only when
 * OCR_URL_ALLOWLIST is set) JSON {"url": "https://...", ...options} fetched within the limits. Query options come
 * first; body options (multipart fields, JSON fields) override them.
 */
import type { FastifyRequest } from 'fastify'
import { PDF_DPI_RANGE, PDF_TEXT_MODES } from '../config.js'
import { OcrError } from '../errors.js'
import { FORMATS, isFormat, type Format } from '../formats/index.js'
import type { PdfTextMode, ReadOptions } from '../types.js'
import { fetchImageUrl, type UrlFetchOptions } from './fetch-url.js'


/** The per-request read options of the API (snake_case on the wire). */
export type DocumentOptions = Pick<ReadOptions, 'model' | 'cls' | 'pages' | 'dpi' | 'pdfText' | 'words'>

/** Options as they arrive in a query string or JSON body (validated by the route schemas). */
export interface WireOptions {
  model?: string
  cls?: boolean
  format?: Format
  pages?: string
  dpi?: number
  pdf_text?: PdfTextMode
  words?: boolean
}

export interface DocumentRequest {
  bytes: Buffer
  /** The multipart file name, if any (for Content-Disposition of downloads). */
  fileName: string | null
  options: DocumentOptions
  /** format= from the query or body; undefined = negotiate from Accept. */
  format?: Format
}

export interface ReadDocumentLimits {
  /** Largest multipart file or fetched URL body (raw and JSON bodies are bounded by the route's bodyLimit). */
  maxBytes: number
  /** Whether `format` is an option of this route (not of POST /v1/jobs: formats are chosen at download). */
  allowFormat: boolean
  /** Image URL fetching (JSON {"url"}); null = refused with URL_NOT_ALLOWED. */
  urlFetch: Omit<UrlFetchOptions, 'maxBytes'> | null
  /** Aborts a URL fetch when the client goes away. */
  signal?: AbortSignal
}

/** JSON fields and the only type each may have (ajv would coerce [x] → x, null → false, 1 → "1"). */
const JSON_FIELD_TYPES: Record<string, 'string' | 'boolean' | 'number'> = {
  image: 'string',
  url: 'string',
  model: 'string',
  cls: 'boolean',
  format: 'string',
  pages: 'string',
  dpi: 'number',
  pdf_text: 'string',
  words: 'boolean',
}

/**
 * For a route's preValidation: the JSON body's values must already have the right types. The
 * service coerces types for the query string (where everything is text), never for JSON.
 */
export function checkJsonTypes(request: FastifyRequest): void {
  if (!(request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) return
  const body = request.body
  if (body === undefined || Buffer.isBuffer(body)) return
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new OcrError('BAD_REQUEST', 'the JSON body must be an object: {"image": "<base64>"}')
  for (const [field, value] of Object.entries(body)) {
    const want = JSON_FIELD_TYPES[field]
    if (want && typeof value !== want) throw new OcrError('BAD_REQUEST', `"${field}" must be a ${want}, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`)
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const BASE64URL = /^[A-Za-z0-9_-]*$/

/** Strict base64 (standard or URL alphabet; optional data: URL prefix; whitespace ignored). */
export function decodeBase64Image(s: string): Buffer {
  let b64 = s.trim()
  const m = /^data:([^;,]*)(;base64)?,/.exec(b64)
  if (m) {
    if (!m[2]) throw new OcrError('BAD_REQUEST', 'data: URL must be base64-encoded')
    b64 = b64.slice(m[0].length)
  }
  b64 = b64.replace(/\s+/g, '')
  if (b64.length === 0) throw new OcrError('BAD_REQUEST', '"image" is empty')
  // padded standard base64, or unpadded (standard or URL alphabet); a length of 4n+1 is never valid
  const padded = BASE64.test(b64) && b64.length % 4 === 0
  const unpadded = (BASE64URL.test(b64) || /^[A-Za-z0-9+/]*$/.test(b64)) && b64.length % 4 !== 1
  if (!padded && !unpadded) throw new OcrError('BAD_REQUEST', '"image" is not valid base64')
  return Buffer.from(b64, /[-_]/.test(b64) ? 'base64url' : 'base64')
}

/** Multipart option fields: the same names and values as the query parameters. */
const FIELDS: Record<keyof WireOptions, (v: string) => WireOptions[keyof WireOptions]> = {
  model: (v) => v,
  cls: (v) => {
    if (v !== 'true' && v !== 'false') throw new OcrError('BAD_REQUEST', 'cls must be true or false')
    return v === 'true'
  },
  format: (v) => {
    if (!isFormat(v)) throw new OcrError('BAD_REQUEST', `format must be one of ${FORMATS.join(', ')}`)
    return v
  },
  pages: (v) => v,
  dpi: (v) => {
    const n = Number(v)
    if (!/^\d+$/.test(v.trim()) || n < PDF_DPI_RANGE.min || n > PDF_DPI_RANGE.max) throw new OcrError('BAD_REQUEST', `dpi must be an integer from ${PDF_DPI_RANGE.min} to ${PDF_DPI_RANGE.max}`)
    return n
  },
  pdf_text: (v) => {
    if (!(PDF_TEXT_MODES as readonly string[]).includes(v)) throw new OcrError('BAD_REQUEST', `pdf_text must be one of ${PDF_TEXT_MODES.join(', ')}`)
    return v as PdfTextMode
  },
  words: (v) => {
    if (v !== 'true' && v !== 'false') throw new OcrError('BAD_REQUEST', 'words must be true or false')
    return v === 'true'
  },
}

export async function readDocument(request: FastifyRequest, limits: ReadDocumentLimits): Promise<DocumentRequest> {
  let wire: WireOptions = { ...(request.query as WireOptions) }
  const type = (request.headers['content-type'] ?? '').toLowerCase()
  let bytes: Buffer
  let fileName: string | null = null
  if (type.startsWith('multipart/form-data')) {
    const part = await readMultipart(request, limits)
    bytes = part.bytes
    fileName = part.fileName
    wire = { ...wire, ...part.fields }
  } else if (Buffer.isBuffer(request.body)) {
    bytes = request.body
  } else if (request.body && typeof request.body === 'object') {
    const { image, url, ...fields } = request.body as WireOptions & { image?: string; url?: string }
    if ((image === undefined) === (url === undefined)) throw new OcrError('BAD_REQUEST', 'send exactly one of "image" (base64) and "url"')
    if (url !== undefined) {
      if (!limits.urlFetch) throw new OcrError('URL_NOT_ALLOWED', 'this server does not fetch image URLs (OCR_URL_ALLOWLIST is empty); send the image itself')
      bytes = await fetchImageUrl(url, { ...limits.urlFetch, maxBytes: limits.maxBytes }, limits.signal)
    } else {
      bytes = decodeBase64Image(image!)
    }
    wire = { ...wire, ...fields }
  } else {
    throw new OcrError('BAD_REQUEST', 'no image: send it as the body, a multipart field "image", or JSON {"image": base64}')
  }
  if (bytes.length === 0) throw new OcrError('BAD_REQUEST', 'the image is empty')
  if (!limits.allowFormat && wire.format !== undefined) {
    throw new OcrError('BAD_REQUEST', 'format is chosen when the result is fetched: GET /v1/jobs/{id}/result?format=...')
  }
  const options: DocumentOptions = {
    ...(wire.model !== undefined ? { model: wire.model } : {}),
    ...(wire.cls !== undefined ? { cls: wire.cls } : {}),
    ...(wire.pages !== undefined ? { pages: wire.pages } : {}),
    ...(wire.dpi !== undefined ? { dpi: wire.dpi } : {}),
    ...(wire.pdf_text !== undefined ? { pdfText: wire.pdf_text } : {}),
    ...(wire.words !== undefined ? { words: wire.words } : {}),
  }
  return { bytes, fileName, options, ...(wire.format !== undefined ? { format: wire.format } : {}) }
}

interface MultipartDocument {
  bytes: Buffer
  fileName: string | null
  fields: WireOptions
}

/** Multipart parse failures without a code (busboy: "Unexpected end of form", ...) are bad requests, not 500s. */
async function readMultipart(request: FastifyRequest, limits: ReadDocumentLimits): Promise<MultipartDocument> {
  try {
    return await readMultipartParts(request, limits)
  } catch (err) {
    // ours, or @fastify/multipart's coded errors (they carry their HTTP status: 413 file too large, ...)
    if (err instanceof OcrError || typeof (err as { statusCode?: unknown }).statusCode === 'number') throw err
    throw new OcrError('BAD_REQUEST', `malformed multipart body: ${(err as Error).message}`, { cause: err })
  }
}

async function readMultipartParts(request: FastifyRequest, limits: ReadDocumentLimits): Promise<MultipartDocument> {
  let bytes: Buffer | null = null
  let fileName: string | null = null
  const fields: Record<string, unknown> = {}
  const names = Object.keys(FIELDS)
  for await (const part of request.parts({ limits: { fileSize: limits.maxBytes, files: 1, fields: names.length + 2, parts: names.length + 4 } })) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image' || bytes) {
        await part.toBuffer() // drain
        if (part.fieldname !== 'image') throw new OcrError('BAD_REQUEST', `unexpected file field "${part.fieldname}"; send the image in "image"`)
        throw new OcrError('BAD_REQUEST', 'send exactly one file in "image"')
      }
      bytes = await part.toBuffer()
      fileName = part.filename || null
    } else if (names.includes(part.fieldname)) {
      fields[part.fieldname] = FIELDS[part.fieldname as keyof WireOptions](String(part.value))
    }
  }
  if (!bytes) throw new OcrError('BAD_REQUEST', 'multipart request has no file field "image"')
  return { bytes, fileName, fields: fields as WireOptions }
}
