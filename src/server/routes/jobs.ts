/**
 * Async jobs for big documents (docs/JOBS.md): POST /v1/jobs → 202, GET /v1/jobs/{id} (status and
 * progress), GET /v1/jobs/{id}/result?format=, DELETE /v1/jobs/{id} (cancel, or forget a finished one).
 * The store lives as long as the app: its jobs are cancelled when the app closes.
 */
import type { FastifyInstance } from 'fastify'
import { Gauge } from 'prom-client'
import type { JobsConfig } from '../../config.js'
import type { Ocr } from '../../engine.js'
import type { Format } from '../../formats/index.js'
import { JOB_STATES, JobStore, notFound, type JobSnapshot } from '../../jobs/store.js'
import { checkJsonTypes, readDocument, type WireOptions } from '../document-input.js'
import type { UrlFetchOptions } from '../fetch-url.js'
import type { ServerMetrics } from '../metrics.js'
import { withoutWords } from '../../formats/words.js'
import { chooseFormat, sendResult } from '../result-reply.js'
import { jobAcceptedSchema, jobJsonBodySchema, jobParamsSchema, jobQuerySchema, jobResultQuerySchema, jobStatusSchema, resultResponseContent } from '../schemas.js'

export interface JobRouteOptions {
  ocr: Ocr
  metrics: ServerMetrics
  jobs: JobsConfig
  /** Image URL fetching for JSON {"url"} (null = refused), as on POST /v1/ocr. */
  urlFetch: Omit<UrlFetchOptions, 'maxBytes'> | null
}

const ERRORS = {
  '4xx': { description: 'Client error (see docs/ERRORS.md)', $ref: 'Error#' },
  '5xx': { description: 'Overloaded (job queue or storage full) or shutting down', $ref: 'Error#' },
} as const
const SECURITY: { [label: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }]
const TAGS = ['jobs']

const statusUrl = (id: string): string => `/v1/jobs/${id}`
const resultUrl = (id: string): string => `/v1/jobs/${id}/result`

/** The wire form of a job (snake_case, ISO dates, relative URLs: they work behind any proxy prefix-free). */
export function jobView(job: JobSnapshot): Record<string, unknown> {
  const iso = (d: Date | null): string | null => d?.toISOString() ?? null
  const { cls, pages, dpi, pdfText, words } = job.options
  return {
    id: job.id,
    status: job.state,
    pages_done: job.pagesDone,
    pages_total: job.pagesTotal,
    created_at: job.createdAt.toISOString(),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    expires_at: iso(job.expiresAt),
    file_name: job.fileName,
    options: {
      ...(cls !== undefined ? { cls } : {}),
      ...(pages !== undefined ? { pages } : {}),
      ...(dpi !== undefined ? { dpi } : {}),
      ...(pdfText !== undefined ? { pdf_text: pdfText } : {}),
      ...(words !== undefined ? { words } : {}),
    },
    error: job.error,
    status_url: statusUrl(job.id),
    result_url: resultUrl(job.id),
  }
}

