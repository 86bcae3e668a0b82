/**
 * Request logs: one pino line per request with id, method, path, status, bytes, duration and lines
 * found; 4xx at info, 5xx at error; never the image bytes, never the query string.
 */
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import { startService, type Service } from '../../src/server/index.js'
import { textImage, type TextImage } from '../helpers/images.js'

interface LogLine {
  level: number
  msg: string
  reqId?: string
  method?: string
  path?: string
  status?: number
  bytesIn?: number
  ms?: number
  lines?: number
  code?: string
  [k: string]: unknown
}

const raw: string[] = []
let svc: Service
let img: TextImage

/** A pino logger whose JSON lines land in `raw`. */
function captureLogger() {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      done()
    },
  })
  return pino({ level: 'info' }, sink)
}

const requestLines = (): LogLine[] => raw.map((l) => JSON.parse(l) as LogLine).filter((l) => l.msg === 'request')

beforeAll(async () => {
  img = await textImage(['LOG LINE TEST'])
  svc = await startService(loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', OCR_WORKERS: '1', OCR_MAX_BODY_BYTES: '200000' }), captureLogger())
})
afterAll(async () => svc?.close())

describe('request logs', () => {
  it('one line per request with the fields, and nothing of the image or the query', async () => {
    const b64 = img.png.toString('base64')
    raw.length = 0
    const sent = [
      await fetch(`${svc.url}/v1/ocr?format=text&cls=true`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png }),
      await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'client-id-7' }, body: JSON.stringify({ image: b64 }) }),
      await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(300_000) }),
      await fetch(`${svc.url}/healthz`),
      // unknown query parameters are refused, and their values not logged
      await fetch(`${svc.url}/v1/ocr?api_key=SECRET-IN-QUERY`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png }),
    ]
    expect(sent.map((r) => r.status)).toEqual([200, 200, 415, 413, 200, 400])
    await new Promise((r) => setTimeout(r, 50)) // onResponse runs after the client has the answer
    const lines = requestLines()
    expect(lines).toHaveLength(sent.length)
    const [text, json, unsupported, tooLarge, health, badQuery] = lines as [LogLine, LogLine, LogLine, LogLine, LogLine, LogLine]

    expect(text).toMatchObject({ level: 30, method: 'POST', path: '/v1/ocr', status: 200, bytesIn: img.png.length, lines: 1 })
    expect(typeof text.reqId).toBe('string')
    expect(text.ms).toBeGreaterThan(0)
    // bytes in = the decoded image, for the JSON form too; the client's X-Request-Id is the log's reqId
    expect(json).toMatchObject({ reqId: 'client-id-7', status: 200, bytesIn: img.png.length, lines: 1 })
    // 4xx at info, with the error code on the same line
    expect(unsupported).toMatchObject({ level: 30, status: 415, code: 'UNSUPPORTED_MEDIA' })
    expect(tooLarge).toMatchObject({ level: 30, status: 413, code: 'PAYLOAD_TOO_LARGE' })
    expect(health).toMatchObject({ method: 'GET', path: '/healthz', status: 200 })
    expect(badQuery).toMatchObject({ level: 30, path: '/v1/ocr', status: 400, code: 'BAD_REQUEST' })
    expect(new Set(lines.map((l) => l.reqId)).size).toBe(lines.length)

    const all = raw.join('\n')
    expect(all).not.toContain('SECRET-IN-QUERY')
    expect(all).not.toContain('format=text')
    // the error names the unknown parameter (as the answer does), never its value
    expect(badQuery.error).toMatch(/unknown query parameter "api_key"/)
    for (let i = 100; i + 40 < b64.length; i += 400) expect(all).not.toContain(b64.slice(i, i + 40))
  })

  it('a 5xx is logged at error level, with the stack on its own line', async () => {
    // a 1 ms budget cannot be met: 504 TIMEOUT from the engine
    const slow = await startService(loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', OCR_WORKERS: '1', OCR_REQUEST_TIMEOUT_MS: '1' }), captureLogger())
    try {
      raw.length = 0
      const res = await fetch(`${slow.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
      expect(res.status).toBe(504)
      await new Promise((r) => setTimeout(r, 50))
      expect(requestLines()).toEqual([expect.objectContaining({ level: 50, status: 504, code: 'TIMEOUT', path: '/v1/ocr' })])
      const failure = raw.map((l) => JSON.parse(l) as LogLine).find((l) => l.msg !== 'request' && l.code === 'TIMEOUT')
      expect(failure).toMatchObject({ level: 50, err: { stack: expect.stringContaining('scheduler') } })
    } finally {
      await slow.close()
    }
  })
})
