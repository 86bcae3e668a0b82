/**
 * Readiness and model-server failures through the real engine in remote mode, against a small
 * stand-in model server whose health we control (ready / 503 / hung) and whose inference fails.
 */
import { once } from 'node:events'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import { startService, type Service } from '../../src/server/index.js'
import { textImage } from '../helpers/images.js'

type Health = 'ready' | 'down' | 'hung'

let health: Health = 'ready'
let healthHits = 0
const hung: ServerResponse[] = []
let stub: Server
let svc: Service

async function errorBody(res: Response): Promise<{ code: string; message: string }> {
  expect(res.headers.get('content-type')).toMatch(/application\/json/)
  return ((await res.json()) as { error: { code: string; message: string } }).error
}

/** Waits out the /readyz cache (1 s) so the next probe asks the engine again. */
const pastCache = () => new Promise((r) => setTimeout(r, 1100))

beforeAll(async () => {
  stub = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.endsWith('/ready')) {
      if (req.url === '/v2/health/ready') healthHits++
      if (health === 'hung') return void hung.push(res)
      res.writeHead(health === 'ready' ? 200 : 503).end()
      return
    }
    // everything else (metadata, inference) fails the way a misconfigured server does
    req.resume()
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unknown model: ocr_det' }))
  })
  stub.listen(0, '127.0.0.1')
  await once(stub, 'listening')
  const port = (stub.address() as AddressInfo).port
  svc = await startService(
    loadServiceConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      OCR_WORKERS: '1',
      OCR_MODE: 'remote',
      OCR_REMOTE_URL: `http://127.0.0.1:${port}`,
      OCR_REMOTE_RETRIES: '0',
      OCR_REMOTE_TIMEOUT_MS: '10000',
    }),
  )
})

afterAll(async () => {
  for (const res of hung) res.destroy()
  await svc?.close()
  stub?.closeAllConnections()
  stub?.close()
})

describe('/readyz in remote mode', () => {
  it('is 200 when the model server and its three models are ready, and caches the answer', async () => {
    health = 'ready'
    const before = healthHits
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`${svc.url}/readyz`)))
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(await answers[0]!.json()).toEqual({ status: 'ready' })
    // ten probes at once: one question to the model server
    expect(healthHits - before).toBe(1)
  })

  it('is 503 NOT_READY with Retry-After when the model server says 503', async () => {
    await pastCache()
    health = 'down'
    const res = await fetch(`${svc.url}/readyz`)
    expect(res.status).toBe(503)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await errorBody(res)).code).toBe('NOT_READY')
  })

  it('answers 503 within a second when the model server hangs, without piling up checks', async () => {
    await pastCache()
    health = 'hung'
    const before = healthHits
    const t0 = performance.now()
    const res = await fetch(`${svc.url}/readyz`)
    const ms = performance.now() - t0
    expect(res.status).toBe(503)
    expect((await errorBody(res)).code).toBe('NOT_READY')
    expect(ms).toBeLessThan(1000)
    // the hung check is still open: later probes wait on it instead of asking again
    await pastCache()
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(503)
    expect(healthHits - before).toBe(1)
    // the server recovers: once the hung call ends, readiness comes back
    health = 'ready'
    for (const r of hung.splice(0)) r.writeHead(200).end()
    await pastCache()
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200)
  })

  it('/healthz stays 200 whatever the model server does', async () => {
    health = 'down'
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200)
    health = 'ready'
  })
})

describe('POST /v1/ocr when the model server fails', () => {
  it('a model-server error is 502 MODEL_ERROR, not 500', async () => {
    const img = await textImage(['MODEL SERVER'])
    const res = await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
    expect(res.status).toBe(502)
    const err = await errorBody(res)
    expect(err.code).toBe('MODEL_ERROR')
    expect(err.message).toMatch(/400/)
  })

  it('an unreachable model server is 503 NOT_READY with Retry-After', async () => {
    const img = await textImage(['NO SERVER'])
    const gone = await startService(
      loadServiceConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        OCR_WORKERS: '1',
        OCR_MODE: 'remote',
        OCR_REMOTE_URL: `http://127.0.0.1:${await closedPort()}`,
        OCR_REMOTE_RETRIES: '0',
      }),
    )
    try {
      const res = await fetch(`${gone.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
      expect(res.status).toBe(503)
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
      expect((await errorBody(res)).code).toBe('NOT_READY')
      expect((await fetch(`${gone.url}/readyz`)).status).toBe(503)
    } finally {
      await gone.close()
    }
  })
})

/** A port that was just free and is now closed (connections to it are refused). */
async function closedPort(): Promise<number> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as AddressInfo
  s.close()
  await once(s, 'close')
  return port
}
