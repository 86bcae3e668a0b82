/**
 * Soak test: `npm run soak -- --requests 10000` starts `ocrserve serve` (the built CLI) as a child
 * process and sends it a long stream of requests (mostly small text images of a few sizes, some
 * bad ones: truncated, random bytes, bad JSON), recording the child's RSS (/proc) and the main
 * thread's V8 heap (/metrics) every --sample-every requests. Reports RSS and heap growth after the
 * warm-up (--warmup requests) and every status seen; writes the samples as JSON (--out).
 * A short run is a CI test (test/server/soak.test.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import sharp from 'sharp'
import { freePort, rssMiB, startNode, waitReady } from './lib/procs.js'

export interface SoakOptions {
  requests: number
  sampleEvery: number
  warmup: number
  concurrency: number
  /** Environment for `ocrserve serve` (workers, limits...). */
  env?: Record<string, string>
  log?: (line: string) => void
}

export interface SoakSample {
  requests: number
  rssMiB: number
  heapUsedMiB: number
  elapsedS: number
}

export interface SoakReport {
  options: Omit<SoakOptions, 'log'>
  samples: SoakSample[]
  statuses: Record<string, number>
  /** Requests that got no HTTP answer (connection refused/reset). */
  networkErrors: number
  /** Good images that did not come back 200 with their text. */
  wrongReads: number
  exitedEarly: boolean
  /** RSS of the first sample at or after the warm-up. */
  rssAfterWarmupMiB: number
  rssEndMiB: number
  rssPeakMiB: number
  /** (end − after warm-up) / after warm-up. */
  rssGrowth: number
  heapAfterWarmupMiB: number
  heapEndMiB: number
  heapGrowth: number
  requestsPerSecond: number
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

interface Job {
  body: Buffer | string
  type: string
  /** Text the answer must contain (good images), squashed. */
  expect?: string
}

const squash = (s: string): string => s.replace(/\s+/g, '').toUpperCase()

/** A few small text images (different sizes, so buffer pools see variety) and some bad inputs. */
async function makeJobs(): Promise<Job[]> {
  const texts: [string, number, number][] = [
    ['SOAK TEST 101', 240, 40],
    ['MEMORY 2048', 200, 36],
    ['LEAK CHECK 77', 320, 56],
    ['HELLO WORLD 5', 260, 44],
  ]
  const jobs: Job[] = []
  for (const [text, w, h] of texts) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="#fff"/><text x="8" y="${Math.round(h * 0.72)}" font-family="DejaVu Sans" font-size="${Math.round(h * 0.55)}">${text}</text></svg>`
    const png = await sharp(Buffer.from(svg)).png().toBuffer()
    jobs.push({ body: png, type: 'image/png', expect: squash(text) })
    jobs.push({ body: await sharp(png).jpeg({ quality: 90 }).toBuffer(), type: 'image/jpeg' })
    jobs.push({ body: JSON.stringify({ image: png.toString('base64') }), type: 'application/json' })
    jobs.push({ body: png.subarray(0, png.length >> 1), type: 'image/png' }) // truncated → 422
  }
  jobs.push({ body: Buffer.from('not an image at all'), type: 'image/png' }) // 415
  jobs.push({ body: '{"image": 42}', type: 'application/json' }) // 400
  return jobs
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, 'm').exec(text)
  return m ? Number(m[1]) : NaN
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`))
  const jobs = await makeJobs()
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = startNode(['bin/ocrserve.js', 'serve'], { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...opts.env }, ROOT)
  const statuses: Record<string, number> = {}
  const samples: SoakSample[] = []
  let networkErrors = 0
  let wrongReads = 0
  try {
    await waitReady(`${url}/readyz`, child, 120_000)
    const t0 = performance.now()
    const sample = async (requests: number): Promise<void> => {
      const s: SoakSample = {
        requests,
        rssMiB: Math.round((rssMiB(child.pid) ?? (await metric(url, 'process_resident_memory_bytes')) / 2 ** 20) * 10) / 10,
        heapUsedMiB: Math.round(((await metric(url, 'nodejs_heap_size_used_bytes')) / 2 ** 20) * 10) / 10,
        elapsedS: Math.round((performance.now() - t0) / 100) / 10,
      }
      samples.push(s)
      log(`${String(s.requests).padStart(7)} requests  RSS ${s.rssMiB.toFixed(1).padStart(7)} MiB  heap ${s.heapUsedMiB.toFixed(1).padStart(6)} MiB  ${s.elapsedS}s`)
    }
    await sample(0)
    let sent = 0
    let done = 0
    let nextSample = opts.sampleEvery
    const worker = async (): Promise<void> => {
      while (sent < opts.requests && child.proc.exitCode === null) {
        const job = jobs[sent % jobs.length]!
        sent++
        try {
          const res = await fetch(`${url}/v1/ocr?format=text`, { method: 'POST', headers: { 'content-type': job.type }, body: job.body })
          const text = await res.text()
          statuses[res.status] = (statuses[res.status] ?? 0) + 1
          if (job.expect && (res.status !== 200 || !squash(text).includes(job.expect))) wrongReads++
        } catch {
          networkErrors++
        }
        done++
        if (done >= nextSample) {
          nextSample += opts.sampleEvery
          await sample(done)
        }
      }
    }
    await Promise.all(Array.from({ length: opts.concurrency }, worker))
    if (samples.at(-1)!.requests !== done) await sample(done)
    const elapsed = (performance.now() - t0) / 1000
    const afterWarmup = samples.find((s) => s.requests >= opts.warmup) ?? samples[0]!
    const end = samples.at(-1)!
    const { log: _log, ...options } = opts
    return {
      options,
      samples,
      statuses,
      networkErrors,
      wrongReads,
      exitedEarly: child.proc.exitCode !== null,
      rssAfterWarmupMiB: afterWarmup.rssMiB,
      rssEndMiB: end.rssMiB,
      rssPeakMiB: Math.max(...samples.map((s) => s.rssMiB)),
      rssGrowth: (end.rssMiB - afterWarmup.rssMiB) / afterWarmup.rssMiB,
      heapAfterWarmupMiB: afterWarmup.heapUsedMiB,
      heapEndMiB: end.heapUsedMiB,
      heapGrowth: (end.heapUsedMiB - afterWarmup.heapUsedMiB) / afterWarmup.heapUsedMiB,
      requestsPerSecond: Math.round((done / elapsed) * 10) / 10,
    }
  } finally {
    await child.stop()
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '10000' },
      'sample-every': { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      workers: { type: 'string' },
      out: { type: 'string', default: 'test-artifacts/soak.json' },
    },
  })
  const requests = Number(values.requests)
  const report = await runSoak({
    requests,
    sampleEvery: Number(values['sample-every'] ?? Math.max(10, Math.round(requests / 40))),
    warmup: Number(values.warmup ?? Math.round(requests / 10)),
    concurrency: Number(values.concurrency),
    env: values.workers ? { OCR_WORKERS: values.workers } : {},
  })
  const out = resolve(ROOT, values.out)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify(report, null, 2))
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`
  console.log(`\nstatuses ${JSON.stringify(report.statuses)}, network errors ${report.networkErrors}, wrong reads ${report.wrongReads}, ${report.requestsPerSecond} req/s`)
  console.log(`RSS after warm-up ${report.rssAfterWarmupMiB} MiB → end ${report.rssEndMiB} MiB (peak ${report.rssPeakMiB}): growth ${pct(report.rssGrowth)}`)
  console.log(`heap after warm-up ${report.heapAfterWarmupMiB} MiB → end ${report.heapEndMiB} MiB: growth ${pct(report.heapGrowth)}`)
  console.log(`samples: ${out}`)
  const failed = report.exitedEarly || report.networkErrors > 0 || report.wrongReads > 0 || Object.keys(report.statuses).some((s) => Number(s) >= 500)
  process.exitCode = failed ? 1 : 0
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
