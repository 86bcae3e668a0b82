/**
 * The Redis store (OCR_REDIS_URL): jobs shared by every replica. BullMQ carries the tasks — one
 * `plan` task per job (open the document, list its pages, add a `page` task per page) and the page
 * tasks, which any replica's worker takes, each read with `priority: 'batch'` by the engine — with
 * its locks, stalled-task recovery, retries and backoff. The job records (state, pages read,
 * document, expiry, the storage budget) are plain Redis keys changed by the Lua scripts of
 * redis-scripts.ts. A cancel is published on a channel every replica listens to. docs/JOBS.md has
 * the lifecycle and the failure modes.
 */
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { DelayedError, Queue, WaitingError, Worker, type Job as Task } from 'bullmq'
import { Redis, type RedisOptions } from 'ioredis'
import { resultFromPages } from '../document/result.js'
import type { Ocr } from '../engine.js'
import { OcrError, toOcrError, type ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'
import type { PageResult } from '../types.js'
import { JOB_SCRIPTS, type ScriptName } from './redis-scripts.js'
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

export interface RedisJobStoreOptions extends JobLimits {
  ocr: Ocr
  /** redis:// or rediss:// (never logged: it may hold a password). */
  url: string
  /** Prefix of every key and of the cancel channel. */
  prefix: string
  /** Tasks this replica reads at once. */
  pagesInFlight: number
  /** Tries of a task (retried errors: a crashed worker, an unreachable model server, a stopped replica). */
  attempts: number
  /** Task lock duration and stalled-task check interval (ms). */
  stallMs: number
  logger: Logger
  /**
   * The time in ms since the epoch for job records (created, deadlines, expiry); tests pass their
   * own. BullMQ's locks, stalls and delays keep the real clock.
   */
  now?: () => number
}

/** A BullMQ task: a job's plan (its first task), or one of its pages. */
interface TaskData {
  job: string
  page?: number
}

const WHERE = '(it was never issued, was deleted, or expired)'
/** Errors a task tries again, up to OCR_JOBS_ATTEMPTS; any other is the document's own and fails the job at once. */
const RETRIED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['INTERNAL', 'MODEL_ERROR', 'NOT_READY'])
/** How often each replica sweeps (expiries, job deadlines). */
const SWEEP_MS = 1000
/** Redis commands of an HTTP request give up after this (a hung Redis answers 503, not never). */
const COMMAND_TIMEOUT_MS = 10_000
/** Every this many sweeps, queued jobs older than ORPHAN_AGE_MS are checked for their plan task. */
const ORPHAN_CHECK_SWEEPS = 30
const ORPHAN_AGE_MS = 60_000
/** Documents a replica keeps in memory for the page tasks of the same job. */
const CACHED_DOCUMENTS = 4

const unavailable = (): OcrError => new OcrError('JOBS_UNAVAILABLE', 'the job store (Redis) cannot be reached; POST /v1/ocr still works', { retryAfterSec: 5 })

