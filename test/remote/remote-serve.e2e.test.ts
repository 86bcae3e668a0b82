/**
 * Remote mode end to end, with real processes on loopback: `ocrserve model-server` + `ocrserve
 * serve` (OCR_MODE=remote) for kserve-http, kserve-grpc and tfserving. On the same real images the
 * answers equal single mode's (same texts, boxes within 1 px). Faults: no model server → /readyz
 * and /v1/ocr 503 with Retry-After; model server killed under load → in-flight requests end with
 * 503/504 (no hang), and after a restart requests succeed again without restarting serve.
 *
 * Per-image latencies of each mode, measured in the same run, go to
 * test-artifacts/remote-latency.json (and the console). Needs `npm run build` (npm test runs it).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildModelRepository } from '../../src/cli/models-repo.js'
import type { RemoteProtocol } from '../../src/config.js'
import type { OcrResult } from '../../src/types.js'
import { REAL_DIR, ROOT, freePort, spawnCli, startModelServerProcess, waitFor, type CliProcess, type ModelServerProcess } from './helpers.js'

const IMAGES = [
  'images/line/tesseractjs_chinese.png',
  'images/line/rapidocr_en_rec.jpg',
  'images/page/tesseract_phototest.png',
  'images/page/cnocr_multi-line_cn1.png',
  'images/scene/easyocr_chinese.jpg',
  'images/line/rapidocr_img_exif_orientation.jpg',
]
/** A page with many lines: long enough to be caught mid-request by a kill. */
const HEAVY = 'images/page/tesseract_eurotext.png'

const PROTOCOLS: RemoteProtocol[] = ['kserve-http', 'kserve-grpc', 'tfserving']

interface Serve extends CliProcess {
  url: string
}

let repo: string
let modelServer: ModelServerProcess
const images = new Map<string, Buffer>()
const single = new Map<string, OcrResult>()
/** Per mode: request latencies, round after round, images in IMAGES order. */
const latency: Record<string, number[]> = {}

async function startServe(env: Record<string, string>, waitReady = true): Promise<Serve> {
  const port = await freePort()
  const proc = spawnCli(['serve'], {
    PORT: String(port),
    HOST: '127.0.0.1',
    OCR_WORKERS: '1',
    OCR_THREADS_PER_WORKER: '1',
    OCR_REQUEST_TIMEOUT_MS: '30000',
    OCR_REMOTE_TIMEOUT_MS: '20000',
    LOG_LEVEL: 'warn',
    ...env,
  })
  const serve: Serve = Object.assign(proc, { url: `http://127.0.0.1:${port}` })
  await waitFor('serve live', async () => (await fetch(`${serve.url}/healthz`)).ok, 60_000, proc)
  if (waitReady) await waitFor('serve ready', async () => (await fetch(`${serve.url}/readyz`)).ok, 60_000, proc)
  return serve
}

function remoteEnv(protocol: RemoteProtocol, server: { httpPort: number; grpcPort: number }): Record<string, string> {
  // tfserving goes through OCR_MODE's name for it (OCR_MODE=tfserving = remote + tfserving), so that alias is covered too
  if (protocol === 'tfserving') return { OCR_MODE: 'tfserving', OCR_REMOTE_URL: `http://127.0.0.1:${server.httpPort}` }
  const url = protocol === 'kserve-grpc' ? `127.0.0.1:${server.grpcPort}` : `http://127.0.0.1:${server.httpPort}`
  return { OCR_MODE: 'remote', OCR_REMOTE_PROTOCOL: protocol, OCR_REMOTE_URL: url }
}

async function ocr(serve: Serve, image: Buffer, timeoutMs = 60_000): Promise<{ status: number; body: unknown; headers: Headers; ms: number }> {
  const t0 = performance.now()
  const res = await fetch(`${serve.url}/v1/ocr`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: image,
    signal: AbortSignal.timeout(timeoutMs),
  })
  const body = (await res.json()) as unknown
  return { status: res.status, body, headers: res.headers, ms: performance.now() - t0 }
}

function expectSameAsSingle(name: string, remote: OcrResult): void {
  const ref = single.get(name)!
  expect(remote.lines.map((l) => l.text), name).toEqual(ref.lines.map((l) => l.text))
  remote.lines.forEach((line, i) => {
    line.box.forEach((p, k) => {
      const q = ref.lines[i]!.box[k]!
      expect(Math.abs(p[0] - q[0]), `${name} line ${i} x`).toBeLessThanOrEqual(1)
      expect(Math.abs(p[1] - q[1]), `${name} line ${i} y`).toBeLessThanOrEqual(1)
    })
  })
}

beforeAll(async () => {
  for (const name of [...IMAGES, HEAVY]) images.set(name, await readFile(join(REAL_DIR, name)))
  repo = await mkdtemp(join(tmpdir(), 'ocrserve-models-'))
  await buildModelRepository(repo)
  modelServer = await startModelServerProcess(repo, { workers: 1 })
}, 180_000)

afterAll(async () => {
  await modelServer?.stop()
  if (repo) await rm(repo, { recursive: true, force: true })
  if (Object.keys(latency).length > 0) {
    // latency[mode] holds rounds × images samples in image order within each round
    const summary = Object.fromEntries(
      Object.entries(latency).map(([mode, ms]) => {
        // the best of the rounds per image: the least disturbed by other work on the machine
        const perImage = IMAGES.map((_, i) => Math.min(...ms.filter((_, k) => k % IMAGES.length === i)))
        const mean = perImage.reduce((a, b) => a + b, 0) / perImage.length
        return [mode, { rounds: ms.length / IMAGES.length, meanOfImageBestMs: Math.round(mean), perImageBestMs: perImage.map(Math.round), samplesMs: ms.map(Math.round) }]
      }),
    )
    await mkdir(join(ROOT, 'test-artifacts'), { recursive: true })
    await writeFile(join(ROOT, 'test-artifacts', 'remote-latency.json'), `${JSON.stringify({ images: IMAGES, workers: 1, threadsPerWorker: 1, summary }, null, 2)}\n`)
    console.log('per-image latency (ms), same images, same run:', JSON.stringify(summary, null, 2))
  }
})

