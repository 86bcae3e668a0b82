/**
 * POST /v1/ocr: the image as the raw body, a multipart field `image`, JSON {"image": base64}, or
 * (only when OCR_URL_ALLOWLIST is set) JSON {"url": "https://..."} fetched within the limits.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Ocr } from '../../engine.js'
import { OcrError } from '../../errors.js'
import { resultText } from '../../formats/index.js'
import { fetchImageUrl, type UrlFetchOptions } from '../fetch-url.js'
import type { ServerMetrics } from '../metrics.js'
import { ocrJsonBodySchema, ocrQuerySchema } from '../schemas.js'

interface Query {
  cls?: boolean
  format?: 'json' | 'text'
}

interface JsonBody {
  image?: string
  url?: string
  cls?: boolean
  format?: 'json' | 'text'
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

/** JSON fields and the only type each may have (ajv would coerce [x] → x, null → false, 1 → "1"). */
const JSON_FIELD_TYPES: Record<string, 'string' | 'boolean'> = { image: 'string', url: 'string', cls: 'boolean', format: 'string' }

/**
 * Runs before schema validation: the JSON body's values must already have the right types. The
 * service coerces types for the query string (where everything is text), never for JSON.
 */
export function checkJsonTypes(body: unknown): void {
  if (body === undefined || Buffer.isBuffer(body)) return
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new OcrError('BAD_REQUEST', 'the JSON body must be an object: {"image": "<base64>"}')
  for (const [field, value] of Object.entries(body)) {
    const want = JSON_FIELD_TYPES[field]
    if (want && typeof value !== want) throw new OcrError('BAD_REQUEST', `"${field}" must be a ${want}, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`)
  }
}

export interface OcrRouteDeps {
  ocr: Ocr
  metrics: ServerMetrics
  maxBodyBytes: number
  /** Image URL fetching; null = JSON {"url"} is refused with URL_NOT_ALLOWED. */
  urlFetch: Omit<UrlFetchOptions, 'maxBytes'> | null
}

