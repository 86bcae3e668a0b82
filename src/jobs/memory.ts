/**
 * The memory job store (the default): jobs in this process, nothing to install. A job is queued
 * here, then handed to the engine (`priority: 'batch'`, so every waiting interactive read goes
 * first) when fewer than `concurrency` jobs are running, as one read split over up to
 * `parallelPages` workers (each page a task a free worker takes). Pages are kept as they finish
 * (progress, partial results). A finished job keeps its result and its document for `ttlMs`,
 * then reads `expired` (result dropped) for another `ttlMs`, then is forgotten. Nothing survives
 * the process: a restarted or different instance knows none of the ids (docs/JOBS.md).
 */
import { randomUUID } from 'node:crypto'
import { resultFromPages } from '../document/result.js'
import type { Ocr } from '../engine.js'
import { OcrError, toOcrError, type ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'
import type { OcrResult, PageResult } from '../types.js'
import {
  cancelledByDelete,
  checkSubmission,
  FINISHED_STATES,
  JOB_STATES,
  jobReadOptions,
  notFound,
  queueFull,
  resultKind,
  storageFull,
  visibleTo,
  type FinishedState,
  type JobDocument,
  type JobLimits,
  type JobOwner,
  type JobReadOptions,
  type JobResult,
  type JobSnapshot,
  type JobState,
  type JobStore,
  type JobStoreStats,
} from './store.js'

export interface MemoryJobStoreOptions extends JobLimits {
  ocr: Ocr
  /** Jobs handed to the engine at once. */
  concurrency: number
  /** Pages of one job read at once, each by a different worker (1: one worker reads them in order). */
  parallelPages: number
  logger: Logger
  /** The time in ms since the epoch (tests pass their own clock to expire jobs without waiting). */
  now?: () => number
}

const WHERE = 'on this instance (jobs live in one process\'s memory until they expire)'

interface Job {
  id: string
  owner: JobOwner
  state: JobState
  createdAt: number
  startedAt: number | null
  finishedAt: number | null
  /** Finished: when the result is dropped; expired: when the id is forgotten. */
  expiresAt: number | null
  source: Buffer | null
  fileName: string | null
  options: JobReadOptions
  /** Pages read so far, by page number (they finish out of order when spread over workers). */
  pages: Map<number, PageResult>
  /** pages.size until the job expires (the pages are dropped, the count stays). */
  pagesDone: number
  pagesTotal: number | null
  result: OcrResult | null
  error: { code: ErrorCode; message: string } | null
  abort: AbortController
  /** The retry timer of a hand-over the engine refused (its queue full of interactive reads). */
  retry: NodeJS.Timeout | null
}

export class MemoryJobStore implements JobStore {
  readonly kind = 'memory'
  readonly #o: MemoryJobStoreOptions
  readonly #now: () => number
  readonly #jobs = new Map<string, Job>()
  /** Queued jobs, oldest first (a job refused by a full engine queue waits at the head on its retry timer). */
  readonly #queue: Job[] = []
  #active = 0
  #storedBytes = 0
  #closed = false
  /** Drops results and forgets ids on time even when nobody asks. */
  readonly #sweeper: NodeJS.Timeout

  constructor(options: MemoryJobStoreOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(options.ttlMs, 60_000))
    this.#sweeper.unref()
  }

  async submit(doc: JobDocument, owner: JobOwner): Promise<JobSnapshot> {
    this.#sweep()
    if (this.#closed) throw new OcrError('SHUTTING_DOWN', 'the service is shutting down and takes no new jobs', { retryAfterSec: 5 })
    doc = checkSubmission(doc, this.#o)
    if (this.#active >= this.#o.concurrency && this.#queue.length >= this.#o.maxQueued) throw queueFull(this.#queue.length, this.#o.maxQueued)
    this.#makeRoom(doc.bytes.length)
    const job: Job = {
      id: randomUUID(),
      owner,
      state: 'queued',
      createdAt: this.#now(),
      startedAt: null,
      finishedAt: null,
      expiresAt: null,
      // our own copy: the request's buffer may be a slice of a larger pooled one
      source: Buffer.from(doc.bytes),
      fileName: doc.fileName,
      options: { ...doc.options },
      pages: new Map(),
      pagesDone: 0,
      pagesTotal: null,
      result: null,
      error: null,
      abort: new AbortController(),
      retry: null,
    }
    this.#storedBytes += job.source!.length
    this.#jobs.set(job.id, job)
    this.#queue.push(job)
    this.#o.logger.info({ job: job.id, bytes: job.source!.length, queued: this.#queue.length }, 'job queued')
    this.#pump()
    return this.#snapshot(job)
  }

  async get(id: string, owner: JobOwner): Promise<JobSnapshot> {
    return this.#snapshot(this.#find(id, owner))
  }

  async result(id: string, owner: JobOwner, partial: boolean): Promise<JobResult> {
    const job = this.#find(id, owner)
    const snapshot = this.#snapshot(job)
    const result = resultKind(snapshot, partial, this.#o.ttlMs) === 'finished' ? job.result! : resultFromPages(job.options.model!, inOrder(job.pages))
    return { job: snapshot, result, source: job.source! }
  }

  async cancel(id: string, owner: JobOwner): Promise<JobSnapshot | null> {
    const job = this.#find(id, owner)
    if (job.state === 'queued' || job.state === 'running') {
      this.#stop(job, cancelledByDelete())
      return this.#snapshot(job)
    }
    this.#forget(job)
    return null
  }

  async stats(): Promise<JobStoreStats> {
    this.#sweep()
    const jobs = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>
    for (const job of this.#jobs.values()) jobs[job.state]++
    const oldest = this.#queue[0]
    const { batch } = this.#o.ocr.stats()
    return {
      jobs,
      storedBytes: this.#storedBytes,
      // a queued job is one task (its document is opened first); the engine holds the running jobs' tasks
      tasksWaiting: this.#queue.length + batch.waiting,
      tasksRunning: batch.running,
      oldestQueuedMs: oldest ? this.#now() - oldest.createdAt : 0,
      stalledRecoveries: 0,
    }
  }

  reachable(): boolean {
    return true
  }

  async whenReachable(): Promise<boolean> {
    return true
  }

  /** Shutdown: no new jobs; queued and running ones are cancelled (SHUTTING_DOWN): their results could not outlive the process. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#sweeper)
    for (const job of this.#jobs.values()) {
      if (job.state === 'queued' || job.state === 'running') this.#stop(job, new OcrError('SHUTTING_DOWN', 'the service shut down before the job finished'))
    }
  }

  /** The job `id` as `owner` may see it (NOT_FOUND otherwise), expiries applied first. */
  #find(id: string, owner: JobOwner): Job {
    this.#sweep()
    const job = this.#jobs.get(id)
    if (!job || !visibleTo(job.owner, owner)) throw notFound(id, WHERE)
    return job
  }

  #pump(): void {
    while (!this.#closed && this.#active < this.#o.concurrency) {
      const job = this.#queue.find((j) => j.retry === null)
      if (!job) return
      this.#queue.splice(this.#queue.indexOf(job), 1)
      this.#start(job)
    }
  }

  #start(job: Job): void {
    job.state = 'running'
    job.startedAt ??= this.#now()
    this.#active++
    const { pages } = job.options
    this.#o.ocr
      .read(job.source!, {
        ...jobReadOptions(job.options),
        ...(pages !== undefined ? { pages } : {}),
        parallelPages: this.#o.parallelPages,
        signal: job.abort.signal,
        timeoutMs: this.#o.timeoutMs,
        onPage: (page, { total }) => {
          if (job.state !== 'running') return
          job.pages.set(page.page, page)
          job.pagesDone = job.pages.size
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
            job.pages.clear()
            job.pagesDone = 0
            job.pagesTotal = null
            this.#queue.unshift(job)
            job.retry = setTimeout(() => {
              job.retry = null
              this.#pump()
            }, (e.retryAfterSec ?? 1) * 1000)
            job.retry.unref()
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
    if (job.retry) clearTimeout(job.retry)
    job.retry = null
    job.abort.abort(reason)
    this.#finish(job, 'cancelled', null, reason)
  }

  #finish(job: Job, state: FinishedState, result: OcrResult | null, err: OcrError | null): void {
    job.state = state
    job.finishedAt = this.#now()
    job.result = result
    if (result) {
      job.pages = new Map(result.pages.map((p) => [p.page, p]))
      job.pagesDone = job.pagesTotal = result.pages.length
    }
    job.error = err ? { code: err.code, message: err.message } : null
    job.expiresAt = job.finishedAt + this.#o.ttlMs
    const ms = job.startedAt === null ? 0 : job.finishedAt - job.startedAt
    const line = { job: job.id, state, pages: job.pages.size, ms, ...(err ? { code: err.code, error: err.message } : {}) }
    if (err?.status !== undefined && err.status >= 500 && err.code !== 'SHUTTING_DOWN') this.#o.logger.error(line, 'job finished')
    else this.#o.logger.info(line, 'job finished')
  }

  /** Finished jobs past their time expire; expired ones past theirs are forgotten. */
  #sweep(): void {
    const now = this.#now()
    for (const job of this.#jobs.values()) {
      if (job.expiresAt === null || job.expiresAt > now) continue
      if (job.state === 'expired') this.#forget(job)
      else this.#expire(job, job.expiresAt)
    }
  }

  /** The result and the document are dropped (at time `at`); the id reads `expired` for one more TTL. */
  #expire(job: Job, at: number): void {
    this.#release(job)
    job.state = 'expired'
    job.result = null
    job.pages.clear()
    job.expiresAt = at + this.#o.ttlMs
  }

  #forget(job: Job): void {
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
    if (this.#storedBytes + bytes <= this.#o.maxStoredBytes) return
    const finished = [...this.#jobs.values()].filter((j) => FINISHED_STATES.includes(j.state as FinishedState)).sort((a, b) => a.finishedAt! - b.finishedAt!)
    for (const job of finished) {
      if (this.#storedBytes + bytes <= this.#o.maxStoredBytes) return
      this.#o.logger.info({ job: job.id }, 'job expired early: job storage budget reached')
      this.#expire(job, this.#now())
    }
    if (this.#storedBytes + bytes > this.#o.maxStoredBytes) throw storageFull(this.#storedBytes, this.#o.maxStoredBytes)
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

/** Pages in page order. */
export function inOrder(pages: ReadonlyMap<number, PageResult>): PageResult[] {
  return [...pages.values()].sort((a, b) => a.page - b.page)
}
