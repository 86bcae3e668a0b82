/** Prometheus metrics for one app instance (its own registry: no module-global state). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Ocr } from '../engine.js'
import { JOB_STATES, type JobStore, type JobStoreStats } from '../jobs/store.js'
import type { StageTiming } from '../types.js'

export interface ServerMetrics {
  registry: Registry
  requests: Counter<'route' | 'method' | 'status'>
  duration: Histogram<'route'>
  stages: Histogram<'stage'>
  lines: Counter
  observeTiming(t: StageTiming): void
}

const STAGE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export function createMetrics(ocr: Ocr): ServerMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'] as const,
    buckets: STAGE_BUCKETS,
    registers: [registry],
  })
  const stages = new Histogram({
    name: 'ocr_stage_duration_seconds',
    help: 'Time per pipeline stage for each OCR job (decode, det, cls, rec, total)',
    labelNames: ['stage'] as const,
    buckets: STAGE_BUCKETS,
    registers: [registry],
  })
  const lines = new Counter({ name: 'ocr_lines_total', help: 'Text lines returned', registers: [registry] })
  new Gauge({
    name: 'ocr_queue_depth',
    help: 'OCR jobs waiting for a worker',
    registers: [registry],
    collect() {
      this.set(ocr.stats().queued)
    },
  })
  new Gauge({
    name: 'ocr_inflight',
    help: 'OCR jobs running on a worker',
    registers: [registry],
    collect() {
      this.set(ocr.stats().running)
    },
  })
  new Gauge({
    name: 'ocr_workers',
    help: 'Pipeline worker threads',
    registers: [registry],
    collect() {
      this.set(ocr.stats().workers)
    },
  })
  new Counter({
    name: 'ocr_worker_busy_seconds_total',
    help: 'Time each pipeline worker spent running jobs',
    labelNames: ['worker'] as const,
    registers: [registry],
    collect() {
      this.reset()
      ocr.stats().busyMs.forEach((ms, i) => this.inc({ worker: String(i) }, ms / 1000))
    },
  })
  new Counter({
    name: 'ocr_worker_pages_total',
    help: 'Pages each pipeline worker has read (a plain image is one page)',
    labelNames: ['worker'] as const,
    registers: [registry],
    collect() {
      this.reset()
      ocr.stats().pagesRead.forEach((n, i) => this.inc({ worker: String(i) }, n))
    },
  })
  new Counter({
    name: 'ocr_assist_calls_total',
    help: 'Classifier and recogniser calls that idle workers ran for busy ones (single mode)',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(ocr.stats().assistRuns)
    },
  })
  return {
    registry,
    requests,
    duration,
    stages,
    lines,
    observeTiming(t) {
      for (const stage of ['decode', 'det', 'cls', 'rec', 'total'] as const) stages.observe({ stage }, t[stage] / 1000)
    },
  }
}

/**
 * The job store's numbers, asked once per scrape (with Redis: the whole cluster's, from the shared
 * store). While the store cannot be reached they keep their last values and ocr_jobs_store_up is 0.
 */
export function registerJobMetrics(registry: Registry, store: JobStore): void {
  let asked: { at: number; stats: Promise<JobStoreStats | null> } | null = null
  const stats = (): Promise<JobStoreStats | null> => {
    const now = Date.now()
    if (!asked || now - asked.at > 500) asked = { at: now, stats: store.stats().catch(() => null) }
    return asked.stats
  }
  const gauge = (name: string, help: string, value: (s: JobStoreStats) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const s = await stats()
        if (s) this.set(value(s))
      },
    })
  }
  new Gauge({
    name: 'ocr_jobs',
    help: 'Async jobs by state (with Redis: every replica\'s)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const s = await stats()
      if (s) for (const state of JOB_STATES) this.set({ state }, s.jobs[state])
    },
  })
  gauge('ocr_jobs_stored_bytes', 'Bytes of documents held by async jobs (OCR_JOBS_MAX_STORED_BYTES bounds it)', (s) => s.storedBytes)
  gauge('ocr_jobs_queue_depth', 'Job tasks waiting for a worker: a queued job\'s first task, the pages of running jobs not taken yet', (s) => s.tasksWaiting)
  gauge('ocr_jobs_pages_in_flight', 'Job tasks being read now (pages, and first tasks opening a document)', (s) => s.tasksRunning)
  gauge('ocr_jobs_oldest_queued_seconds', 'Age of the oldest queued job (0 when none waits)', (s) => s.oldestQueuedMs / 1000)
  new Counter({
    name: 'ocr_jobs_stalled_recoveries_total',
    help: 'Page tasks a stopped replica left that another one took over (Redis store)',
    registers: [registry],
    async collect() {
      const s = await stats()
      if (!s) return
      this.reset()
      this.inc(s.stalledRecoveries)
    },
  })
  new Gauge({
    name: 'ocr_jobs_store_up',
    help: 'Whether the job store can be reached (1) or not (0; /v1/jobs answers 503 JOBS_UNAVAILABLE)',
    registers: [registry],
    collect() {
      this.set(store.reachable() ? 1 : 0)
    },
  })
}
