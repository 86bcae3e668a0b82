/**
 * The fuzz/abuse suite: over a thousand hostile requests (test/server/fuzz-cases.ts, generated
 * from FUZZ_SEED) against one real `ocrserve serve` child process. Every request must get a 200
 * (a damaged image that still decodes) or a catalogued 4xx in the one error shape, with its
 * request id and without a stack; never a 5xx, never a dropped connection. The process must stay
 * up: /healthz is probed after every case and a good image is read after every GOOD_EVERY cases.
 * Decompression bombs must be refused from the header (the header check's message). Slow uploads
 * are cut off by OCR_BODY_TIMEOUT_MS with 408. Summary: test-artifacts/fuzz-summary.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERRORS, type ErrorCode } from '../../src/errors.js'
import { buildOnce } from '../helpers/build.js'
import { squash, textImage, type TextImage } from '../helpers/images.js'
import { generateCases, httpRequest, OK, type FuzzCase } from './fuzz-cases.js'
import { rawRequest, type RawResponse } from './raw-http.js'
import { logLines, startServeChild, type ServeChild } from './serve-child.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261124)
const GOOD_EVERY = 20
const LIMITS = { maxPixels: 4_000_000, maxPages: 20, maxBodyBytes: 2 * 1024 * 1024 }
const BODY_TIMEOUT_MS = 1500
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)

let serve: ServeChild
let good: TextImage
let cases: FuzzCase[]

beforeAll(async () => {
  await buildOnce()
  good = await textImage(['HELLO WORLD 2024'], 30)
  cases = await generateCases(SEED, LIMITS)
  serve = await startServeChild({
    OCR_WORKERS: '1',
    OCR_MAX_PIXELS: String(LIMITS.maxPixels),
    OCR_MAX_PAGES: String(LIMITS.maxPages),
    OCR_MAX_BODY_BYTES: String(LIMITS.maxBodyBytes),
    OCR_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
    // input handling is under test, not deadlines: a busy CI machine must not turn a slow read into a 504
    OCR_REQUEST_TIMEOUT_MS: '120000',
    LOG_LEVEL: 'warn',
  })
})
afterAll(() => serve?.kill())

/** What is wrong with an answer to a case ('' = fine). */
function judge(c: FuzzCase, res: RawResponse | null): string {
  if (!res) return 'no HTTP answer (connection dropped or timed out)'
  if (res.status === 200) return c.expect.includes(OK) ? '' : `200, expected ${c.expect.join('|')}`
  if (res.status >= 500) return `${res.status} ${res.body.toString().slice(0, 300)}`
  let body: { error?: { code?: string; message?: string; request_id?: string } }
  try {
    body = JSON.parse(res.body.toString('utf8'))
  } catch {
    return `${res.status} without a JSON body: ${res.body.toString().slice(0, 100)}`
  }
  const code = body.error?.code as ErrorCode | undefined
  if (!code || !(code in ERRORS)) return `unknown code ${code}`
  if (ERRORS[code].status !== res.status) return `${code} with status ${res.status}`
  if (!c.expect.includes(code)) return `${res.status} ${code} (${body.error?.message}), expected ${c.expect.join('|')}`
  if (!body.error?.message) return 'no message'
  if (!body.error.request_id || body.error.request_id !== res.headers['x-request-id']) return `request_id ${body.error.request_id} vs header ${res.headers['x-request-id']}`
  if (/\n\s+at |\.ts:\d+|\.js:\d+/.test(body.error.message)) return `stack in the message: ${body.error.message}`
  if (c.fromHeader && code === 'IMAGE_TOO_LARGE' && !/the limit is/.test(body.error.message)) return `not refused from the header: ${body.error.message}`
  return ''
}

async function goodRead(): Promise<void> {
  const res = await rawRequest(serve.port, httpRequest(good.png, { 'content-type': 'image/png' }))
  expect(res?.status, res?.body.toString()).toBe(200)
  const body = JSON.parse(res!.body.toString()) as { lines: { text: string }[] }
  expect(body.lines.map((l) => squash(l.text))).toEqual(good.lines.map(squash))
}

