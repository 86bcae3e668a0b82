/**
 * Maps every failure to the catalogue (src/errors.ts) and the one error body:
 * {"error": {"code", "message", "request_id"}}. Fastify's own errors (body too large, bad content type,
 * validation) are translated, so clients never see a different shape. Bad input is never a 500.
 */
import type { FastifyError } from 'fastify'
import { ERRORS, OcrError, type ErrorCode } from '../errors.js'

export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id?: string }
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'BAD_REQUEST',
  FST_PARTS_LIMIT: 'BAD_REQUEST',
  FST_FIELDS_LIMIT: 'BAD_REQUEST',
  FST_PROTO_VIOLATION: 'BAD_REQUEST',
  FST_INVALID_JSON_FIELD_ERROR: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA',
  FST_ERR_VALIDATION: 'BAD_REQUEST',
}

export function toHttpError(err: unknown): OcrError {
  if (err instanceof OcrError) return err
  const e = err as FastifyError & { validation?: unknown }
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined
  if (mapped === 'UNSUPPORTED_MEDIA') {
    return new OcrError(mapped, `${e.message}: send image/*, application/octet-stream, multipart/form-data (field "image") or application/json`, { cause: err })
  }
  if (e?.code === 'FST_FILES_LIMIT') return new OcrError('BAD_REQUEST', 'send exactly one file, in the field "image"', { cause: err })
  if (mapped) return new OcrError(mapped, e.message, { cause: err })
  if (e?.validation) return new OcrError('BAD_REQUEST', e.message, { cause: err })
  if (err instanceof SyntaxError) return new OcrError('BAD_REQUEST', `invalid JSON: ${err.message}`, { cause: err })
  // other client errors fastify raises (4xx statusCode) stay client errors
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : e.statusCode === 415 ? 'UNSUPPORTED_MEDIA' : e.statusCode === 404 ? 'NOT_FOUND' : 'BAD_REQUEST'
    return new OcrError(code, e.message, { cause: err })
  }
  return new OcrError('INTERNAL', 'internal error', { cause: err })
}

/** Seconds for the Retry-After header: the error's own hint, else 1 s for every 429/503. */
export function retryAfterSec(err: OcrError): number | undefined {
  if (err.retryAfterSec !== undefined) return err.retryAfterSec
  return err.status === 429 || err.status === 503 ? 1 : undefined
}

/** The one error body; never a stack (INTERNAL errors say only "internal error" unless ours). */
export function errorBody(err: OcrError, requestId?: string): ErrorBody {
  return { error: { code: err.code, message: err.message, ...(requestId !== undefined ? { request_id: requestId } : {}) } }
}

/** JSON schema of the error body, shared by every route's responses. */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERRORS) },
        message: { type: 'string' },
        request_id: { type: 'string', description: 'The request id (also the X-Request-Id response header and `reqId` in the logs)' },
      },
    },
  },
} as const
