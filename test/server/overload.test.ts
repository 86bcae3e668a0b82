/**
 * Sustained overload and shutdown under load, against `ocrserve serve` child processes.
 * Overload: many more concurrent clients than one worker and a two-job queue can take, for a
 * bounded time. Excess requests get 503 OVERLOADED + Retry-After, accepted ones finish with their
 * text, /healthz answers throughout, and the process's memory stays bounded.
 * Shutdown: SIGTERM with a full queue loses no accepted request; later ones are refused cleanly.
 */
import { once } from 'node:events'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildOnce } from '../helpers/build.js'
import { squash, textImage, type TextImage } from '../helpers/images.js'
import { startServeChild, type ServeChild } from './serve-child.js'

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)
let img: TextImage
const children: ServeChild[] = []

beforeAll(async () => {
  await buildOnce()
  img = await textImage(['OVERLOAD 503'], 30)
})
afterEach(() => {
  for (const c of children.splice(0)) c.kill()
})

async function serve(env: Record<string, string>): Promise<ServeChild> {
  const c = await startServeChild({ OCR_WORKERS: '1', LOG_LEVEL: 'warn', ...env })
  children.push(c)
  return c
}

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

interface Answer {
  status: number
  code?: string
  retryAfter: string | null
  text?: string[]
}

async function post(url: string): Promise<Answer> {
  const res = await fetch(`${url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
  const body = (await res.json()) as { error?: { code: string }; lines?: { text: string }[] }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), ...(body.error ? { code: body.error.code } : {}), ...(body.lines ? { text: body.lines.map((l) => squash(l.text)) } : {}) }
}

describe('sustained overload', () => {
  it('24 clients against 1 worker + 2 queue slots for 6 s: 200 or 503 OVERLOADED + Retry-After; healthz up; memory bounded', async () => {
    const svc = await serve({ OCR_MAX_QUEUE: '2' })
    const pid = svc.child.pid!
    await post(svc.url) // warm
    const rssStart = rssMiB(pid)
    let rssPeak = rssStart
    const until = Date.now() + 6000
    const answers: Answer[] = []
    const health: number[] = []
    const healthMs: number[] = []
    const client = async (): Promise<void> => {
      while (Date.now() < until) {
        const a = await post(svc.url)
        answers.push(a)
        // a client that is told to retry later backs off a little, as Retry-After asks
        if (a.status === 503) await new Promise((r) => setTimeout(r, 50))
      }
    }
    const prober = async (): Promise<void> => {
      while (Date.now() < until) {
        const t0 = performance.now()
        health.push(await fetch(`${svc.url}/healthz`).then((r) => r.status, () => 0))
        healthMs.push(performance.now() - t0)
        rssPeak = Math.max(rssPeak, rssMiB(pid))
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    await Promise.all([prober(), ...Array.from({ length: 24 }, client)])

    const ok = answers.filter((a) => a.status === 200)
    const refused = answers.filter((a) => a.status === 503)
    expect(ok.length + refused.length, JSON.stringify(answers.filter((a) => a.status !== 200 && a.status !== 503))).toBe(answers.length)
    expect(ok.length).toBeGreaterThan(0)
    expect(refused.length).toBeGreaterThan(ok.length) // far over capacity: most are turned away
    for (const a of ok) expect(a.text).toEqual(img.lines.map(squash))
    for (const a of refused) {
      expect(a.code).toBe('OVERLOADED')
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1)
    }
    expect(health.length).toBeGreaterThan(3)
    expect(new Set(health)).toEqual(new Set([200]))
    // the queue bound bounds memory: nothing piles up
    expect(rssPeak).toBeLessThan(rssStart * 1.5 + 100)
    mkdirSync(ARTIFACTS, { recursive: true })
    const figures = { requests: answers.length, ok: ok.length, overloaded: refused.length, healthProbes: health.length, healthMaxMs: Math.round(Math.max(...healthMs)), rssStartMiB: Math.round(rssStart), rssPeakMiB: Math.round(rssPeak) }
    writeFileSync(new URL('overload.json', ARTIFACTS), JSON.stringify(figures, null, 2))
    // afterwards it serves normally
    expect((await post(svc.url)).status).toBe(200)
    expect(svc.child.exitCode).toBeNull()
  }, 120_000)
})

describe('graceful shutdown under load', () => {
  it('SIGTERM with 6 requests accepted: all 6 finish with their text, later ones are refused cleanly, exit 0', async () => {
    const svc = await serve({ OCR_MAX_QUEUE: '50' })
    const accepted = Array.from({ length: 6 }, () => post(svc.url))
    // wait until the service holds all six (one running, five queued)
    const deadline = Date.now() + 30_000
    for (;;) {
      const m = await (await fetch(`${svc.url}/metrics`)).text()
      const held = Number(/^ocr_queue_depth (\d+)/m.exec(m)?.[1]) + Number(/^ocr_inflight (\d+)/m.exec(m)?.[1])
      if (held === 6) break
      if (Date.now() > deadline) throw new Error(`only ${held} jobs held`)
      await new Promise((r) => setTimeout(r, 20))
    }
    svc.child.kill('SIGTERM')
    const exited = once(svc.child, 'exit') as Promise<[number]>
    // requests that arrive while it drains: refused (503 SHUTTING_DOWN or connection refused), never lost silently
    const late: (Answer | 'refused')[] = []
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 100))
      late.push(await post(svc.url).catch(() => 'refused' as const))
    }
    const results = await Promise.all(accepted)
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200))
    for (const r of results) expect(r.text).toEqual(img.lines.map(squash))
    for (const l of late) {
      if (l !== 'refused') expect([l.status, l.code]).toEqual([503, 'SHUTTING_DOWN'])
    }
    const [code] = await exited
    expect(code).toBe(0)
  }, 120_000)
})
