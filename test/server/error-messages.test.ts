/**
 * Error messages that name what is wrong, through a real listening service: the query parameter or
 * field at fault with what it may be, the body limit a 413 hit (and where a larger file can go),
 * and 405 + Allow for a known path asked with another method, on every route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PDF_TEXT_MODES, loadServiceConfig } from '../../src/config.js'
import { FORMATS } from '../../src/formats/index.js'
import { startService, type Service } from '../../src/server/index.js'

let svc: Service
const MiB = 1024 * 1024

interface ErrorReply {
  status: number
  allow: string | null
  code: string
  message: string
}

async function send(path: string, init: RequestInit = {}): Promise<ErrorReply> {
  const res = await fetch(`${svc.url}${path}`, init)
  const body = (await res.json()) as { error: { code: string; message: string } }
  return { status: res.status, allow: res.headers.get('allow'), ...body.error }
}

const png = (body: RequestInit['body']): RequestInit => ({ method: 'POST', headers: { 'content-type': 'image/png' }, body })
const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

beforeAll(async () => {
  const limits = { OCR_MAX_BODY_BYTES: String(MiB), OCR_JOBS_MAX_BODY_BYTES: String(2 * MiB) }
  svc = await startService(loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1', ...limits }))
})
afterAll(async () => svc?.close())

describe('a request that fails its route schema names the member and what it may be', () => {
  it.each([
    ['an unknown query parameter on POST /v1/ocr', '/v1/ocr?foo=1', png('x'), /unknown query parameter "foo"; allowed: model, cls, pages, dpi, pdf_text, words, format$/],
    ['an unknown query parameter on POST /v1/jobs (no format there)', '/v1/jobs?foo=1', png('x'), /unknown query parameter "foo"; allowed: model, cls, pages, dpi, pdf_text, words$/],
    ['an unknown JSON field', '/v1/ocr', json({ image: 'aGk=', colour: true }), /unknown field "colour"; allowed: image, url, model, cls, pages, dpi, pdf_text, words, format$/],
    ['format outside the enum', '/v1/ocr?format=docx', png('x'), new RegExp(`query parameter "format" must be one of ${FORMATS.join(', ')}; got "docx"`)],
    ['pdf_text outside the enum, in JSON', '/v1/ocr', json({ image: 'aGk=', pdf_text: 'maybe' }), new RegExp(`field "pdf_text" must be one of ${PDF_TEXT_MODES.join(', ')}; got "maybe"`)],
    ['dpi out of range', '/v1/ocr?dpi=2000', png('x'), /query parameter "dpi" must be an integer from 36 to 1200; got 2000/],
    ['dpi not a number', '/v1/ocr?dpi=high', png('x'), /query parameter "dpi" must be an integer; got "high"/],
    ['cls not a boolean', '/v1/ocr?cls=maybe', png('x'), /query parameter "cls" must be true or false; got "maybe"/],
    ['a result format outside the enum', '/v1/jobs/abc/result?format=docx', {}, new RegExp(`query parameter "format" must be one of ${FORMATS.join(', ')}`)],
    ['an unknown result option', '/v1/jobs/abc/result?page=2', {}, /unknown query parameter "page"; allowed: format, partial, words$/],
    ['a job id over its length', `/v1/jobs/${'a'.repeat(65)}`, {}, /path parameter "id" must NOT have more than 64 characters/],
  ] as const)('%s', async (_, path, init, message) => {
    const r = await send(path, init)
    expect(r.status).toBe(400)
    expect(r.code).toBe('BAD_REQUEST')
    expect(r.message).toMatch(message)
  })
})

describe('413 states the limit, and on POST /v1/ocr where a larger file can go', () => {
  const big = Buffer.alloc(MiB + 1)
  const syncLimit = /larger than this route takes: 1 MiB \(1048576 bytes, OCR_MAX_BODY_BYTES\)/
  const toJobs = /POST \/v1\/jobs takes documents and images up to 2 MiB \(OCR_JOBS_MAX_BODY_BYTES\)/

  it('a raw body over OCR_MAX_BODY_BYTES', async () => {
    const r = await send('/v1/ocr', { method: 'POST', headers: { 'content-type': 'application/pdf' }, body: big })
    expect([r.status, r.code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])
    expect(r.message).toMatch(syncLimit)
    expect(r.message).toMatch(toJobs)
    expect(r.message).not.toMatch(/base64/)
  })
  it('a multipart file over OCR_MAX_BODY_BYTES', async () => {
    const form = new FormData()
    form.append('image', new Blob([big], { type: 'application/pdf' }), 'scan.pdf')
    const r = await send('/v1/ocr', { method: 'POST', body: form })
    expect([r.status, r.code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])
    expect(r.message).toMatch(syncLimit)
    expect(r.message).toMatch(toJobs)
  })
  it('a JSON body over the limit also says base64 is a third larger than the file', async () => {
    const r = await send('/v1/ocr', json({ image: big.toString('base64') }))
    expect([r.status, r.code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])
    expect(r.message).toMatch(syncLimit)
    expect(r.message).toMatch(/base64, a third larger/)
  })
  it('a body over OCR_JOBS_MAX_BODY_BYTES on POST /v1/jobs states that limit and points nowhere else', async () => {
    const r = await send('/v1/jobs', png(Buffer.alloc(2 * MiB + 1)))
    expect([r.status, r.code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])
    expect(r.message).toMatch(/larger than this route takes: 2 MiB \(2097152 bytes, OCR_JOBS_MAX_BODY_BYTES\)$/)
  })
})

describe('a known path with another method is 405 with Allow; an unknown path is 404', () => {
  it('GET /v1/ocr → 405, Allow: POST', async () => {
    const r = await send('/v1/ocr')
    expect([r.status, r.code, r.allow]).toEqual([405, 'METHOD_NOT_ALLOWED', 'POST'])
    expect(r.message).toBe('/v1/ocr does not take GET; it takes POST')
  })

  it('every route of the OpenAPI document (and the web page): each method it does not take → 405 listing those it does', async () => {
    const doc = (await (await fetch(`${svc.url}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> }
    const routes = Object.entries(doc.paths).map(([path, ops]) => [path.replace(/\{[^}]+\}/g, 'abc'), Object.keys(ops).map((m) => m.toUpperCase())] as const)
    routes.push(['/', ['GET']])
    expect(routes.length).toBeGreaterThanOrEqual(8)
    for (const [path, methods] of routes) {
      const takes = methods.includes('GET') ? [...methods, 'HEAD'] : [...methods]
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !takes.includes(m))) {
        const r = await send(path, { method })
        expect([path, method, r.status, r.code], r.message).toEqual([path, method, 405, 'METHOD_NOT_ALLOWED'])
        expect(r.allow!.split(', ').sort(), `${method} ${path}`).toEqual(takes.sort())
      }
    }
  })

  it('an unknown path → 404 without Allow', async () => {
    const r = await send('/v2/ocr', { method: 'POST' })
    expect([r.status, r.code, r.allow]).toEqual([404, 'NOT_FOUND', null])
  })
})
