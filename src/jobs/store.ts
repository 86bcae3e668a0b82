/**
 * Async jobs for big documents (docs/JOBS.md): the job store's interface, shared by its two
 * implementations — `memory.ts` (one process, the default) and `redis.ts` (BullMQ + Redis, shared
 * by every replica) — and what both answer the same way: states, snapshots, who may see a job, and
 * what a result request gets for each state.
 */
import { createHash } from 'node:crypto'
import { parsePageRanges } from '../document/pages.js'
import { OcrError, type ErrorCode } from '../errors.js'
import type { Ocr } from '../engine.js'
import type { OcrResult, ReadOptions } from '../types.js'

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired'] as const
export type JobState = (typeof JOB_STATES)[number]
export type FinishedState = 'succeeded' | 'failed' | 'cancelled'
export const FINISHED_STATES: readonly FinishedState[] = ['succeeded', 'failed', 'cancelled']

/** The read options a job carries (the same as POST /v1/ocr's). */
export type JobReadOptions = Pick<ReadOptions, 'model' | 'cls' | 'pages' | 'dpi' | 'pdfText' | 'words'>

/**
 * Who may see a job: the SHA-256 (hex) of the API key that submitted it, or null when the service
 * has no keys (then every caller sees every job). The key itself is never stored.
 */
export type JobOwner = string | null

