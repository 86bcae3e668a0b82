/**
 * Async jobs for big documents: an in-memory store in front of the engine, per process.
 *
 * A job is queued here, then handed to the engine (`priority: 'batch'`, so every waiting
 * interactive read goes first) when fewer than `concurrency` jobs are running. Pages are kept as
 * they finish (progress, partial results). A finished job keeps its result and its document for
 * `ttlMs`, then reads `expired` (result dropped) for another `ttlMs`, then is forgotten. Nothing
 * survives the process: a restarted or different instance knows none of the ids (docs/JOBS.md).
 */
import { randomUUID } from 'node:crypto'
import { resultFromPages } from '../document/document.js'
import { parsePageRanges } from '../document/pages.js'
import type { Ocr } from '../engine.js'
import { OcrError, toOcrError, type ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'
import type { OcrResult, PageResult, ReadOptions } from '../types.js'

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired'] as const
export type JobState = (typeof JOB_STATES)[number]
const FINISHED: readonly JobState[] = ['succeeded', 'failed', 'cancelled']

/** The read options a job carries (the same as POST /v1/ocr's). */
export type JobReadOptions = Pick<ReadOptions, 'cls' | 'pages' | 'dpi' | 'pdfText' | 'words'>

export interface JobStoreOptions {
  ocr: Ocr
  /** Jobs handed to the engine at once. */
  concurrency: number
  /** Jobs waiting to start beyond which submit() throws OVERLOADED. */
  maxQueued: number
  /** How long a finished job keeps its result (and then reads `expired` for as long again). */
  ttlMs: number
  /** Time limit of one job once it is handed to the engine. */
  timeoutMs: number
  /** Budget for the documents kept by jobs that have not expired. */
  maxStoredBytes: number
  logger: Logger
}

/** A read-only view of one job. */
export interface JobSnapshot {
  id: string
  state: JobState
  createdAt: Date
  startedAt: Date | null
  finishedAt: Date | null
  /** When a finished job's result is dropped (expired: when the id is forgotten). */
  expiresAt: Date | null
  /** Pages read so far, and how many the job reads (null until the document is opened). */
  pagesDone: number
  pagesTotal: number | null
  fileName: string | null
  options: JobReadOptions
  error: { code: ErrorCode; message: string } | null
}

interface Job {
  id: string
  state: JobState
  createdAt: number
  startedAt: number | null
  finishedAt: number | null
  expiresAt: number | null
  source: Buffer | null
  fileName: string | null
  options: JobReadOptions
  pages: PageResult[]
  /** pages.length until the job expires (the pages are dropped, the count stays). */
  pagesDone: number
  pagesTotal: number | null
  result: OcrResult | null
  error: { code: ErrorCode; message: string } | null
  abort: AbortController
  /** The expiry (finished) or forget (expired) timer, or the retry timer of a refused hand-over. */
  timer: NodeJS.Timeout | null
}

export class JobStore {
  readonly #o: JobStoreOptions
  readonly #jobs = new Map<string, Job>()
  /** Queued jobs, oldest first (a job refused by a full engine queue waits at the head on its retry timer). */
  readonly #queue: Job[] = []
  #active = 0
  #storedBytes = 0
  #closed = false

  constructor(options: JobStoreOptions) {
    this.#o = options
  }

  /**
   * Queues a document. Throws BAD_PAGE_RANGE for a malformed selection, OVERLOADED when the queue
   * or the storage budget is full, SHUTTING_DOWN once closed.
   */
  submit(source: Buffer, options: JobReadOptions = {}, fileName: string | null = null): JobSnapshot {
    if (this.#closed) throw new OcrError('SHUTTING_DOWN', 'the service is shutting down and takes no new jobs', { retryAfterSec: 5 })
    if (options.pages !== undefined) parsePageRanges(options.pages)
    if (this.#active >= this.#o.concurrency && this.#queue.length >= this.#o.maxQueued) {
      throw new OcrError('OVERLOADED', `job queue full (${this.#queue.length} jobs waiting; OCR_JOBS_MAX_QUEUED=${this.#o.maxQueued})`, { retryAfterSec: 30 })
    }
    this.#makeRoom(source.length)
    const job: Job = {
      id: randomUUID(),
      state: 'queued',
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
      expiresAt: null,
      // our own copy: the request's buffer may be a slice of a larger pooled one
      source: Buffer.from(source),
      fileName,
      options: { ...options },
      pages: [],
      pagesDone: 0,
      pagesTotal: null,
      result: null,
      error: null,
      abort: new AbortController(),
      timer: null,
    }
    this.#storedBytes += source.length
    this.#jobs.set(job.id, job)
    this.#queue.push(job)
    this.#o.logger.info({ job: job.id, bytes: source.length, queued: this.#queue.length }, 'job queued')
    this.#pump()
    return this.#snapshot(job)
  }

  get(id: string): JobSnapshot | undefined {
    const job = this.#jobs.get(id)
    return job ? this.#snapshot(job) : undefined
  }

  /**
   * The job's result and its document (format=pdf needs it). `partial`: a queued or running job
   * answers with the pages read so far instead of JOB_NOT_FINISHED.
   */
  result(id: string, partial = false): { job: JobSnapshot; result: OcrResult; source: Buffer } {
    const job = this.#jobs.get(id)
    if (!job) throw notFound(id)
    switch (job.state) {
      case 'succeeded':
        return { job: this.#snapshot(job), result: job.result!, source: job.source! }
      case 'queued':
      case 'running':
        if (partial) return { job: this.#snapshot(job), result: resultFromPages(job.pages), source: job.source! }
        throw new OcrError('JOB_NOT_FINISHED', `job ${id} is ${job.state} (${job.pagesDone}${job.pagesTotal === null ? '' : `/${job.pagesTotal}`} pages read); poll GET /v1/jobs/${id}`, { retryAfterSec: 1 })
      case 'failed':
      case 'cancelled':
        throw new OcrError('JOB_FAILED', `job ${id} ${job.state}: ${job.error?.code}: ${job.error?.message}`)
      case 'expired':
        throw new OcrError('JOB_EXPIRED', `job ${id} finished more than ${Math.round(this.#o.ttlMs / 1000)} s ago; its result was dropped`)
    }
  }

  /**
   * DELETE: a queued or running job is cancelled (the engine is told to stop; the job stays
   * readable as `cancelled` until it expires); a finished or expired one is forgotten at once.
   */
  cancel(id: string): 'cancelled' | 'deleted' {
    const job = this.#jobs.get(id)
    if (!job) throw notFound(id)
    if (job.state === 'queued' || job.state === 'running') {
      this.#stop(job, new OcrError('CANCELLED', 'cancelled by DELETE /v1/jobs/{id}'))
      return 'cancelled'
    }
    this.#forget(job)
    return 'deleted'
  }

  /** Jobs by state (metrics). */
  counts(): Record<JobState, number> {
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>
    for (const job of this.#jobs.values()) out[job.state]++
    return out
  }

  /** Bytes of documents held by jobs that have not expired. */
  storedBytes(): number {
    return this.#storedBytes
  }

  /** Shutdown: no new jobs; queued and running ones are cancelled (SHUTTING_DOWN), timers cleared. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const job of this.#jobs.values()) {
      if (job.state === 'queued' || job.state === 'running') this.#stop(job, new OcrError('SHUTTING_DOWN', 'the service shut down before the job finished'))
      if (job.timer) clearTimeout(job.timer)
      job.timer = null
    }
  }

  #pump(): void {
    while (!this.#closed && this.#active < this.#o.concurrency) {
      const job = this.#queue.find((j) => j.timer === null)
      if (!job) return
      this.#queue.splice(this.#queue.indexOf(job), 1)
      this.#start(job)
    }
  }

  #start(job: Job): void {
    job.state = 'running'
    job.startedAt ??= Date.now()
    this.#active++
    const { cls, pages, dpi, pdfText } = job.options
    this.#o.ocr
      .read(job.source!, {
        priority: 'batch',
        signal: job.abort.signal,
        timeoutMs: this.#o.timeoutMs,
        ...(cls !== undefined ? { cls } : {}),
        ...(pages !== undefined ? { pages } : {}),
        ...(dpi !== undefined ? { dpi } : {}),
        ...(pdfText !== undefined ? { pdfText } : {}),
        // the result may be fetched later in any format (hOCR, ALTO, PDF place every word): keep them
        words: true,
        onPage: (page, { total }) => {
          if (job.state !== 'running') return
          job.pages.push(page)
          job.pagesDone = job.pages.length
          job.pagesTotal = total
        },
      })
      .then(
        (result) => {
          if (job.state === 'running') this.#finish(job, 'succeeded', result, null)
        },
        (err: unknown) => {
          if (job.state !== 'running') return
          const e = toOcrError(err)
          if (e.code === 'OVERLOADED' && !this.#closed) {
            // the engine's queue is full of interactive requests: wait and hand it over again
            job.state = 'queued'
            job.pages = []
            job.pagesDone = 0
            job.pagesTotal = null
            this.#queue.unshift(job)
            job.timer = setTimeout(() => {
              job.timer = null
              this.#pump()
            }, (e.retryAfterSec ?? 1) * 1000)
            job.timer.unref()
            return
          }
          this.#finish(job, e.code === 'CANCELLED' ? 'cancelled' : 'failed', null, e)
        },
      )
      .finally(() => {
        this.#active--
        this.#pump()
      })
  }

  /** Cancels a queued or running job with `reason` (the engine drops or stops it). */
  #stop(job: Job, reason: OcrError): void {
    const i = this.#queue.indexOf(job)
    if (i >= 0) this.#queue.splice(i, 1)
    if (job.timer) clearTimeout(job.timer)
    job.timer = null
    job.abort.abort(reason)
    this.#finish(job, 'cancelled', null, reason)
  }

  #finish(job: Job, state: 'succeeded' | 'failed' | 'cancelled', result: OcrResult | null, err: OcrError | null): void {
    job.state = state
    job.finishedAt = Date.now()
    job.result = result
    if (result) {
      job.pages = result.pages
      job.pagesDone = job.pagesTotal = result.pages.length
    }
    job.error = err ? { code: err.code, message: err.message } : null
    job.expiresAt = job.finishedAt + this.#o.ttlMs
    const ms = job.startedAt === null ? 0 : job.finishedAt - job.startedAt
    const line = { job: job.id, state, pages: job.pages.length, ms, ...(err ? { code: err.code, error: err.message } : {}) }
    if (err?.status !== undefined && err.status >= 500 && err.code !== 'SHUTTING_DOWN') this.#o.logger.error(line, 'job finished')
    else this.#o.logger.info(line, 'job finished')
    if (this.#closed) return
    job.timer = setTimeout(() => this.#expire(job), this.#o.ttlMs)
    job.timer.unref()
  }

  /** The result and the document are dropped; the id reads `expired` for one more TTL. */
  #expire(job: Job): void {
    if (job.timer) clearTimeout(job.timer)
    this.#release(job)
    job.state = 'expired'
    job.result = null
    job.pages = []
    job.expiresAt = Date.now() + this.#o.ttlMs
    job.timer = setTimeout(() => this.#forget(job), this.#o.ttlMs)
    job.timer.unref()
  }

  #forget(job: Job): void {
    if (job.timer) clearTimeout(job.timer)
    job.timer = null
    this.#release(job)
    this.#jobs.delete(job.id)
  }

  #release(job: Job): void {
    if (!job.source) return
    this.#storedBytes -= job.source.length
    job.source = null
  }

  /** Expires the oldest finished jobs early until `bytes` more fit the budget, else OVERLOADED. */
  #makeRoom(bytes: number): void {
    if (bytes > this.#o.maxStoredBytes) {
      throw new OcrError('PAYLOAD_TOO_LARGE', `the document (${bytes} bytes) is larger than the job storage budget (OCR_JOBS_MAX_STORED_BYTES=${this.#o.maxStoredBytes})`)
    }
    if (this.#storedBytes + bytes <= this.#o.maxStoredBytes) return
    const finished = [...this.#jobs.values()].filter((j) => FINISHED.includes(j.state)).sort((a, b) => a.finishedAt! - b.finishedAt!)
    for (const job of finished) {
      if (this.#storedBytes + bytes <= this.#o.maxStoredBytes) return
      this.#o.logger.info({ job: job.id }, 'job expired early: job storage budget reached')
      this.#expire(job)
    }
    if (this.#storedBytes + bytes > this.#o.maxStoredBytes) {
      throw new OcrError('OVERLOADED', `job storage full (${this.#storedBytes} bytes held by unfinished jobs; OCR_JOBS_MAX_STORED_BYTES=${this.#o.maxStoredBytes})`, { retryAfterSec: 30 })
    }
  }

  #snapshot(job: Job): JobSnapshot {
    const date = (t: number | null): Date | null => (t === null ? null : new Date(t))
    return {
      id: job.id,
      state: job.state,
      createdAt: new Date(job.createdAt),
      startedAt: date(job.startedAt),
      finishedAt: date(job.finishedAt),
      expiresAt: date(job.expiresAt),
      pagesDone: job.pagesDone,
      pagesTotal: job.pagesTotal,
      fileName: job.fileName,
      options: { ...job.options },
      error: job.error,
    }
  }
}

/** The answer for an id this instance does not hold. */
export function notFound(id: string): OcrError {
  return new OcrError('NOT_FOUND', `no job ${id} on this instance (jobs live in one process's memory until they expire)`)
}
