/** /docs/json validated against the official OpenAPI JSON schema; every public route documented. */
import { readFileSync } from 'node:fs'
import { Validator } from '@seriousme/openapi-schema-validator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import { ERRORS } from '../../src/errors.js'
import { startService, type Service } from '../../src/server/index.js'

let svc: Service
let doc: any

beforeAll(async () => {
  svc = await startService(loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1' }))
  const res = await fetch(`${svc.url}/docs/json`)
  expect(res.status).toBe(200)
  doc = await res.json()
})
afterAll(async () => svc?.close())

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3 document (official schema) whose $refs all resolve', async () => {
    const validator = new Validator()
    const res = await validator.validate(structuredClone(doc))
    expect(res.errors ?? []).toEqual([])
    expect(res.valid).toBe(true)
    expect(validator.version).toMatch(/^3\./)
    const resolved = JSON.stringify(validator.resolveRefs())
    expect(resolved).not.toContain('"$ref"')
  })

  it("says the package's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    expect(doc.info.version).toBe(pkg.version)
  })

  it('documents every API route, and not the web page', () => {
    expect(Object.keys(doc.paths).sort()).toEqual(['/healthz', '/metrics', '/readyz', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/result', '/v1/models', '/v1/ocr', '/v1/preview'])
  })

  it('POST /v1/ocr: the three body forms, the options, the result and the error shape', () => {
    const op = doc.paths['/v1/ocr'].post
    expect(Object.keys(op.requestBody.content).sort()).toEqual(['application/json', 'application/octet-stream', 'application/pdf', 'image/*', 'multipart/form-data'])
    // JSON: exactly one of image (base64) and url (fetched only when the server allow-lists hosts)
    expect(Object.keys(op.requestBody.content['application/json'].schema.properties).sort()).toEqual(['cls', 'dpi', 'format', 'image', 'model', 'pages', 'pdf_text', 'url', 'words'])
    expect(op.requestBody.content['application/json'].schema.additionalProperties).toBe(false)
    expect(Object.keys(op.requestBody.content['multipart/form-data'].schema.properties).sort()).toEqual(['cls', 'dpi', 'format', 'image', 'model', 'pages', 'pdf_text', 'words'])
    expect(op.requestBody.content['multipart/form-data'].schema.properties.image).toMatchObject({ type: 'string', format: 'binary' })
    expect(Object.fromEntries(op.parameters.map((p: { name: string; in: string }) => [p.name, p.in]))).toEqual({ model: 'query', cls: 'query', format: 'query', pages: 'query', dpi: 'query', pdf_text: 'query', words: 'query' })
    expect(Object.keys(op.responses['200'].content).sort()).toEqual(['application/alto+xml', 'application/json', 'application/pdf', 'application/x-ndjson', 'text/plain', 'text/vnd.hocr+html'])
    expect(op.security).toEqual([{ bearer: [] }, { apiKey: [] }])
    expect(doc.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } })
    // the error schema lists every code of the catalogue
    const errorSchema = Object.values(doc.components.schemas as Record<string, { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }>).find(
      (s) => s.properties?.error,
    )
    expect(errorSchema?.properties?.error?.properties?.code?.enum?.sort()).toEqual(Object.keys(ERRORS).sort())
    expect(Object.keys(errorSchema?.properties?.error?.properties ?? {}).sort()).toEqual(['code', 'message', 'request_id'])
  })

  it('the job routes: body forms as /v1/ocr (no format), 202, status schema, result formats, delete', () => {
    const post = doc.paths['/v1/jobs'].post
    expect(Object.keys(post.requestBody.content).sort()).toEqual(['application/json', 'application/octet-stream', 'application/pdf', 'image/*', 'multipart/form-data'])
    expect(post.requestBody.content['multipart/form-data'].schema.properties.format).toBeUndefined()
    expect(post.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['cls', 'dpi', 'model', 'pages', 'pdf_text', 'words'])
    expect(Object.keys(post.responses)).toContain('202')
    expect(post.security).toEqual([{ bearer: [] }, { apiKey: [] }])
    const get = doc.paths['/v1/jobs/{id}'].get
    expect(get.parameters.map((p: { name: string; in: string }) => [p.name, p.in])).toEqual([['id', 'path']])
    const status = doc.components.schemas[get.responses['200'].content['application/json'].schema.$ref.split('/').pop()]
    expect(status.properties.status.enum).toEqual(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired'])
    expect(status.required).toEqual(expect.arrayContaining(['id', 'status', 'pages_done', 'pages_total']))
    const result = doc.paths['/v1/jobs/{id}/result'].get
    expect(result.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['format', 'id', 'partial', 'words'])
    expect(Object.keys(doc.paths['/v1/jobs/{id}'].delete.responses)).toEqual(expect.arrayContaining(['200', '204']))
  })

  it('/readyz documents its 503', () => {
    expect(Object.keys(doc.paths['/readyz'].get.responses).sort()).toEqual(['200', '503'])
  })
})
