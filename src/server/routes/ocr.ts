/** POST /v1/ocr: the image or document as the raw body, a multipart field `image`, or JSON {"image": base64}. */
import type { FastifyInstance } from 'fastify'
import type { Ocr } from '../../engine.js'
import { formatNeedsWords } from '../../formats/index.js'
import { OcrError, toOcrError } from '../../errors.js'
import { checkJsonTypes, readDocument, type WireOptions } from '../document-input.js'
import type { UrlFetchOptions } from '../fetch-url.js'
import type { ServerMetrics } from '../metrics.js'
import { chooseFormat, sendResult } from '../result-reply.js'
import { ocrJsonBodySchema, ocrQuerySchema, resultResponseContent } from '../schemas.js'

export { decodeBase64Image } from '../document-input.js'

export interface OcrRouteOptions {
  ocr: Ocr
  metrics: ServerMetrics
  maxBodyBytes: number
  /** POST /v1/jobs's body limit, which a 413 here points to. */
  jobsMaxBodyBytes: number
  /** Most (selected) pages one call reads; more → TOO_MANY_PAGES pointing to POST /v1/jobs. */
  syncMaxPages: number
  /** Image URL fetching; null = JSON {"url"} is refused with URL_NOT_ALLOWED. */
  urlFetch: Omit<UrlFetchOptions, 'maxBytes'> | null
}

export function registerOcrRoute(app: FastifyInstance, deps: OcrRouteOptions): void {
  const { ocr, metrics } = deps
  // a document the engine would read as a job is pointed there; one over the engine's own cap is not
  const maxPages = Math.min(deps.syncMaxPages, ocr.settings.maxPages)
  app.post<{ Querystring: WireOptions }>(
    '/v1/ocr',
    {
      config: {
        bodyLimit: {
          bytes: deps.maxBodyBytes,
          setting: 'OCR_MAX_BODY_BYTES',
          larger: { route: 'POST /v1/jobs', bytes: deps.jobsMaxBodyBytes, setting: 'OCR_JOBS_MAX_BODY_BYTES' },
        },
      },
      schema: {
        summary: 'Read the text in an image or a short document',
        description:
          'Send the image as the raw body (`Content-Type: image/*`, `application/pdf` or `application/octet-stream`), as a `multipart/form-data` field named `image`, or as JSON `{"image": "<base64>"}`. JPEG, PNG, WebP, GIF (first frame), BMP, TIFF and PDF (every page, or those `pages=` selects). ' +
          'JSON `{"url": "https://..."}` only when the server allows URL fetching (`OCR_URL_ALLOWLIST`). ' +
          `Documents with more selected pages than OCR_SYNC_MAX_PAGES get 413 TOO_MANY_PAGES: send them to POST /v1/jobs.`,
        tags: ['ocr'],
        querystring: ocrQuerySchema,
        // validated: the JSON form; the raw and multipart forms are added to the OpenAPI document
        // by RAW_BODY_DOC in app.ts (they have no JSON body to validate)
        body: { content: { 'application/json': { schema: ocrJsonBodySchema } } },
        security: [{ bearer: [] }, { apiKey: [] }],
        response: {
          200: {
            description: 'The text lines with their boxes, page by page, in the format asked for (`format=` or `Accept`)',
            content: resultResponseContent,
          },
          '4xx': { description: 'Client error (see docs/ERRORS.md)', $ref: 'Error#' },
          '5xx': { description: 'Overloaded, not ready, timed out, or a model-server failure', $ref: 'Error#' },
        },
      },
      preValidation: async (request) => checkJsonTypes(request),
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
        const doc = await readDocument(request, { maxBytes: deps.maxBodyBytes, allowFormat: true, urlFetch: deps.urlFetch, signal: ac.signal })
        const format = chooseFormat(doc.format, request.headers.accept)
        request.bytesIn = doc.bytes.length
        // hOCR, ALTO and PDF place every word: the engine boxes them whatever `words` says
        const words = doc.options.words === true || formatNeedsWords(format)
        const result = await ocr.read(doc.bytes, { ...doc.options, words, maxPages, signal: ac.signal }).catch((err: unknown) => {
          throw pointToJobs(toOcrError(err), maxPages, ocr.settings.maxPages)
        })
        metrics.observeTiming(result.timing_ms)
        const lines = result.pages.reduce((n, p) => n + p.lines.length, 0)
        metrics.lines.inc(lines)
        request.linesFound = lines
        return sendResult(reply, format, result, { source: doc.bytes, fileName: doc.fileName })
      } finally {
        reply.raw.off('close', onClose)
      }
    },
  )
}

/** TOO_MANY_PAGES from the sync cap: say where such documents go (unless jobs could not take it either). */
function pointToJobs(err: OcrError, syncMax: number, engineMax: number): OcrError {
  if (err.code !== 'TOO_MANY_PAGES' || syncMax >= engineMax) return err
  return new OcrError(
    'TOO_MANY_PAGES',
    `${err.message} (OCR_SYNC_MAX_PAGES=${syncMax}): send it as an async job with POST /v1/jobs (same body and options), or select fewer pages with pages=`,
    { cause: err },
  )
}

declare module 'fastify' {
  interface FastifyRequest {
    bytesIn?: number
    linesFound?: number
    /** Set by the error handler for the request's log line. */
    failure?: { code: string; message: string }
  }
}
