/**
 * Maps every failure to the catalogue (src/errors.ts) and the one error body:
 * {"error": {"code", "message", "request_id"}}. Fastify's own errors (body too large, bad content type,
 * validation) are translated, so clients never see a different shape. Bad input is never a 500.
 */
import type { FastifyError, FastifySchemaValidationError } from 'fastify'
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

/** The part of a request a schema checks (fastify's SchemaErrorDataVar, which it does not export). */
type RequestPart = 'body' | 'headers' | 'params' | 'querystring'

/** How each part of a request names its members in a message. */
const PART_NAMES: Record<RequestPart, string> = {
  querystring: 'query parameter',
  body: 'field',
  params: 'path parameter',
  headers: 'header',
}

/** JSON schema types as a message says them. */
const TYPE_NAMES: Record<string, string> = { boolean: 'true or false', integer: 'an integer', number: 'a number', string: 'a string', object: 'an object', array: 'an array' }

/** A value as it is quoted in a message: JSON, cut short (a message never echoes a whole upload). */
function quote(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value)
  return s.length > 40 ? `${s.slice(0, 37)}...` : s
}

interface VerboseSchemaError extends FastifySchemaValidationError {
  /** With ajv's `verbose`: the schema object holding the failed keyword, and the value that failed. */
  parentSchema?: { properties?: Record<string, unknown>; type?: string; minimum?: number; maximum?: number }
  data?: unknown
}

/**
 * The message of a request that fails its route's schema (fastify's schemaErrorFormatter, so every
 * route says it the same way): which query parameter, field or path parameter is wrong, what it
 * may be (the allowed names or values, the range), and what was sent. Needs ajv's `verbose`.
 */
export function schemaErrorMessage(errors: readonly FastifySchemaValidationError[], part: RequestPart): string {
  const e = errors[0] as VerboseSchemaError | undefined
  const kind = PART_NAMES[part] ?? part
  if (!e) return `invalid ${kind}`
  const path = e.instancePath.split('/').slice(1).join('.')
  const named = (name: string): string => `${kind} "${name}"`
  const got = 'data' in e ? `; got ${quote(e.data)}` : ''
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys(e.parentSchema?.properties ?? {})
      const name = [path, String(e.params.additionalProperty)].filter(Boolean).join('.')
      return `unknown ${named(name)}; allowed: ${allowed.join(', ') || 'none'}`
    }
    case 'required':
      return `missing ${named([path, String(e.params.missingProperty)].filter(Boolean).join('.'))}`
    case 'enum':
      return `${named(path)} must be one of ${(e.params.allowedValues as unknown[]).map(String).join(', ')}${got}`
    case 'type':
      return `${named(path)} must be ${TYPE_NAMES[String(e.params.type)] ?? String(e.params.type)}${got}`
    case 'minimum':
    case 'maximum': {
      const s = e.parentSchema
      if (s?.minimum !== undefined && s.maximum !== undefined) {
        return `${named(path)} must be ${s.type === 'integer' ? 'an integer' : 'a number'} from ${s.minimum} to ${s.maximum}${got}`
      }
      return `${named(path)} ${e.message ?? 'is out of range'}${got}`
    }
    default:
      return path ? `${named(path)} ${e.message ?? 'is invalid'}${got}` : `the ${part === 'body' ? 'body' : kind} ${e.message ?? 'is invalid'}`
  }
}

/** fastify's schemaErrorFormatter: a BAD_REQUEST whose message names the member at fault. */
export function schemaError(errors: FastifySchemaValidationError[], part: RequestPart): Error {
  return new OcrError('BAD_REQUEST', schemaErrorMessage(errors, part))
}

/** What a route accepts as a body, for the message of a 413 (fastify's route `config.bodyLimit`). */
export interface BodyLimit {
  bytes: number
  /** The setting that sets it. */
  setting: string
  /** Where a larger upload can go instead. */
  larger?: { route: string; bytes: number; setting: string }
}

/** 20971520 → "20 MiB", 1536 → "1.5 KiB", 900 → "900 bytes". */
export function formatBytes(n: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= size) return `${Number((n / size).toFixed(1))} ${unit}`
  }
  return `${n} bytes`
}

/**
 * PAYLOAD_TOO_LARGE for a body over the route's limit: the limit (and its setting), the base64
 * overhead of a JSON body, and where a larger file can go.
 */
export function payloadTooLarge(limit: BodyLimit, json: boolean, cause?: unknown): OcrError {
  let message = `the request body is larger than this route takes: ${formatBytes(limit.bytes)} (${limit.bytes} bytes, ${limit.setting})`
  if (json) message += '; a JSON body carries the file as base64, a third larger than the file itself'
  const larger = limit.larger
  if (larger && larger.bytes > limit.bytes) {
    message += `. ${larger.route} takes documents and images up to ${formatBytes(larger.bytes)} (${larger.setting}) as an async job`
  }
  return new OcrError('PAYLOAD_TOO_LARGE', message, cause !== undefined ? { cause } : undefined)
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