export function registerJobRoutes(app: FastifyInstance, deps: JobRouteOptions): JobStore {
  const { ocr, metrics, jobs: cfg } = deps
  const store = new JobStore({
    ocr,
    concurrency: cfg.concurrency,
    maxQueued: cfg.maxQueued,
    ttlMs: cfg.ttlMs,
    timeoutMs: cfg.timeoutMs,
    maxStoredBytes: cfg.maxStoredBytes,
    logger: app.log,
  })
  if (cfg.concurrency >= ocr.stats().workers) {
    app.log.warn({ jobsConcurrency: cfg.concurrency, workers: ocr.stats().workers }, 'OCR_JOBS_CONCURRENCY >= OCR_WORKERS: running jobs can hold every worker, and /v1/ocr requests wait for a job to finish')
  }
  // shutdown: running jobs are cancelled (their results could not outlive the process anyway)
  app.addHook('preClose', async () => store.close())
  new Gauge({
    name: 'ocr_jobs',
    help: 'Async jobs held by this instance, by state',
    labelNames: ['state'] as const,
    registers: [metrics.registry],
    collect() {
      const counts = store.counts()
      for (const state of JOB_STATES) this.set({ state }, counts[state])
    },
  })
  new Gauge({
    name: 'ocr_jobs_stored_bytes',
    help: 'Bytes of documents held by async jobs (OCR_JOBS_MAX_STORED_BYTES bounds it)',
    registers: [metrics.registry],
    collect() {
      this.set(store.storedBytes())
    },
  })

  app.post<{ Querystring: WireOptions }>(
    '/v1/jobs',
    {
      bodyLimit: cfg.maxBodyBytes,
      schema: {
        summary: 'Submit a document (or image) for asynchronous OCR',
        description:
          'The same inputs and options as POST /v1/ocr (raw body, multipart field `image`, or JSON base64), up to OCR_JOBS_MAX_BODY_BYTES; `format` is chosen when the result is fetched. ' +
          'Answers 202 at once with the job id and a Location header; poll the status URL for progress. Jobs live in this instance\'s memory (docs/JOBS.md).',
        tags: TAGS,
        querystring: jobQuerySchema,
        body: { content: { 'application/json': { schema: jobJsonBodySchema } } },
        security: SECURITY,
        response: { 202: { description: 'Accepted: the job is queued', ...jobAcceptedSchema }, ...ERRORS },
      },
      preValidation: async (request) => checkJsonTypes(request),
    },
    async (request, reply) => {
      const doc = await readDocument(request, { maxBytes: cfg.maxBodyBytes, allowFormat: false, urlFetch: deps.urlFetch })
      request.bytesIn = doc.bytes.length
      const job = store.submit(doc.bytes, doc.options, doc.fileName)
      return reply
        .code(202)
        .header('location', statusUrl(job.id))
        .send({ id: job.id, status: job.state, status_url: statusUrl(job.id), result_url: resultUrl(job.id) })
    },
  )

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      schema: {
        summary: 'Status and progress of a job',
        tags: TAGS,
        params: jobParamsSchema,
        security: SECURITY,
        response: { 200: { $ref: 'JobStatus#' }, ...ERRORS },
      },
    },
    async (request) => {
      const job = store.get(request.params.id)
      if (!job) throw notFound(request.params.id)
      return jobView(job)
    },
  )

  app.get<{ Params: { id: string }; Querystring: { format?: Format; partial?: boolean; words?: boolean } }>(
    '/v1/jobs/:id/result',
    {
      schema: {
        summary: 'The result of a finished job, in any output format',
        description:
          '`format=` (or the Accept header) picks the format. 409 JOB_NOT_FINISHED while the job is queued or running (`partial=true`: the pages read so far), 409 JOB_FAILED for a failed or cancelled job, 410 JOB_EXPIRED after OCR_JOBS_TTL_SECONDS.',
        tags: TAGS,
        params: jobParamsSchema,
        querystring: jobResultQuerySchema,
        security: SECURITY,
        response: {
          200: {
            description: 'The result (pages in order)',
            content: resultResponseContent,
          },
          ...ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { job, result, source } = store.result(request.params.id, request.query.partial === true)
      const format = chooseFormat(request.query.format, request.headers.accept)
      // a job always keeps its words (any format may be asked for later); JSON shows them when asked
      const asked = job.options.words === true || request.query.words === true
      return sendResult(reply, format, format === 'json' && !asked ? withoutWords(result) : result, { source, fileName: job.fileName })
    },
  )

  app.delete<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      schema: {
        summary: 'Cancel a queued or running job, or delete a finished one',
        description: 'A queued or running job is cancelled (200 with its status, now `cancelled`); a finished or expired job is forgotten at once (204).',
        tags: TAGS,
        params: jobParamsSchema,
        security: SECURITY,
        response: { 200: { $ref: 'JobStatus#' }, 204: { description: 'Deleted', type: 'null' }, ...ERRORS },
      },
    },
    async (request, reply) => {
      const outcome = store.cancel(request.params.id)
      if (outcome === 'deleted') return reply.code(204).send()
      return jobView(store.get(request.params.id)!)
    },
  )
  return store
}