/** The Redis address without credentials, for logs. */
export function redisTarget(url: string): string {
  const u = new URL(url)
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`
}

type Scripts = Record<ScriptName, (...args: (string | number | Buffer)[]) => Promise<unknown>>

/** Our Lua scripts on a connection (ioredis loads each once and calls it by its hash). */
function scriptsOn(client: Redis, keyPrefix: string): Scripts {
  const calls = {} as Scripts
  for (const [name, lua] of Object.entries(JOB_SCRIPTS) as [ScriptName, string][]) {
    const command = `ocrserve_${name}`
    client.defineCommand(command, { numberOfKeys: 1, lua })
    const fn = (client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[command]!.bind(client)
    calls[name] = (...args) => fn(keyPrefix, ...args)
  }
  return calls
}

export class RedisJobStore implements JobStore {
  readonly kind = 'redis'
  readonly #o: RedisJobStoreOptions
  readonly #log: Logger
  readonly #now: () => number
  /** Keys: `<prefix>:`. */
  readonly #p: string
  /** HTTP requests' connection: commands fail at once while Redis is away (503 JOBS_UNAVAILABLE). */
  readonly #cmd: Redis
  /** The workers' connection: commands wait for Redis to come back, so accepted jobs carry on. */
  readonly #work: Redis
  /** Cancel messages from any replica. */
  readonly #sub: Redis
  readonly #http: Scripts
  readonly #tasks: Scripts
  /** Adds plan tasks (submissions). */
  readonly #queue: Queue<TaskData>
  /** Adds page tasks (from a plan task; waits out an outage). */
  readonly #workQueue: Queue<TaskData>
  readonly #worker: Worker<TaskData>
  /** Tasks running here, by job id: stopped when the job is cancelled or fails elsewhere, or at shutdown. */
  readonly #running = new Map<string, Set<AbortController>>()
  readonly #documents = new Map<string, Promise<Buffer>>()
  readonly #sweeper: NodeJS.Timeout
  #up = false
  #closing = false
  #sweeps = 0

  constructor(options: RedisJobStoreOptions) {
    this.#o = options
    this.#log = options.logger
    this.#now = options.now ?? Date.now
    this.#p = `${options.prefix}:`
    const base: RedisOptions = {
      // reconnect forever, backing off to 2 s between tries
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      connectionName: `ocrserve-${hostname()}-${process.pid}`,
    }
    this.#cmd = new Redis(options.url, { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: COMMAND_TIMEOUT_MS })
    this.#work = new Redis(options.url, { ...base, maxRetriesPerRequest: null })
    this.#sub = new Redis(options.url, { ...base, maxRetriesPerRequest: null })
    this.#watch(this.#cmd)
    // (the same outage as #cmd's, which #watch reports once per change)
    for (const c of [this.#work, this.#sub]) c.on('error', () => undefined)
    this.#http = scriptsOn(this.#cmd, this.#p)
    this.#tasks = scriptsOn(this.#work, this.#p)
    const defaultJobOptions = {
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    }
    this.#queue = new Queue<TaskData>('tasks', { connection: this.#cmd, prefix: options.prefix, defaultJobOptions })
    this.#workQueue = new Queue<TaskData>('tasks', { connection: this.#work, prefix: options.prefix, defaultJobOptions })
    this.#worker = new Worker<TaskData>('tasks', (task, token) => this.#process(task, token), {
      connection: this.#work,
      prefix: options.prefix,
      concurrency: options.pagesInFlight,
      lockDuration: options.stallMs,
      stalledInterval: options.stallMs,
      // a page that stops its replica every time (a crash, an OOM kill) fails after `attempts` tries
      maxStalledCount: Math.max(0, options.attempts - 1),
      name: `${hostname()}:${process.pid}`,
    })
    // BullMQ's own errors; while Redis is away they are the reconnection attempts #watch reports once
    const queueError = (err: Error): void => {
      if (this.#up) this.#log.warn({ store: 'redis', error: err.message }, 'job queue error')
    }
    this.#queue.on('error', queueError)
    this.#workQueue.on('error', queueError)
    this.#worker.on('error', queueError)
    this.#worker.on('stalled', (taskId) => {
      this.#log.warn({ task: taskId }, 'job task taken over from a replica that stopped')
      this.#work.incr(`${this.#p}jobs:stalled`).catch((err: Error) => this.#log.warn({ store: 'redis', error: err.message }, 'cannot count a stalled-task recovery'))
    })
    // a task that failed for good outside its processor (stopped its replica too often)
    this.#worker.on('failed', (task, err) => {
      if (!task?.finishedOn) return
      const what = task.data.page === undefined ? 'opening the document' : `page ${task.data.page}`
      const reason = /stalled/.test(err.message) ? `the replicas reading ${what} stopped ${task.opts.attempts ?? 1} times (crash or kill)` : err.message
      this.#endJob(task.data.job, 'failed', new OcrError('INTERNAL', `${what}: ${reason}`)).catch((e: Error) =>
        this.#log.error({ job: task.data.job, error: e.message }, 'cannot fail the job of a task that failed for good'),
      )
    })
    // (ioredis subscribes again by itself after a reconnection)
    this.#sub.subscribe(this.#cancelChannel).catch((err: Error) => this.#log.error({ store: 'redis', error: err.message }, 'cannot listen for cancelled jobs'))
    this.#sub.on('message', (_channel: string, id: string) => this.#stopLocal(id, new OcrError('CANCELLED', 'the job was cancelled or failed')))
    this.#sweeper = setInterval(() => void this.#sweep(), SWEEP_MS)
    this.#sweeper.unref()
    this.#log.info({ store: 'redis', redis: redisTarget(options.url), prefix: options.prefix, pagesInFlight: options.pagesInFlight }, 'job store: redis')
  }

  get #cancelChannel(): string {
    return `${this.#p}cancel`
  }

  /** Reachability from the HTTP connection: one log line per change, never the URL. */
  #watch(client: Redis): void {
    let lastError = ''
    client.on('error', (err: Error) => {
      lastError = err.message
    })
    client.on('ready', () => {
      if (!this.#up) this.#log.info({ store: 'redis' }, 'job store reachable')
      this.#up = true
    })
    const down = (): void => {
      if (this.#up && !this.#closing) this.#log.error({ store: 'redis', error: lastError || 'connection closed' }, 'job store unreachable: /v1/jobs answers 503 until it is back')
      this.#up = false
    }
    client.on('close', down)
    client.on('end', down)
  }

  reachable(): boolean {
    return this.#up
  }

  async whenReachable(timeoutMs: number): Promise<boolean> {
    if (this.#up) return true
    return new Promise<boolean>((resolve) => {
      const ready = (): void => {
        clearTimeout(timer)
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.#cmd.off('ready', ready)
        resolve(this.#up)
      }, timeoutMs)
      this.#cmd.once('ready', ready)
    })
  }

  async submit(doc: JobDocument, owner: JobOwner): Promise<JobSnapshot> {
    if (this.#closing) throw new OcrError('SHUTTING_DOWN', 'the service is shutting down and takes no new jobs', { retryAfterSec: 5 })
    doc = checkSubmission(doc, this.#o)
    const id = randomUUID()
    const now = this.#now()
    const [outcome, n, early, late] = (await this.#http$(() =>
      this.#http.submit(now, this.#o.ttlMs, this.#o.timeoutMs, this.#o.maxQueued, this.#o.maxStoredBytes, id, owner ?? '', doc.fileName ?? '', JSON.stringify(doc.options), doc.bytes),
    )) as [string, number, string[], string[]]
    this.#timedOut(late)
    for (const e of early) this.#log.info({ job: e }, 'job expired early: job storage budget reached')
    if (outcome === 'queue_full') throw queueFull(n, this.#o.maxQueued)
    if (outcome === 'storage_full') throw storageFull(n, this.#o.maxStoredBytes)
    try {
      await this.#queue.add('plan', { job: id }, { jobId: taskId(id) })
    } catch (err) {
      // not accepted: the client gets 503 and no id, so the record goes too (ended, then removed;
      // if Redis is away for these as well, a sweep later finds a queued job without a task and
      // queues it: work no client waits for, until its TTL)
      await this.#http.end(this.#now(), this.#o.ttlMs, id, 'failed', JSON.stringify({ code: 'JOBS_UNAVAILABLE', message: 'never queued' })).catch(() => undefined)
      await this.#http.remove(id).catch(() => undefined)
      throw this.#unavailableFrom(err)
    }
    this.#log.info({ job: id, bytes: doc.bytes.length, queued: n }, 'job queued')
    return this.#snapshot(await this.#record(id), now)
  }

  async get(id: string, owner: JobOwner): Promise<JobSnapshot> {
    return this.#snapshot(await this.#find(id, owner), this.#now())
  }

  async result(id: string, owner: JobOwner, partial: boolean): Promise<JobResult> {
    const job = this.#snapshot(await this.#find(id, owner), this.#now())
    const kind = resultKind(job, partial, this.#o.ttlMs)
    const k = this.#jobKey(id)
    const [pages, source] = await this.#http$(() => Promise.all([this.#cmd.hgetall(`${k}:pages`), this.#cmd.getBuffer(`${k}:doc`)]))
    // (an expiry that raced this read took them)
    if (!source) throw new OcrError('JOB_EXPIRED', `job ${id}'s result was dropped (OCR_JOBS_TTL_SECONDS)`)
    const read = Object.values(pages).map((json) => JSON.parse(json) as PageResult).sort((a, b) => a.page - b.page)
    const wallMs = kind === 'finished' && job.startedAt && job.finishedAt ? job.finishedAt.getTime() - job.startedAt.getTime() : undefined
    return { job, result: resultFromPages(job.options.model ?? this.#o.ocr.resolveModel(undefined), read, wallMs), source }
  }

  async cancel(id: string, owner: JobOwner): Promise<JobSnapshot | null> {
    const record = await this.#find(id, owner)
    const state = this.#snapshot(record, this.#now()).state
    if (state === 'queued' || state === 'running') {
      const before = await this.#endJob(id, 'cancelled', cancelledByDelete(), 'http')
      // a queued job's plan task can go now (if it cannot, it is dropped when it starts)
      if (before === 'queued') await this.#queue.remove(taskId(id)).catch(() => undefined)
      // (a job that finished meanwhile reads as it ended)
      return this.#snapshot(await this.#find(id, owner), this.#now())
    }
    await this.#http$(() => this.#http.remove(id))
    return null
  }

  async stats(): Promise<JobStoreStats> {
    const [counts, tasks] = await this.#http$(() =>
      Promise.all([this.#http.stats(this.#now(), this.#o.ttlMs, this.#o.timeoutMs) as Promise<unknown[]>, this.#queue.getJobCounts('wait', 'prioritized', 'delayed', 'active')]),
    )
    const n = counts.slice(0, 9) as number[]
    this.#timedOut(counts[9] as string[])
    return {
      jobs: Object.fromEntries(JOB_STATES.map((s, i) => [s, n[i]!])) as Record<JobState, number>,
      storedBytes: n[6]!,
      tasksWaiting: (tasks.wait ?? 0) + (tasks.prioritized ?? 0) + (tasks.delayed ?? 0),
      tasksRunning: tasks.active ?? 0,
      oldestQueuedMs: n[7]! < 0 ? 0 : Math.max(0, this.#now() - n[7]!),
      stalledRecoveries: n[8]!,
    }
  }

  /**
   * Shutdown: this replica takes no more tasks; the ones it is reading are stopped and handed back
   * at once (another replica takes them), and jobs carry on elsewhere.
   */
  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    clearInterval(this.#sweeper)
    for (const id of this.#running.keys()) this.#stopLocal(id, new OcrError('SHUTTING_DOWN', 'this replica is shutting down'))
    // each step at most 5 s: a Redis that is away must not hold the shutdown
    const bounded = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())])
    await bounded(this.#worker.close())
    await bounded(Promise.all([this.#queue.close(), this.#workQueue.close()]))
    for (const c of [this.#sub, this.#work, this.#cmd]) c.disconnect()
  }

  // ---- tasks

  /** Runs one task; how it ends is told to BullMQ by returning (done) or throwing (see #taskFailed). */
  async #process(task: Task<TaskData>, token: string | undefined): Promise<void> {
    if (this.#closing) {
      await task.moveToWait(token)
      throw new WaitingError()
    }
    const id = task.data.job
    const ac = new AbortController()
    let mine = this.#running.get(id)
    if (!mine) this.#running.set(id, (mine = new Set()))
    mine.add(ac)
    try {
      if (task.data.page === undefined) await this.#plan(id, ac.signal)
      else await this.#page(id, task.data.page, ac.signal)
    } catch (err) {
      await this.#taskFailed(task, token, err)
    } finally {
      mine.delete(ac)
      if (mine.size === 0) this.#running.delete(id)
    }
  }

  /** A job's first task: open the document, list its pages, add a task per page. */
  async #plan(id: string, signal: AbortSignal): Promise<void> {
    const state = await this.#tasks.start(this.#now(), this.#o.timeoutMs, id)
    // cancelled while queued, or gone; a job already running is planned again (its plan task stalled)
    if (state !== 'running') return
    const [opts, deadline] = await this.#work.hmget(this.#jobKey(id), 'opts', 'deadline')
    const options = JSON.parse(opts ?? '{}') as JobReadOptions
    const doc = await this.#document(id)
    const pages = await this.#o.ocr.pageNumbers(doc, {
      priority: 'batch',
      signal,
      timeoutMs: this.#remaining(deadline),
      ...(options.pages !== undefined ? { pages: options.pages } : {}),
    })
    if ((await this.#tasks.planned(id, pages.length, JSON.stringify(pages))) !== 'running') return
    // a task id per page: added twice (a plan run again), a page is still one task
    await this.#workQueue.addBulk(pages.map((page) => ({ name: 'page', data: { job: id, page }, opts: { jobId: taskId(id, page) } })))
  }

  async #page(id: string, page: number, signal: AbortSignal): Promise<void> {
    const [state, opts, deadline] = await this.#work.hmget(this.#jobKey(id), 'state', 'opts', 'deadline')
    if (state !== 'running') return
    const options = JSON.parse(opts ?? '{}') as JobReadOptions
    const doc = await this.#document(id)
    const result = await this.#o.ocr.read(doc, { ...jobReadOptions(options), pages: String(page), signal, timeoutMs: this.#remaining(deadline) })
    const [after, done] = (await this.#tasks.page(this.#now(), this.#o.ttlMs, id, page, JSON.stringify(result.pages[0]))) as [JobState, number]
    if (after === 'succeeded') {
      this.#documents.delete(id)
      this.#log.info({ job: id, state: after, pages: done }, 'job finished')
    }
  }

  /**
   * A task's error: cancelled (the job ended elsewhere) → done; the engine's queue full of
   * interactive reads, or this replica shutting down → back to wait, no try used; a retried error
   * with tries left → BullMQ tries again after a backoff; anything else fails the job with it.
   */
  async #taskFailed(task: Task<TaskData>, token: string | undefined, err: unknown): Promise<void> {
    const e = toOcrError(err)
    const id = task.data.job
    if (this.#closing) {
      await task.moveToWait(token)
      throw new WaitingError()
    }
    if (e.code === 'CANCELLED') {
      this.#log.info({ job: id, task: task.id }, 'job task stopped: its job ended')
      return
    }
    if (e.code === 'OVERLOADED' || e.code === 'SHUTTING_DOWN') {
      await task.moveToDelayed(Date.now() + (e.retryAfterSec ?? 1) * 1000, token)
      throw new DelayedError()
    }
    const what = task.data.page === undefined ? null : `page ${task.data.page}`
    if (RETRIED.has(e.code) && task.attemptsMade + 1 < (task.opts.attempts ?? 1)) {
      this.#log.warn({ job: id, task: task.id, attempt: task.attemptsMade + 1, code: e.code, error: e.message }, 'job task failed; it will be tried again')
      throw e
    }
    await this.#endJob(id, 'failed', what ? new OcrError(e.code, `${what}: ${e.message}`) : e)
  }

  /**
   * Ends a queued or running job (failed or cancelled) and tells every replica to stop its pages.
   * `via`: an HTTP request's connection (fails at once while Redis is away) or a task's (waits).
   */
  async #endJob(id: string, state: 'failed' | 'cancelled', err: OcrError, via: 'http' | 'task' = 'task'): Promise<string> {
    const [scripts, client] = via === 'http' ? [this.#http, this.#cmd] : [this.#tasks, this.#work]
    const end = (): Promise<unknown> => scripts.end(this.#now(), this.#o.ttlMs, id, state, JSON.stringify({ code: err.code, message: err.message }))
    const before = (await (via === 'http' ? this.#http$(end) : end())) as string
    if (before === 'queued' || before === 'running') {
      const line = { job: id, state, code: err.code, error: err.message }
      if (err.status >= 500) this.#log.error(line, 'job finished')
      else this.#log.info(line, 'job finished')
      this.#documents.delete(id)
      await client.publish(this.#cancelChannel, id)
    }
    return before
  }

  /** Stops this replica's tasks of job `id` at their next stage boundary. */
  #stopLocal(id: string, reason: OcrError): void {
    for (const ac of this.#running.get(id) ?? []) ac.abort(reason)
    this.#documents.delete(id)
  }

  /** The job's document, fetched once for the page tasks this replica runs. */
  #document(id: string): Promise<Buffer> {
    let doc = this.#documents.get(id)
    if (doc) {
      // most recently used last
      this.#documents.delete(id)
      this.#documents.set(id, doc)
      return doc
    }
    doc = this.#work.getBuffer(`${this.#jobKey(id)}:doc`).then((b) => {
      if (!b) throw new OcrError('CANCELLED', 'the job\'s document is gone (the job ended)')
      return b
    })
    doc.catch(() => this.#documents.delete(id))
    this.#documents.set(id, doc)
    while (this.#documents.size > CACHED_DOCUMENTS) this.#documents.delete(this.#documents.keys().next().value!)
    return doc
  }

  async #sweep(): Promise<void> {
    if (!this.#up || this.#closing) return
    try {
      this.#timedOut((await this.#http.sweep(this.#now(), this.#o.ttlMs, this.#o.timeoutMs)) as string[])
      if (++this.#sweeps % ORPHAN_CHECK_SWEEPS === 0) await this.#requeueOrphans()
    } catch {
      // unreachable: the next sweep tries again
    }
  }

  /**
   * A replica that died between storing a job and queueing its plan task (a window of one Redis
   * call) left a queued job no task will start: any replica queues the task again (BullMQ keeps
   * one task per id, so a task that exists is not added twice).
   */
  async #requeueOrphans(): Promise<void> {
    const old = await this.#cmd.zrangebyscore(`${this.#p}jobs:queued`, '-inf', this.#now() - ORPHAN_AGE_MS, 'LIMIT', 0, 100)
    for (const id of old) {
      if (await this.#queue.getJob(taskId(id))) continue
      this.#log.warn({ job: id }, 'queued job had no task (its replica stopped while queueing it): queued again')
      await this.#queue.add('plan', { job: id }, { jobId: taskId(id) })
    }
  }

  /** Jobs the sweep failed for their deadline: logged, and their pages told to stop. */
  #timedOut(ids: string[]): void {
    for (const id of ids) {
      this.#log.error({ job: id, state: 'failed', code: 'TIMEOUT' }, 'job finished')
      // (unheard, a page being read finishes and its result is dropped: the job is no longer running)
      void this.#cmd.publish(this.#cancelChannel, id).catch(() => undefined)
    }
  }

  /** Time left before a job's deadline; none left → TIMEOUT. */
  #remaining(deadline: string | null): number {
    const ms = Number(deadline) - this.#now()
    if (!(ms > 0)) throw new OcrError('TIMEOUT', `the job took longer than OCR_JOBS_TIMEOUT_MS (${this.#o.timeoutMs} ms)`)
    return ms
  }

  // ---- records

  #jobKey(id: string): string {
    return `${this.#p}job:${id}`
  }

  async #record(id: string): Promise<Record<string, string>> {
    return this.#http$(() => this.#cmd.hgetall(this.#jobKey(id)))
  }

  /** The record of job `id` as `owner` may see it, else NOT_FOUND. */
  async #find(id: string, owner: JobOwner): Promise<Record<string, string>> {
    const record = await this.#record(id)
    if (!record.state || !visibleTo(record.owner ?? null, owner)) throw notFound(id, WHERE)
    // (forgotten on time even before a sweep deletes it)
    const seen = this.#snapshot(record, this.#now())
    if (seen.state === 'expired' && seen.expiresAt!.getTime() <= this.#now()) throw notFound(id, WHERE)
    return record
  }

  /** A record as a snapshot at time `now` (a finished job past its time reads expired before the sweep gets to it). */
  #snapshot(r: Record<string, string>, now: number): JobSnapshot {
    const num = (k: string): number | null => (r[k] === undefined ? null : Number(r[k]))
    const date = (k: string): Date | null => (r[k] === undefined ? null : new Date(Number(r[k])))
    let state = r.state as JobState
    let expires = num('expires')
    if (FINISHED_STATES.includes(state as FinishedState) && expires !== null && expires <= now) {
      state = 'expired'
      expires += this.#o.ttlMs
    }
    return {
      id: r.id!,
      state,
      createdAt: date('created')!,
      startedAt: date('started'),
      finishedAt: date('finished'),
      expiresAt: expires === null ? null : new Date(expires),
      pagesDone: num('done') ?? 0,
      pagesTotal: num('total'),
      fileName: r.file ?? null,
      options: JSON.parse(r.opts ?? '{}') as JobReadOptions,
      error: r.error ? (JSON.parse(r.error) as JobSnapshot['error']) : null,
    }
  }

  /** An HTTP request's Redis work: 503 JOBS_UNAVAILABLE while Redis is away (or for any error of its own). */
  async #http$<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.#up) throw unavailable()
    try {
      return await fn()
    } catch (err) {
      throw this.#unavailableFrom(err)
    }
  }

  #unavailableFrom(err: unknown): OcrError {
    if (err instanceof OcrError) return err
    this.#log.warn({ store: 'redis', error: (err as Error).message }, 'job store call failed')
    return unavailable()
  }
}

/** BullMQ task ids (no ':' allowed): `<job>.plan`, `<job>.p<page>`. */
function taskId(job: string, page?: number): string {
  return page === undefined ? `${job}.plan` : `${job}.p${page}`
}


