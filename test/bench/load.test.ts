import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { latencyByBody, pairedLatencyRatio, runLoad, startProbe, type Sample } from '../../bench/lib/load.js'

/** Answers POST /echo with 200 and the body's first byte, 503 for bodies starting with 'x'; tracks concurrency. */
let server: http.Server
let base = ''
let inFlight = 0
let maxInFlight = 0
const seen: string[] = []

beforeAll(async () => {
  server = http.createServer((req, res) => {
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      if (req.method === 'POST') seen.push(`${req.headers['content-type']}:${body}`)
      setTimeout(() => {
        inFlight--
        res.statusCode = body.startsWith('x') ? 503 : 200
        res.end(body.slice(0, 1))
      }, 5)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((r) => server.close(r))
})

describe('runLoad', () => {
  it('sends exactly `requests` requests, cycling through the bodies, at most `concurrency` in flight', async () => {
    seen.length = 0
    maxInFlight = 0
    const bodies = ['a', 'b', 'c'].map((t) => ({ data: Buffer.from(t), contentType: 'image/png', name: t }))
    const r = await runLoad({ url: `${base}/echo`, bodies, concurrency: 4, requests: 10, maxDurationMs: 30_000 })
    expect(r.completed).toBe(10)
    expect(r.errors).toBe(0)
    expect(r.statuses).toEqual({ '200': 10 })
    expect(maxInFlight).toBeLessThanOrEqual(4)
    expect(maxInFlight).toBeGreaterThan(1)
    expect(seen.sort()).toEqual(['image/png:a', 'image/png:a', 'image/png:a', 'image/png:a', 'image/png:b', 'image/png:b', 'image/png:b', 'image/png:c', 'image/png:c', 'image/png:c'])
    expect(r.samples.map((s) => s.body).sort()).toEqual([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    for (const s of r.samples) expect(s.ms).toBeGreaterThan(0)
  })

  it('counts non-200 answers and transport failures as errors', async () => {
    const bodies = [
      { data: Buffer.from('ok'), contentType: 'image/jpeg', name: 'ok' },
      { data: Buffer.from('xx'), contentType: 'image/jpeg', name: 'bad' },
    ]
    const r = await runLoad({ url: `${base}/echo`, bodies, concurrency: 1, requests: 4, maxDurationMs: 30_000 })
    expect(r.statuses).toEqual({ '200': 2, '503': 2 })
    expect(r.errors).toBe(2)

    const refused = await runLoad({ url: 'http://127.0.0.1:1/none', bodies, concurrency: 2, requests: 3, maxDurationMs: 30_000 })
    expect(refused.completed).toBe(3)
    expect(refused.errors).toBe(3)
    expect(Object.keys(refused.statuses)).toEqual(['error:ECONNREFUSED'])
  })

  it('stops starting requests after maxDurationMs', async () => {
    const bodies = [{ data: Buffer.from('a'), contentType: 'image/png', name: 'a' }]
    const r = await runLoad({ url: `${base}/echo`, bodies, concurrency: 1, requests: 1_000_000, maxDurationMs: 100 })
    expect(r.completed).toBeGreaterThan(0)
    expect(r.completed).toBeLessThan(1_000_000)
  })

  it('rejects an empty body list', async () => {
    await expect(runLoad({ url: `${base}/echo`, bodies: [], concurrency: 1, requests: 1, maxDurationMs: 100 })).rejects.toThrow(RangeError)
  })
})

describe('latency of the same bodies in two runs', () => {
  const sample = (body: number, ms: number, status = 200): Sample => ({ body, ms, status })
  it('takes each body median over its successful requests', () => {
    const by = latencyByBody([sample(0, 10), sample(0, 30), sample(0, 20), sample(1, 5), sample(1, 7), sample(2, 99, 503)])
    expect([...by]).toEqual([[0, 20], [1, 6]])
  })
  it('is the median over bodies of the per-body ratios, whatever body sits at the runs\' p50', () => {
    // three bodies of very different latency: remote 10 % slower on two of them, 50 % on the third
    const single = [sample(0, 20), sample(1, 200), sample(2, 400)]
    const remote = [sample(0, 22), sample(1, 220), sample(2, 600)]
    expect(pairedLatencyRatio(remote, single)).toBeCloseTo(1.1, 10)
    // a body only one run answered does not count
    expect(pairedLatencyRatio([...remote, sample(3, 5)], single)).toBeCloseTo(1.1, 10)
    expect(pairedLatencyRatio([sample(7, 1)], single)).toBeNull()
  })
})

describe('startProbe', () => {
  it('probes until stopped and separates failures from latencies', async () => {
    const ok = startProbe(`${base}/healthz`, 10)
    await new Promise((r) => setTimeout(r, 120))
    const a = await ok.stop()
    expect(a.latencies.length).toBeGreaterThan(1)
    expect(a.failures).toBe(0)

    const down = startProbe('http://127.0.0.1:1/healthz', 10)
    await new Promise((r) => setTimeout(r, 60))
    const b = await down.stop()
    expect(b.latencies).toEqual([])
    expect(b.failures).toBeGreaterThan(0)
  })
})
