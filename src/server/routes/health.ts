/** Liveness, readiness and metrics: cheap, never touch the workers. */
import type { FastifyInstance } from 'fastify'
import type { Ocr } from '../../engine.js'
import type { JobStore } from '../../jobs/store.js'
import { OcrError } from '../../errors.js'
import type { ServerMetrics } from '../metrics.js'

/** How long a readiness answer is reused, so a flood of probes does not hammer a model server. */
const READY_CACHE_MS = 1000
/**
 * A readiness check that takes longer than this counts as "not ready": a hung model server must not
 * hang the probe (Kubernetes' default probe timeout is 1 s).
 */
const READY_CHECK_TIMEOUT_MS = 750

/**
 * ocr.ready() bounded by READY_CHECK_TIMEOUT_MS. A check still running (a hung model server) is
 * awaited again rather than started twice, so slow probes never pile up.
 */
function readinessChecker(ocr: Ocr): () => Promise<boolean> {
  let running: Promise<boolean> | null = null
  return () => {
    running ??= ocr
      .ready()
      .catch(() => false)
      .finally(() => {
        running = null
      })
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_CHECK_TIMEOUT_MS)
    })
    return Promise.race([running, late]).finally(() => clearTimeout(timer))
  }
}

/**
 * `jobs`: a job store readiness depends on (OCR_READYZ_JOBS), or null when /v1/jobs being down
 * (Redis unreachable) should not take the replica out of service.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: { ocr: Ocr; metrics: ServerMetrics; jobs: JobStore | null }): void {
  const { ocr, metrics, jobs } = deps
  let cached: { at: number; ready: Promise<boolean> } | null = null
  const checkReady = readinessChecker(ocr)

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process is up',
        tags: ['health'],
        response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } },
      },
    },
    async () => ({ status: 'ok' }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: models loaded and warmed up (remote mode: the model server is ready; with OCR_READYZ_JOBS: the job store can be reached)',
        tags: ['health'],
        response: {
          200: { type: 'object', properties: { status: { type: 'string', enum: ['ready'] } } },
          503: { $ref: 'Error#' },
        },
      },
    },
    async () => {
      const now = Date.now()
      if (!cached || now - cached.at > READY_CACHE_MS) cached = { at: now, ready: checkReady() }
      if (!(await cached.ready)) throw new OcrError('NOT_READY', 'models are not ready (or the model server is unreachable)', { retryAfterSec: 2 })
      if (jobs && !jobs.reachable()) throw new OcrError('NOT_READY', 'the job store (Redis) cannot be reached (OCR_READYZ_JOBS)', { retryAfterSec: 2 })
      return { status: 'ready' }
    },
  )

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['health'], produces: ['text/plain'] } }, async (_req, reply) => {
    const body = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(body)
  })
}