export function registerOcrRoute(app: FastifyInstance, deps: OcrRouteDeps): void {
  const { ocr, metrics } = deps
  const urlFetch = deps.urlFetch ? { ...deps.urlFetch, maxBytes: deps.maxBodyBytes } : null
  app.post<{ Querystring: Query }>(
    '/v1/ocr',
    {
      schema: {
        summary: 'Read the text in an image',
        description:
          'Send the image as the raw body (`Content-Type: image/*` or `application/octet-stream`), as a `multipart/form-data` field named `image`, or as JSON `{"image": "<base64>"}`; JSON `{"url": "https://..."}` only when the server allows URL fetching (`OCR_URL_ALLOWLIST`). JPEG, PNG, WebP, GIF (first frame), BMP and TIFF (every page).',
        tags: ['ocr'],
        querystring: ocrQuerySchema,
        // validated: the JSON form; the raw and multipart forms are added to the OpenAPI document
        // by RAW_BODY_DOC in app.ts (they have no JSON body to validate)
        body: { content: { 'application/json': { schema: ocrJsonBodySchema } } },
        security: [{ bearer: [] }, { apiKey: [] }],
        response: {
          200: {
            description: 'The text lines with their boxes (`format=text`: text/plain, one line per line)',
            content: { 'application/json': { schema: { $ref: 'OcrResult#' } }, 'text/plain': { schema: { type: 'string' } } },
          },
          '4xx': { description: 'Client error (see docs/ERRORS.md)', $ref: 'Error#' },
          '5xx': { description: 'Overloaded, not ready, timed out, or a model-server failure', $ref: 'Error#' },
        },
      },
      preValidation: async (request) => {
        if ((request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) checkJsonTypes(request.body)
      },
    },
    async (request, reply) => {
      // a client that goes away cancels its job (dropped from the queue, or stopped at the next stage)
      const ac = new AbortController()
      const onClose = (): void => {
        if (!reply.raw.writableFinished) ac.abort()
      }
      reply.raw.on('close', onClose)
      // gone already while we read the body: 'close' has fired before we listened
      if (request.raw.socket?.destroyed) ac.abort()
      try {
        const { image, cls, format } = await readImage(request, urlFetch, ac.signal)
        request.bytesIn = image.length
        const result = await ocr.read(image, { signal: ac.signal, ...(cls !== undefined ? { cls } : {}) })
        metrics.observeTiming(result.timing_ms)
        metrics.lines.inc(result.lines.length)
        request.linesFound = result.lines.length
        if (format === 'text') return reply.type('text/plain; charset=utf-8').send(resultText(result))
        return reply.type('application/json; charset=utf-8').send(result)
      } finally {
        reply.raw.off('close', onClose)
      }
    },
  )
}

async function readImage(
  request: FastifyRequest<{ Querystring: Query }>,
  urlFetch: UrlFetchOptions | null,
  signal: AbortSignal,
): Promise<{ image: Buffer; cls?: boolean; format: 'json' | 'text' }> {
  const q = request.query
  let cls = q.cls
  let format = q.format ?? 'json'
  const type = (request.headers['content-type'] ?? '').toLowerCase()
  let image: Buffer
  if (type.startsWith('multipart/form-data')) {
    const part = await readMultipart(request)
    image = part.image
    if (part.cls !== undefined) cls = part.cls
    if (part.format !== undefined) format = part.format
  } else if (Buffer.isBuffer(request.body)) {
    image = request.body
  } else if (request.body && typeof request.body === 'object') {
    const body = request.body as JsonBody
    if ((body.image === undefined) === (body.url === undefined)) throw new OcrError('BAD_REQUEST', 'send exactly one of "image" (base64) and "url"')
    if (body.url !== undefined) {
      if (!urlFetch) throw new OcrError('URL_NOT_ALLOWED', 'this server does not fetch image URLs (OCR_URL_ALLOWLIST is empty); send the image itself')
      image = await fetchImageUrl(body.url, urlFetch, signal)
    } else {
      image = decodeBase64Image(body.image!)
    }
    if (body.cls !== undefined) cls = body.cls
    if (body.format !== undefined) format = body.format
  } else {
    throw new OcrError('BAD_REQUEST', 'no image: send it as the body, a multipart field "image", or JSON {"image": base64}')
  }
  if (image.length === 0) throw new OcrError('BAD_REQUEST', 'the image is empty')
  return { image, format, ...(cls !== undefined ? { cls } : {}) }
}

/** Multipart parse failures without a code (busboy: "Unexpected end of form", ...) are bad requests, not 500s. */
async function readMultipart(request: FastifyRequest): Promise<{ image: Buffer; cls?: boolean; format?: 'json' | 'text' }> {
  try {
    return await readMultipartParts(request)
  } catch (err) {
    // ours, or @fastify/multipart's coded errors (they carry their HTTP status: 413 file too large, ...)
    if (err instanceof OcrError || typeof (err as { statusCode?: unknown }).statusCode === 'number') throw err
    throw new OcrError('BAD_REQUEST', `malformed multipart body: ${(err as Error).message}`, { cause: err })
  }
}

async function readMultipartParts(request: FastifyRequest): Promise<{ image: Buffer; cls?: boolean; format?: 'json' | 'text' }> {
  let image: Buffer | null = null
  const opts: { cls?: boolean; format?: 'json' | 'text' } = {}
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image' || image) {
        await part.toBuffer() // drain
        if (part.fieldname !== 'image') throw new OcrError('BAD_REQUEST', `unexpected file field "${part.fieldname}"; send the image in "image"`)
        throw new OcrError('BAD_REQUEST', 'send exactly one file in "image"')
      }
      image = await part.toBuffer()
    } else if (part.fieldname === 'cls' || part.fieldname === 'format') {
      const v = String(part.value)
      if (part.fieldname === 'cls') {
        if (v !== 'true' && v !== 'false') throw new OcrError('BAD_REQUEST', 'cls must be true or false')
        opts.cls = v === 'true'
      } else {
        if (v !== 'json' && v !== 'text') throw new OcrError('BAD_REQUEST', 'format must be json or text')
        opts.format = v
      }
    }
  }
  if (!image) throw new OcrError('BAD_REQUEST', 'multipart request has no file field "image"')
  return { image, ...opts }
}

declare module 'fastify' {
  interface FastifyRequest {
    bytesIn?: number
    linesFound?: number
    /** Set by the error handler for the request's log line. */
    failure?: { code: string; message: string }
  }
}