const summary = { seed: SEED, cases: 0, byFamily: {} as Record<string, number>, byStatus: {} as Record<string, number>, msByFamily: {} as Record<string, number>, failures: [] as string[], goodReads: 0, healthProbes: 0, fiveXX: 0, crashes: 0, maxMs: 0, slowLoris: [] as number[] }

describe(`fuzz: hostile requests against ocrserve serve (seed ${SEED})`, () => {
  it('generates more than 1000 distinct cases, deterministically', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(1000)
    const again = await generateCases(SEED, LIMITS)
    expect(again.map((c) => c.request.toString('base64'))).toEqual(cases.map((c) => c.request.toString('base64')))
    expect(new Set(cases.map((c) => c.family))).toEqual(new Set(['random-bytes', 'empty', 'truncated', 'bit-flip', 'bomb', 'extreme-size', 'multipart', 'base64', 'json', 'content-type', 'http']))
  })

  it('every case: 200 or a catalogued 4xx with request id, never a 5xx; the service keeps serving', async () => {
    for (const [i, c] of cases.entries()) {
      const res = await rawRequest(serve.port, c.request)
      summary.cases++
      summary.byFamily[c.family] = (summary.byFamily[c.family] ?? 0) + 1
      summary.byStatus[String(res?.status ?? 'none')] = (summary.byStatus[String(res?.status ?? 'none')] ?? 0) + 1
      if (res && res.status >= 500) summary.fiveXX++
      summary.maxMs = Math.max(summary.maxMs, Math.round(res?.ms ?? 0))
      summary.msByFamily[c.family] = Math.round((summary.msByFamily[c.family] ?? 0) + (res?.ms ?? 0))
      const problem = judge(c, res)
      if (problem) summary.failures.push(`${c.family} / ${c.name}: ${problem}`)
      // liveness after every case
      const health = await fetch(`${serve.url}/healthz`).then((r) => r.status, () => 0)
      summary.healthProbes++
      if (health !== 200 || serve.child.exitCode !== null) {
        summary.crashes++
        throw new Error(`service down after ${c.family} / ${c.name}: healthz ${health}, exit ${serve.child.exitCode}\n${serve.output().slice(-3000)}`)
      }
      if (i % GOOD_EVERY === GOOD_EVERY - 1) {
        await goodRead()
        summary.goodReads++
      }
    }
    expect(summary.failures).toEqual([])
    expect(summary.fiveXX).toBe(0)
  }, 600_000)

  it('slow-loris uploads (headers, raw body, multipart) are cut off with 408 REQUEST_TIMEOUT; the service keeps serving', async () => {
    const trickle = (head: string, piece: string) => (socket: import('node:net').Socket) => {
      socket.write(head)
      const t = setInterval(() => (socket.writable ? socket.write(piece) : clearInterval(t)), 200)
      socket.on('close', () => clearInterval(t))
    }
    const slow = await Promise.all([
      // headers that never end
      rawRequest(serve.port, Buffer.alloc(0), { write: trickle('POST /v1/ocr HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n') }),
      // a raw body far slower than its Content-Length
      rawRequest(serve.port, Buffer.alloc(0), { write: trickle('POST /v1/ocr HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n', 'abcd') }),
      // a multipart upload that trickles
      rawRequest(serve.port, Buffer.alloc(0), {
        write: trickle('POST /v1/ocr HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=s\r\nContent-Length: 100000\r\n\r\n--s\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n', 'abcd'),
      }),
    ])
    for (const res of slow) {
      expect(res?.status).toBe(408)
      const body = JSON.parse(res!.body.toString()) as { error: { code: string; request_id: string } }
      expect(body.error.code).toBe('REQUEST_TIMEOUT')
      expect(body.error.request_id).toBe(res!.headers['x-request-id'])
      summary.slowLoris.push(Math.round(res!.ms))
    }
    summary.cases += slow.length
    summary.byStatus['408'] = (summary.byStatus['408'] ?? 0) + slow.length
    await goodRead()
  }, 60_000)

  it('the process logged no crash and no error', () => {
    expect(serve.child.exitCode).toBeNull()
    const bad = logLines(serve.output()).filter((l) => Number(l.level) >= 50)
    expect(bad).toEqual([])
    mkdirSync(ARTIFACTS, { recursive: true })
    writeFileSync(new URL('fuzz-summary.json', ARTIFACTS), JSON.stringify(summary, null, 2))
  })
})
