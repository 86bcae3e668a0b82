/** Prometheus metrics for one app instance (its own registry: no module-global state). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Ocr } from '../engine.js'
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
