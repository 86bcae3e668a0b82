/**
 * The error catalogue: every error ocrserve reports has a code listed here, with its HTTP status
 * and a one-line description (docs/ERRORS.md is checked against this table by a test).
 * Errors cross worker boundaries as {code, message, stack} and are rebuilt with fromJSON().
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, doc: 'The request is malformed: missing image, bad base64, bad option value.' },
  UNKNOWN_MODEL: { status: 400, doc: 'The request names a model pack the service does not have; the message lists the ones it has (GET /v1/models).' },
  BAD_PAGE_RANGE: { status: 400, doc: 'The page selection is malformed or starts past the last page of the document.' },
  UNAUTHORIZED: { status: 401, doc: 'API keys are configured and the request has no key or a wrong one.' },
  URL_NOT_ALLOWED: { status: 403, doc: 'Image URL fetching is off, or the URL (or a redirect) is not on OCR_URL_ALLOWLIST or resolves to a private address.' },
  NOT_FOUND: { status: 404, doc: 'No such route, file or job.' },
  METHOD_NOT_ALLOWED: { status: 405, doc: 'The path exists but does not take this method; the Allow header lists the methods it takes.' },
  REQUEST_TIMEOUT: { status: 408, doc: 'The request (headers and body) did not arrive within OCR_BODY_TIMEOUT_MS.' },
  JOB_NOT_FINISHED: { status: 409, doc: 'The async job has no result yet (queued or running); poll GET /v1/jobs/{id}.' },
  JOB_FAILED: { status: 409, doc: 'The async job ended without a result (failed or cancelled); GET /v1/jobs/{id} has its error.' },
  JOB_EXPIRED: { status: 410, doc: 'The async job finished longer ago than OCR_JOBS_TTL_SECONDS and its result was dropped.' },
  PAYLOAD_TOO_LARGE: { status: 413, doc: 'The request body is larger than OCR_MAX_BODY_BYTES.' },
  IMAGE_TOO_LARGE: { status: 413, doc: 'The image has more pixels than OCR_MAX_PIXELS, the document more pages than OCR_MAX_PAGES, or one side is over 1000 times the other.' },
  TOO_MANY_PAGES: { status: 413, doc: 'The document has more (selected) pages than this call accepts; use an async job (POST /v1/jobs).' },
  UNSUPPORTED_MEDIA: { status: 415, doc: 'The content type or format is not one ocrserve reads (JPEG, PNG, WebP, GIF, BMP, TIFF, PDF).' },
  UNDECODABLE_IMAGE: { status: 422, doc: 'The bytes claim a supported format but cannot be decoded (truncated or corrupt).' },
  ENCRYPTED_DOCUMENT: { status: 422, doc: 'The PDF is encrypted with a password (it does not open without one).' },
  URL_FETCH_FAILED: { status: 422, doc: 'The image URL could not be fetched: error status, unreachable, too slow, or too many redirects.' },
  TOO_MANY_REQUESTS: { status: 429, doc: 'Rate limited (OCR_RATE_LIMIT per API key); retry after the Retry-After header.' },
  HEADERS_TOO_LARGE: { status: 431, doc: 'The request headers are larger than the server accepts.' },
  CANCELLED: { status: 499, doc: 'The caller cancelled the job (client disconnected or AbortSignal fired).' },
  INTERNAL: { status: 500, doc: 'A bug: an unexpected failure inside ocrserve. Logged at error level.' },
  MODEL_ERROR: { status: 502, doc: 'The inference backend (local session or remote model server) returned an error.' },
  OVERLOADED: { status: 503, doc: 'The job queue is full (OCR_MAX_QUEUE); retry after the Retry-After header.' },
  NOT_READY: { status: 503, doc: 'Models are not loaded yet, or the remote model server is unreachable or not ready.' },
  SHUTTING_DOWN: { status: 503, doc: 'The service is shutting down and takes no new jobs.' },
  JOBS_UNAVAILABLE: { status: 503, doc: 'The job store (Redis, OCR_REDIS_URL) cannot be reached: /v1/jobs can neither take nor answer for jobs until it is back; POST /v1/ocr still works.' },
  TIMEOUT: { status: 504, doc: 'The job did not finish within OCR_REQUEST_TIMEOUT_MS (or the remote call timed out).' },
  INVALID_CONFIG: { status: 500, doc: 'A setting or environment variable has an invalid value (start-up only).' },
} as const satisfies Record<string, { status: number; doc: string }>

export type ErrorCode = keyof typeof ERRORS

export interface SerializedError {
  code: ErrorCode
  message: string
  stack?: string
  retryAfterSec?: number
}

export class OcrError extends Error {
  readonly code: ErrorCode
  readonly status: number
  /** Seconds a client should wait before retrying (429/503). */
  readonly retryAfterSec?: number

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSec?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined)
    this.name = 'OcrError'
    this.code = code
    this.status = ERRORS[code].status
    if (options?.retryAfterSec !== undefined) this.retryAfterSec = options.retryAfterSec
  }

  toJSON(): SerializedError {
    const out: SerializedError = { code: this.code, message: this.message }
    if (this.stack) out.stack = this.stack
    if (this.retryAfterSec !== undefined) out.retryAfterSec = this.retryAfterSec
    return out
  }

  static fromJSON(e: SerializedError): OcrError {
    const err = new OcrError(e.code in ERRORS ? e.code : 'INTERNAL', e.message, e.retryAfterSec !== undefined ? { retryAfterSec: e.retryAfterSec } : undefined)
    if (e.stack) err.stack = e.stack
    return err
  }
}

export function isOcrError(e: unknown): e is OcrError {
  return e instanceof OcrError
}

/** Any thrown value as an OcrError (unknown failures become INTERNAL, keeping the original as cause). */
export function toOcrError(e: unknown): OcrError {
  if (e instanceof OcrError) return e
  if (e instanceof Error && e.name === 'AbortError') return new OcrError('CANCELLED', e.message || 'cancelled', { cause: e })
  if (e instanceof Error) {
    const err = new OcrError('INTERNAL', e.message, { cause: e })
    if (e.stack) err.stack = e.stack
    return err
  }
  return new OcrError('INTERNAL', String(e))
}

/** Throws CANCELLED when `signal` has been aborted (checked between a job's steps). */
export function checkCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new OcrError('CANCELLED', 'job cancelled')
}

/** Serialise any error for postMessage across a worker boundary (keeps code, message and stack). */
export function serializeError(e: unknown): SerializedError {
  return toOcrError(e).toJSON()
}
