/**
 * The service as a real child process: `node bin/ocrserve.js serve`, health under load, graceful
 * shutdown with requests in flight, start-up config errors.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { squash, textImage, type TextImage } from '../helpers/images.js'
import { buildOnce } from '../helpers/build.js'
import { freePort } from './serve-child.js'

let img: TextImage
const children: ChildProcess[] = []

async function startServe(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const port = await freePort()
  const child = spawn(process.execPath, ['bin/ocrserve.js', 'serve'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d))
  child.stderr!.on('data', (d: Buffer) => (out += d))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${out}`)
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false)
    if (ok) break
    if (Date.now() > deadline) throw new Error(`serve not ready: ${out}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  return { child, url, output: () => out }
}

beforeAll(async () => {
  await buildOnce()
  img = await textImage()
})
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
})

const post = (url: string) => fetch(`${url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })

describe('ocrserve serve (child process)', () => {
  it('/healthz keeps answering while 8 OCR requests run concurrently (latency is measured by npm run bench, not asserted)', async () => {
    const { url } = await startServe({ OCR_WORKERS: '2' })
    let done = false
    const load = Promise.all(Array.from({ length: 8 }, () => post(url))).finally(() => (done = true))
    let probesDuringLoad = 0
    await new Promise((r) => setTimeout(r, 100)) // let the jobs reach the workers
    while (!done) {
      const res = await fetch(`${url}/healthz`)
      expect(res.status).toBe(200)
      if (!done) probesDuringLoad++
      await new Promise((r) => setTimeout(r, 20))
    }
    const results = await load
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200))
    // answered between and during the OCR runs, not queued behind them: inference is off the event loop
    expect(probesDuringLoad).toBeGreaterThan(5)
  })

  it('SIGTERM finishes in-flight requests, then exits 0', async () => {
    const { child, url, output } = await startServe({ OCR_WORKERS: '1' })
    const inflight = Array.from({ length: 3 }, () => post(url))
    await new Promise((r) => setTimeout(r, 150))
    child.kill('SIGTERM')
    const results = await Promise.all(inflight)
    expect(results.map((r) => r.status)).toEqual([200, 200, 200])
    const body = (await results[2]!.json()) as { lines: { text: string }[] }
    expect(body.lines.map((l) => squash(l.text))).toEqual(img.lines.map(squash))
    const [code] = (await once(child, 'exit')) as [number]
    expect(code).toBe(0)
    // after the signal it no longer takes connections
    await expect(fetch(`${url}/healthz`)).rejects.toThrow()
    expect(output()).toMatch(/shutting down/)
  })

  it('a bad environment value stops start-up with a message naming the variable', async () => {
    const child = spawn(process.execPath, ['bin/ocrserve.js', 'serve'], { env: { ...process.env, OCR_MODE: 'cloud' }, stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    let err = ''
    child.stderr!.on('data', (d: Buffer) => (err += d))
    const [code] = (await once(child, 'exit')) as [number]
    expect(code).toBe(2)
    expect(err).toMatch(/OCR_MODE/)
    expect(err).toMatch(/single/)
    expect(err).toMatch(/remote/)
  })

  it('CLI flags override the environment', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, ['bin/ocrserve.js', 'serve', '--port', String(port), '--host', '127.0.0.1', '--workers', '1'], {
      env: { ...process.env, PORT: '1', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    })
    children.push(child)
    const deadline = Date.now() + 60_000
    let ok = false
    while (!ok && Date.now() < deadline) {
      ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)
      if (!ok) await new Promise((r) => setTimeout(r, 200))
    }
    expect(ok).toBe(true)
  })
})
