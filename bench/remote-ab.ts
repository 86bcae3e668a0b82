/**
 * Remote mode vs single mode, interleaved: `ocrserve serve` in single mode, and `ocrserve serve`
 * in remote mode in front of `ocrserve model-server` (loopback), over kserve-http (binary) and
 * kserve-grpc, each with the repository `ocrserve models-repo` writes (uint8 `pixels` inputs,
 * recogniser with argmax/maxprob outputs: the service sends and fetches only those) and, with
 * --float-inputs, with `models-repo --float-inputs`'s (the float32 input `x`: what the service sent
 * before; the service packs whatever the model takes). All services stay up; every round
 * sends the core set (closed loop, concurrency --c) to each in turn, order rotating per round.
 * Reports the median over rounds of each run's p50 and its ratio to single mode's, and the CPU time
 * per request (service + its model server, /proc/PID/stat), which a busy shared machine disturbs
 * far less than latency: on a saturated 2-core machine latency at c=4 follows CPU cost.
 *
 *   npm run build && node --import tsx bench/remote-ab.ts [--rounds 3] [--c 4] [--float-inputs] [--only kserve-grpc]
 *     [--remote-env '{"OCR_REC_BATCH_SIZE":"6","OCR_REC_BATCH_MAX_PAD":"0.25"}']
 *
 * The model servers are idle while another service is measured, but they and the services share
 * the machine's cores, as in `npm run bench`'s remote section.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, mkdirSync } from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { EVAL_REAL } from './lib/eval-real.js'
import { contentType, loadBenchSet } from './lib/images.js'
import { type RequestBody, runLoad } from './lib/load.js'
import { type Child, cpuSecondsOf, freePort, startModelServer, startNode, waitReady } from './lib/procs.js'
import { markdownTable, median, percentile } from './lib/stats.js'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const BIN = join(ROOT, 'bin', 'ocrserve.js')
const CACHE = join(ROOT, '.cache', 'bench')

interface Service {
  name: string
  url: string
  child: Child
  /** The model server it calls (its CPU time counts too). */
  backend?: Child
}

async function startServe(name: string, env: Record<string, string>): Promise<Service> {
  const port = await freePort()
  // no time limits: on a busy shared machine a request may wait long; latency is what we measure
  const limits = { OCR_REQUEST_TIMEOUT_MS: '600000', OCR_REMOTE_TIMEOUT_MS: '600000' }
  const child = startNode([BIN, 'serve'], { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...limits, ...env }, ROOT)
  const url = `http://127.0.0.1:${port}`
  await waitReady(`${url}/readyz`, child, 120_000)
  return { name, url, child }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      c: { type: 'string', default: '4' },
      'float-inputs': { type: 'boolean', default: false },
      only: { type: 'string' },
      /** Extra environment for the remote-mode services, JSON (e.g. '{"OCR_REC_BATCH_SIZE":"6"}'). */
      'remote-env': { type: 'string', default: '{}' },
    },
  })
  const remoteEnv = JSON.parse(values['remote-env']!) as Record<string, string>
  const rounds = Number(values.rounds)
  const concurrency = Number(values.c)
  const images = await loadBenchSet(EVAL_REAL, CACHE, true)
  const bodies: RequestBody[] = images.map((img) => ({ data: readFileSync(img.path), contentType: contentType(img.path), name: img.name }))
  const repo = join(CACHE, 'model-repo-ab')
  mkdirSync(CACHE, { recursive: true })
  execFileSync(process.execPath, [BIN, 'models-repo', '--out', repo, '--force'], { cwd: ROOT, stdio: 'ignore' })
  const children: Child[] = []
  const services: Service[] = []
  try {
    services.push(await startServe('single', { OCR_MODE: 'single' }))
    children.push(services[0]!.child)
    const repos: Array<[string, string]> = [['uint8 pixels', repo]]
    if (values['float-inputs']) {
      const float = join(CACHE, 'model-repo-ab-float')
      execFileSync(process.execPath, [BIN, 'models-repo', '--out', float, '--force', '--float-inputs'], { cwd: ROOT, stdio: 'ignore' })
      repos.push(['float32 x', float])
    }
    for (const [label, dir] of repos) {
      const ms = await startModelServer(ROOT, dir)
      children.push(ms.child)
      for (const protocol of ['kserve-http', 'kserve-grpc'] as const) {
        if (values.only && values.only !== protocol) continue
        const s = await startServe(`${protocol} (${label})`, { OCR_MODE: 'remote', OCR_REMOTE_URL: protocol === 'kserve-http' ? ms.http : ms.grpc, OCR_REMOTE_PROTOCOL: protocol, ...remoteEnv })
        services.push({ ...s, backend: ms.child })
        children.push(s.child)
      }
    }
    process.stderr.write(`remote-ab: ${bodies.length} images, c=${concurrency}, ${rounds} rounds, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`)
    for (const s of services) await runLoad({ url: `${s.url}/v1/ocr`, bodies, concurrency, requests: bodies.length, maxDurationMs: 300_000 }) // warm-up
    const p50: number[][] = services.map(() => [])
    const rate: number[][] = services.map(() => [])
    const cpu: number[][] = services.map(() => [])
    const cpuOf = (s: Service): number => cpuSecondsOf(s.child.pid) + (s.backend ? cpuSecondsOf(s.backend.pid) : 0)
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < services.length; j++) {
        const k = (j + r) % services.length
        const s = services[k]!
        const cpu0 = cpuOf(s)
        const res = await runLoad({ url: `${s.url}/v1/ocr`, bodies, concurrency, requests: bodies.length * 2, maxDurationMs: 300_000, timeoutMs: 120_000 })
        const ok = res.samples.filter((x) => x.status === 200).map((x) => x.ms)
        if (ok.length !== res.samples.length) throw new Error(`${s.name}: ${res.samples.length - ok.length} failed requests (${JSON.stringify(res.statuses)})`)
        cpu[k]!.push((1000 * (cpuOf(s) - cpu0)) / ok.length)
        p50[k]!.push(percentile(ok, 50))
        rate[k]!.push(ok.length / res.seconds)
        process.stderr.write(`round ${r + 1}: ${s.name} p50 ${percentile(ok, 50).toFixed(0)} ms\n`)
      }
    }
    const base = median(p50[0]!)
    const cpuBase = median(cpu[0]!)
    const rows = services.map((s, k) => ({
      service: s.name,
      p50: median(p50[k]!),
      ratio: median(p50[k]!) / base,
      rate: median(rate[k]!),
      cpuMs: median(cpu[k]!),
      cpuRatio: median(cpu[k]!) / cpuBase,
      p50s: p50[k]!,
    }))
    process.stdout.write(
      `${markdownTable(
        ['service', `p50 ms at c=${concurrency} (median of ${rounds})`, 'p50 / single', 'req/s', 'CPU ms per request', 'CPU / single', 'p50 per round'],
        rows.map((r) => [r.service, r.p50.toFixed(0), r.ratio.toFixed(2), r.rate.toFixed(2), r.cpuMs.toFixed(0), r.cpuRatio.toFixed(2), r.p50s.map((x) => x.toFixed(0)).join(' ')]),
      )}\n`,
    )
    process.stdout.write(`${JSON.stringify({ concurrency, rounds, load: os.loadavg(), rows })}\n`)
  } finally {
    for (const c of children.reverse()) await c.stop()
  }
}

await main()
