/**
 * A closed-loop HTTP load generator and a periodic probe, on node:http with keep-alive sockets
 * (one socket per loop, so concurrency = requests in flight). Small on purpose: every request's
 * latency and status is kept, so percentiles and the exact request mix are known.
 */
import http from 'node:http'
import { median } from './stats.js'

export interface RequestBody {
  data: Buffer
  contentType: string
  /** A label for per-image analysis (e.g. the file name). */
  name: string
}

export interface LoadOptions {
  /** Full URL, e.g. http://127.0.0.1:8080/v1/ocr */
  url: string
  bodies: readonly RequestBody[]
  /** Requests in flight (closed loop: each loop sends its next request when the last returns). */
  concurrency: number
  /** Total requests; body i is bodies[i % bodies.length], so two runs with equal counts send the same mix. */
  requests: number
  /** Stop starting requests after this long (ms); requests in flight still complete. */
  maxDurationMs: number
  /** Per-request timeout (ms); a timed-out request counts as an error. */
  timeoutMs?: number
}

export interface Sample {
  /** Index into bodies. */
  body: number
  status: number
  ms: number
}

export interface LoadResult {
  samples: Sample[]
  /** Wall time from the first request to the last response (s). */
  seconds: number
  completed: number
  /** Non-200 answers and transport failures. */
  errors: number
  /** Status (or 'error:CODE' for transport failures) → count, for the report. */
  statuses: Record<string, number>
}

interface Answer {
  status: number
  body: Buffer
}

/** One request over `agent`; resolves with the status and body, rejects on transport errors. */
export function send(agent: http.Agent, url: URL, method: 'GET' | 'POST', body?: RequestBody, timeoutMs = 120_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: body ? { 'content-type': body.contentType, 'content-length': body.data.length } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(Object.assign(new Error(`request timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })))
    req.on('error', reject)
    req.end(body?.data)
  })
}

/** Runs a closed-loop load and returns every request's latency and status. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { bodies, concurrency, requests } = options
  if (bodies.length === 0) throw new RangeError('runLoad needs at least one body')
  if (!(concurrency >= 1)) throw new RangeError('concurrency must be ≥ 1')
  const url = new URL(options.url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const samples: Sample[] = []
  const statuses: Record<string, number> = {}
  let next = 0
  const t0 = performance.now()
  const deadline = t0 + options.maxDurationMs
  const loop = async (): Promise<void> => {
    while (next < requests && performance.now() < deadline) {
      const i = next++ % bodies.length
      const started = performance.now()
      let status = 0
      let key: string
      try {
        status = (await send(agent, url, 'POST', bodies[i], options.timeoutMs)).status
        key = String(status)
      } catch (err) {
        key = `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`
      }
      samples.push({ body: i, status, ms: performance.now() - started })
      statuses[key] = (statuses[key] ?? 0) + 1
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, loop))
  } finally {
    agent.destroy()
  }
  const seconds = (performance.now() - t0) / 1000
  return { samples, seconds, completed: samples.length, errors: samples.filter((s) => s.status !== 200).length, statuses }
}

export interface Probe {
  /** Stops probing; resolves with every probe's latency (ms) and the count of failed probes. */
  stop(): Promise<{ latencies: number[]; failures: number }>
}

/** Per body (its index): the median latency of its successful requests (ms). */
export function latencyByBody(samples: readonly Sample[]): Map<number, number> {
  const by = new Map<number, number[]>()
  for (const s of samples) {
    if (s.status !== 200) continue
    const list = by.get(s.body)
    if (list) list.push(s.ms)
    else by.set(s.body, [s.ms])
  }
  return new Map([...by].map(([body, ms]) => [body, median(ms)]))
}

/**
 * Latency of the same bodies in run `a` ÷ in run `b`, body by body: the median over the bodies
 * both runs answered of the ratio of their median latencies; null when they share none.
 */
export function pairedLatencyRatio(a: readonly Sample[], b: readonly Sample[]): number | null {
  const base = latencyByBody(b)
  const ratios = [...latencyByBody(a)].flatMap(([body, ms]) => (base.has(body) ? [ms / base.get(body)!] : []))
  return ratios.length ? median(ratios) : null
}

/**
 * GETs `url` every `intervalMs` (a probe that takes longer delays the next one) over its own
 * keep-alive socket, until stop().
 */
export function startProbe(url: string, intervalMs: number): Probe {
  const target = new URL(url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const latencies: number[] = []
  let failures = 0
  let running = true
  let timer: NodeJS.Timeout | undefined
  let wake: (() => void) | undefined
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve
      timer = setTimeout(resolve, ms)
    })
  const done = (async () => {
    while (running) {
      const started = performance.now()
      try {
        const r = await send(agent, target, 'GET', undefined, 10_000)
        if (r.status === 200) latencies.push(performance.now() - started)
        else failures++
      } catch {
        failures++
      }
      const wait = intervalMs - (performance.now() - started)
      if (running && wait > 0) await sleep(wait)
    }
  })()
  return {
    async stop() {
      running = false
      clearTimeout(timer)
      wake?.()
      await done
      agent.destroy()
      return { latencies, failures }
    },
  }
}
