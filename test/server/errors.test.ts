/** Table-driven: fastify/multipart failures → the catalogue, strict base64, Retry-After, key checks. */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ERRORS, OcrError } from '../../src/errors.js'
import { keyMatches } from '../../src/server/security.js'
import { errorBody, formatBytes, retryAfterSec, toHttpError } from '../../src/server/errors.js'
import { decodeBase64Image } from '../../src/server/routes/ocr.js'

const fastifyError = (code: string, statusCode: number, message = code) => Object.assign(new Error(message), { code, statusCode })

describe('toHttpError', () => {
  it.each([
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'PAYLOAD_TOO_LARGE'],
    ['FST_REQ_FILE_TOO_LARGE', 413, 'PAYLOAD_TOO_LARGE'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'UNSUPPORTED_MEDIA'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 'BAD_REQUEST'],
    ['FST_ERR_VALIDATION', 400, 'BAD_REQUEST'],
    ['FST_FILES_LIMIT', 413, 'BAD_REQUEST'],
    ['FST_PROTO_VIOLATION', 400, 'BAD_REQUEST'],
    ['FST_INVALID_MULTIPART_CONTENT_TYPE', 406, 'BAD_REQUEST'],
    ['FST_SOMETHING_NEW_413', 413, 'PAYLOAD_TOO_LARGE'],
    ['FST_SOMETHING_NEW_400', 400, 'BAD_REQUEST'],
  ] as const)('%s (%i) → %s', (code, status, expected) => {
    const e = toHttpError(fastifyError(code, status))
    expect(e.code).toBe(expected)
    expect(e.status).toBe(ERRORS[expected].status)
  })

  it('keeps OcrErrors as they are', () => {
    const err = new OcrError('UNDECODABLE_IMAGE', 'truncated')
    expect(toHttpError(err)).toBe(err)
  })

  it('invalid JSON is a 400, anything unknown is a 500 without leaking its message', () => {
    expect(toHttpError(new SyntaxError('Unexpected end of JSON input')).code).toBe('BAD_REQUEST')
    const internal = toHttpError(new TypeError('cannot read properties of undefined (reading "secret")'))
    expect(internal.code).toBe('INTERNAL')
    expect(errorBody(internal)).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } })
  })
})

describe('formatBytes', () => {
  it.each([
    [900, '900 bytes'],
    [1536, '1.5 KiB'],
    [20 * 2 ** 20, '20 MiB'],
    [104857600, '100 MiB'],
    [1.25 * 2 ** 30, '1.3 GiB'],
  ])('%i → %s', (n, text) => {
    expect(formatBytes(n)).toBe(text)
  })
})

describe('retryAfterSec', () => {
  it('uses the error’s hint, else 1 s for every 429/503, else none', () => {
    expect(retryAfterSec(new OcrError('OVERLOADED', 'full', { retryAfterSec: 3 }))).toBe(3)
    for (const code of ['OVERLOADED', 'NOT_READY', 'SHUTTING_DOWN', 'TOO_MANY_REQUESTS'] as const) expect(retryAfterSec(new OcrError(code, 'x'))).toBe(1)
    for (const code of ['BAD_REQUEST', 'TIMEOUT', 'INTERNAL', 'MODEL_ERROR'] as const) expect(retryAfterSec(new OcrError(code, 'x'))).toBeUndefined()
  })
})

describe('decodeBase64Image', () => {
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xfb, 0xff, 0xfe])
  it.each([
    ['padded standard', bytes.toString('base64')],
    ['unpadded standard', bytes.toString('base64').replace(/=+$/, '')],
    ['URL alphabet', bytes.toString('base64url')],
    ['data: URL', `data:image/png;base64,${bytes.toString('base64')}`],
    ['with line breaks', bytes.toString('base64').replace(/(.{4})/g, '$1\n')],
  ])('accepts %s', (_, s) => {
    expect(decodeBase64Image(s)).toEqual(bytes)
  })
  it.each([
    ['empty', ''],
    ['only whitespace', ' \n '],
    ['not base64', '@@@@'],
    ['mixed alphabets', 'ab+_cd=='],
    ['impossible length (4n+1)', 'abcde'],
    ['padding in the middle', 'ab==cd=='],
    ['data: URL without base64', 'data:image/png,abcd'],
    ['a JSON-looking string', '{"image":"x"}'],
  ])('rejects %s with BAD_REQUEST', (_, s) => {
    expect(() => decodeBase64Image(s)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }))
  })
})

describe('keyMatches', () => {
  const digests = ['alpha-key', 'beta'].map((k) => createHash('sha256').update(k).digest())
  it.each([
    ['alpha-key', true],
    ['beta', true],
    ['alpha', false],
    ['alpha-key ', false],
    ['', false],
    ['x'.repeat(10_000), false],
  ])('%j → %s', (key, ok) => {
    expect(keyMatches(key, digests)).toBe(ok)
  })
})