describe('ocrserve serve in remote mode', () => {
  const MODES = ['single', ...PROTOCOLS] as const
  type Mode = (typeof MODES)[number]
  const serves = new Map<Mode, Serve>()
  const answers = new Map<Mode, Map<string, OcrResult>>()

  beforeAll(async () => {
    // all four services side by side, so that each image is read by every mode back to back
    // (the latencies then share the machine's conditions)
    const started = await Promise.all(MODES.map((m) => startServe(m === 'single' ? { OCR_MODE: 'single' } : remoteEnv(m, modelServer))))
    MODES.forEach((m, i) => serves.set(m, started[i]!))
    // the first request of a remote service creates its backends (metadata); not timed
    for (const m of MODES) expect((await ocr(serves.get(m)!, images.get(IMAGES[0]!)!)).status).toBe(200)
  }, 240_000)

  afterAll(async () => {
    await Promise.all([...serves.values()].map((s) => s.stop()))
  })

  /** One round: every image through every mode, interleaved; returns the answers. */
  async function round(): Promise<void> {
    for (const name of IMAGES) {
      for (const m of MODES) {
        const r = await ocr(serves.get(m)!, images.get(name)!)
        expect(r.status, `${m} ${name}: ${JSON.stringify(r.body)}`).toBe(200)
        if (!answers.has(m)) answers.set(m, new Map())
        answers.get(m)!.set(name, r.body as OcrResult)
        ;(latency[m] ??= []).push(r.ms)
        if (m === 'single') single.set(name, r.body as OcrResult)
      }
    }
  }

  it('reads the images in every mode', async () => {
    await round()
    // the reference is not empty: these images have text
    expect([...single.values()].every((r) => r.lines.length > 0)).toBe(true)
  }, 400_000)

  it.each(PROTOCOLS)('%s: same texts and boxes (±1 px) as single mode', (protocol) => {
    expect(single.size).toBe(IMAGES.length)
    for (const name of IMAGES) expectSameAsSingle(name, answers.get(protocol)!.get(name)!)
  })

  it('a second round for the latency figures', async () => {
    await round()
  }, 400_000)
})

describe('remote mode faults', () => {
  it('no model server: /readyz 503, OCR requests 503 with Retry-After', async () => {
    const closed = await freePort()
    const serve = await startServe({ OCR_MODE: 'remote', OCR_REMOTE_URL: `http://127.0.0.1:${closed}` }, false)
    try {
      const ready = await fetch(`${serve.url}/readyz`)
      expect(ready.status).toBe(503)
      expect(ready.headers.get('retry-after')).toMatch(/^\d+$/)
      const r = await ocr(serve, images.get(IMAGES[0]!)!)
      expect(r.status).toBe(503)
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(JSON.stringify(r.body)).toContain('NOT_READY')
      expect(serve.exited).toBe(false)
    } finally {
      await serve.stop()
    }
  }, 120_000)

  it.each(PROTOCOLS)('%s: model server killed under load → 503/504 without a hang; restarted → requests succeed, serve untouched', async (protocol) => {
    const ports = { httpPort: await freePort(), grpcPort: await freePort() }
    let server = await startModelServerProcess(repo, { workers: 1, ...ports })
    const serve = await startServe(remoteEnv(protocol, ports))
    try {
      const heavy = images.get(HEAVY)!
      const reference = await ocr(serve, heavy)
      expect(reference.status).toBe(200)
      // in flight: a few heavy requests, then the model server dies
      const inflight = Array.from({ length: 3 }, () => ocr(serve, heavy, 45_000))
      await new Promise((r) => setTimeout(r, 400))
      await server.kill()
      const t0 = performance.now()
      const settled = await Promise.all(inflight)
      expect(performance.now() - t0).toBeLessThan(40_000)
      const statuses = settled.map((s) => s.status)
      for (const s of settled) {
        expect([200, 503, 504], JSON.stringify(s.body)).toContain(s.status)
        if (s.status === 503) expect(s.headers.get('retry-after')).toMatch(/^\d+$/)
      }
      expect(statuses.some((s) => s !== 200), `statuses ${statuses.join(',')}`).toBe(true)
      await waitFor('serve reports not ready', async () => (await fetch(`${serve.url}/readyz`)).status === 503, 15_000)
      expect(serve.exited).toBe(false)

      // back on the same ports: serve recovers on its own
      server = await startModelServerProcess(repo, { workers: 1, ...ports })
      await waitFor('serve ready again', async () => (await fetch(`${serve.url}/readyz`)).ok, 30_000, serve)
      let last: Awaited<ReturnType<typeof ocr>> | undefined
      const meanwhile: number[] = []
      await waitFor(
        'an OCR request succeeds again',
        async () => {
          last = await ocr(serve, heavy)
          if (last.status !== 200) meanwhile.push(last.status)
          return last.status === 200
        },
        30_000,
        serve,
      )
      // until the clients have reconnected, answers are "not ready", never an internal error
      for (const s of meanwhile) expect([503, 504]).toContain(s)
      expect((last!.body as OcrResult).lines.map((l) => l.text)).toEqual((reference.body as OcrResult).lines.map((l) => l.text))
    } finally {
      await serve.stop()
      await server.stop()
    }
  }, 300_000)
})
