/**
 * Async jobs for big documents (docs/JOBS.md): POST /v1/jobs → 202, GET /v1/jobs/{id} (status and
 * progress), GET /v1/jobs/{id}/result?format=, DELETE /v1/jobs/{id} (cancel, or forget a finished one).
 * The routes serve the store they are given (memory or Redis, built where the app is composed); a
 * caller sees only the jobs its API key submitted.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { JobsConfig } from '../../config.js'
import type { Format } from '../../formats/index.js'
import type { JobOwner, JobSnapshot, JobStore } from '../../jobs/store.js'
import { checkJsonTypes, readDocument, type WireOptions } from '../document-input.js'
import type { UrlFetchOptions } from '../fetch-url.js'
import { withoutWords } from '../../formats/words.js'
import { chooseFormat, sendResult } from '../result-reply.js'
import { jobAcceptedSchema, jobJsonBodySchema, jobParamsSchema, jobQuerySchema, jobResultQuerySchema, resultResponseContent } from '../schemas.js'

export interface JobRouteOptions {
  store: JobStore
  jobs: JobsConfig
  /** Image URL fetching for JSON {"url"} (null = refused), as on POST /v1/ocr. */
  urlFetch: Omit<UrlFetchOptions, 'maxBytes'> | null
}

const ERRORS = {
  '4xx': { description: 'Client error (see docs/ERRORS.md)', $ref: 'Error#' },
  '5xx': { description: 'Overloaded (job queue or storage full), shutting down, or the job store (Redis) unreachable', $ref: 'Error#' },
} as const
const SECURITY: { [label: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }]
const TAGS = ['jobs']

const statusUrl = (id: string): string => `/v1/jobs/${id}`
const resultUrl = (id: string): string => `/v1/jobs/${id}/result`

/** The wire form of a job (snake_case, ISO dates, relative URLs: they work behind any proxy prefix-free). */
export function jobView(job: JobSnapshot): Record<string, unknown> {
  const iso = (d: Date | null): string | null => d?.toISOString() ?? null
  const { model, cls, pages, dpi, pdfText, words } = job.options
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
      ...(model !== undefined ? { model } : {}),
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

/** The caller a job belongs to: the digest of its API key (security.ts), none without keys. */
const ownerOf = (request: FastifyRequest): JobOwner => request.apiKeyDigest ?? null

export function registerJobRoutes(app: FastifyInstance, deps: JobRouteOptions): void {
  const { store, jobs: cfg } = deps
  app.post<{ Querystring: WireOptions }>(
    '/v1/jobs',
    {
      bodyLimit: cfg.maxBodyBytes,
      config: { bodyLimit: { bytes: cfg.maxBodyBytes, setting: 'OCR_JOBS_MAX_BODY_BYTES' } },
      schema: {
        summary: 'Submit a document (or image) for asynchronous OCR',
        description:
          'The same inputs and options as POST /v1/ocr (raw body, multipart field `image`, or JSON base64), up to OCR_JOBS_MAX_BODY_BYTES; `format` is chosen when the result is fetched. ' +
          'Answers 202 at once with the job id and a Location header; poll the status URL for progress. Jobs live in this instance\'s memory, or with OCR_REDIS_URL in Redis, where every replica answers for them (docs/JOBS.md).',
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
      const job = await store.submit({ bytes: doc.bytes, options: doc.options, fileName: doc.fileName }, ownerOf(request))
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
    async (request) => jobView(await store.get(request.params.id, ownerOf(request))),
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
      const { job, result, source } = await store.result(request.params.id, ownerOf(request), request.query.partial === true)
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
      const cancelled = await store.cancel(request.params.id, ownerOf(request))
      if (cancelled === null) return reply.code(204).send()
      return jobView(cancelled)
    },
  )
}