export function ownerOf(apiKey: string | null): JobOwner {
  return apiKey === null ? null : createHash('sha256').update(apiKey).digest('hex')
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

/** A document handed in: its bytes, the read options, the uploaded file's name. */
export interface JobDocument {
  bytes: Buffer
  options: JobReadOptions
  fileName: string | null
}

/** What a result request gets: the job, its result (or the pages read so far) and its document. */
export interface JobResult {
  job: JobSnapshot
  result: OcrResult
  source: Buffer
}

/** The numbers /metrics shows (with redis: the whole cluster's, from the shared store). */
export interface JobStoreStats {
  jobs: Record<JobState, number>
  /** Bytes of documents held by jobs that have not expired (OCR_JOBS_MAX_STORED_BYTES bounds them). */
  storedBytes: number
  /** Tasks waiting for a worker: each queued job's first task, and the pages of running jobs not taken yet. */
  tasksWaiting: number
  /** Tasks being read now (pages, or a job's first task that opens its document). */
  tasksRunning: number
  /** Age of the oldest queued job in ms (0 when none waits). */
  oldestQueuedMs: number
  /** Page tasks a stopped replica left that another one took over (redis; memory: 0). */
  stalledRecoveries: number
}

export interface JobStore {
  readonly kind: 'memory' | 'redis'
  /**
   * Accepts a document. Throws BAD_PAGE_RANGE for a malformed selection, PAYLOAD_TOO_LARGE for a
   * document over the whole storage budget, OVERLOADED when the queue or the budget is full,
   * SHUTTING_DOWN once closed, JOBS_UNAVAILABLE when the store cannot be reached.
   */
  submit(doc: JobDocument, owner: JobOwner): Promise<JobSnapshot>
  /** The job, or NOT_FOUND (also for a job another API key submitted). */
  get(id: string, owner: JobOwner): Promise<JobSnapshot>
  /**
   * The job's result and its document (format=pdf needs it). `partial`: a queued or running job
   * answers with the pages read so far instead of JOB_NOT_FINISHED.
   */
  result(id: string, owner: JobOwner, partial: boolean): Promise<JobResult>
  /**
   * DELETE: a queued or running job is cancelled (wherever its pages are being read, they stop at
   * the next stage boundary) and its snapshot returned; a finished or expired one is forgotten at
   * once (null).
   */
  cancel(id: string, owner: JobOwner): Promise<JobSnapshot | null>
  stats(): Promise<JobStoreStats>
  /** Whether the store can be reached now (memory: always). */
  reachable(): boolean
  /** Resolves true once the store can be reached, or false after `timeoutMs` (start-up). */
  whenReachable(timeoutMs: number): Promise<boolean>
  /** Shutdown: no new jobs; what becomes of the running ones is the store's (docs/JOBS.md). */
  close(): Promise<void>
}

/** The settings both stores take (config.ts JobsConfig, with times in ms). */
export interface JobLimits {
  /** How long a finished job keeps its result (and then reads `expired` for as long again). */
  ttlMs: number
  /** Time limit of one job from its start. */
  timeoutMs: number
  /** Jobs waiting to start beyond which submit() throws OVERLOADED. */
  maxQueued: number
  /** Budget for the documents kept by jobs that have not expired. */
  maxStoredBytes: number
}

/**
 * Checks what can be checked before a job is stored (the page selection, the size against the whole
 * budget, the model pack: UNKNOWN_MODEL now, not when the job runs) and gives the document to store,
 * its pack named (the default resolved), so every replica reads it with the same pack.
 */
export function checkSubmission(doc: JobDocument, limits: JobLimits & { ocr: Pick<Ocr, 'resolveModel'> }): JobDocument {
  if (doc.options.pages !== undefined) parsePageRanges(doc.options.pages)
  if (doc.bytes.length > limits.maxStoredBytes) {
    throw new OcrError('PAYLOAD_TOO_LARGE', `the document (${doc.bytes.length} bytes) is larger than the job storage budget (OCR_JOBS_MAX_STORED_BYTES=${limits.maxStoredBytes})`)
  }
  return { ...doc, options: { ...doc.options, model: limits.ocr.resolveModel(doc.options.model) } }
}

/**
 * What every read of a job's document takes from the job: batch priority, its pack, classifier and
 * PDF settings, and always the words (the result may be fetched later as hOCR, ALTO or PDF, which
 * place every word). Which pages, the signal and the deadline are the caller's.
 */
export function jobReadOptions(options: JobReadOptions): ReadOptions {
  const { model, cls, dpi, pdfText } = options
  return {
    priority: 'batch',
    words: true,
    ...(model !== undefined ? { model } : {}),
    ...(cls !== undefined ? { cls } : {}),
    ...(dpi !== undefined ? { dpi } : {}),
    ...(pdfText !== undefined ? { pdfText } : {}),
  }
}

export function queueFull(waiting: number, maxQueued: number): OcrError {
  return new OcrError('OVERLOADED', `job queue full (${waiting} jobs waiting; OCR_JOBS_MAX_QUEUED=${maxQueued})`, { retryAfterSec: 30 })
}

export function storageFull(held: number, maxStoredBytes: number): OcrError {
  return new OcrError('OVERLOADED', `job storage full (${held} bytes held by unfinished jobs; OCR_JOBS_MAX_STORED_BYTES=${maxStoredBytes})`, { retryAfterSec: 30 })
}

/**
 * Which result a request for `job` gets: the finished one, or (partial, queued or running) the
 * pages read so far; else it throws JOB_NOT_FINISHED, JOB_FAILED or JOB_EXPIRED.
 */
export function resultKind(job: JobSnapshot, partial: boolean, ttlMs: number): 'finished' | 'so-far' {
  switch (job.state) {
    case 'succeeded':
      return 'finished'
    case 'queued':
    case 'running':
      if (partial) return 'so-far'
      throw new OcrError('JOB_NOT_FINISHED', `job ${job.id} is ${job.state} (${job.pagesDone}${job.pagesTotal === null ? '' : `/${job.pagesTotal}`} pages read); poll GET /v1/jobs/${job.id}`, { retryAfterSec: 1 })
    case 'failed':
    case 'cancelled':
      throw new OcrError('JOB_FAILED', `job ${job.id} ${job.state}: ${job.error?.code}: ${job.error?.message}`)
    case 'expired':
      throw new OcrError('JOB_EXPIRED', `job ${job.id} finished more than ${Math.round(ttlMs / 1000)} s ago; its result was dropped`)
  }
}

/** The answer for an id the store does not hold, or that belongs to another API key. */
export function notFound(id: string, where: string): OcrError {
  return new OcrError('NOT_FOUND', `no job ${id} ${where}`)
}

/** Whether a caller (`owner`) may see a job submitted by `jobOwner`. */
export function visibleTo(jobOwner: JobOwner, owner: JobOwner): boolean {
  return jobOwner === null || jobOwner === owner
}

/** A DELETE's reason for a cancelled job. */
export const cancelledByDelete = (): OcrError => new OcrError('CANCELLED', 'cancelled by DELETE /v1/jobs/{id}')
