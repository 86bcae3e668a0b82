/**
 * The scheduler: a fixed pool of pipeline workers behind one bounded FIFO queue. Each job has a
 * deadline (queue wait included) and an AbortSignal; a queued job that is cancelled or times out
 * never runs, a running one is told to stop at its next stage boundary and its result discarded.
 * A crashed worker fails only its own job and is replaced. close() drains, then terminates.
 * (tesseract.js's createScheduler, plus the queue limit, timeouts and cancellation it lacks.)
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { EngineStats } from '../engine.js'
import { OcrError } from '../errors.js'
import type { Logger } from '../logger.js'
import { resultFromPages } from '../document/result.js'
import type { OcrResult, PageCallback, PageResult } from '../types.js'
import { tensorBuffers } from './assist.js'
import type { JobMessage, ToMain, ToWorker, WorkerInit } from './messages.js'

export interface SchedulerOptions {
  size: number
  init: (index: number) => WorkerInit
  maxQueue: number
  logger: Logger
  /** Workers with no job help busy ones with their classifier and recogniser calls (assist.ts). */
  assist?: boolean
}

export interface SubmitOptions {
  signal?: AbortSignal
  timeoutMs: number
  onPage?: PageCallback
  /** `batch` jobs run only when no `interactive` job is waiting (default interactive). */
  priority?: 'interactive' | 'batch'
  /**
   * Pages of the document read at once on different workers (default 1: one worker reads them
   * in order). Above 1 the read is split: one worker opens the document and lists the pages, then
   * each page is a task of its own that any free worker takes, in page order.
   */
  parallelPages?: number
}

/** What the worker needs besides the input (the job id and transfer list are the scheduler's). */
export type JobSpec = Omit<JobMessage, 'type' | 'id' | 'input' | 'plan'>

/** What a read settles with: its result, or (pageIndices) the 0-based pages it would read. */
type Output = OcrResult | number[]

/** One read() (or pageIndices()) call. */
interface Job {
  spec: JobSpec
  input: Uint8Array | string
  priority: 'interactive' | 'batch'
  /** Most of its tasks running at once. */
  parallel: number
  resolve: (r: Output) => void
  reject: (e: OcrError) => void
  timer: NodeJS.Timeout
  cleanup: () => void
  onPage?: PageCallback
  settled: boolean
  /** Tasks of this job on a worker now. */
  running: Set<Task>
  /**
   * How the job is cut into tasks: `whole` (one task reads everything), `plan` (one task lists the
   * pages: pageIndices()), or `split` (a plan task, then one task per page).
   */
  mode: 'whole' | 'plan' | 'split'
  /** Tasks handed out so far (whole and plan jobs: at most one). */
  started: number
  /** Split jobs: the pages still to hand out (null until the plan task has listed them) and those read. */
  split: { todo: number[] | null; total: number; pages: Map<number, PageResult>; t0: number } | null
}

/** One worker's part of a job: all of it, its plan, or one page. */
interface Task {
  id: number
  job: Job
  kind: 'whole' | 'plan' | 'page'
  /** The page (0-based) a page task reads. */
  index: number
}

interface Slot {
  index: number
  worker: Worker
  task: Task | null
  busyMs: number
  pagesRead: number
  startedAt: number
  onClosed?: () => void
}

/** A helper taking a busy worker's calls: offer `reqId` of worker `from`. */
interface Assist {
  from: Slot
  reqId: number
  helper: Slot
}

/**
 * The worker: compiled JS in dist/; when running from the TypeScript sources (tests, tsx), a tiny
 * bootstrap registers tsx inside the worker first.
 */
function newWorker(workerData: WorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData })
  // the package's ESM entry (require.resolve gives the CJS twin, which cannot register ESM hooks here)
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href
  const entry = new URL('./worker.ts', import.meta.url).href
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}) })`
  return new Worker(code, { eval: true, workerData })
}

export class Scheduler {
  readonly #opts: SchedulerOptions
  readonly #slots: Slot[] = []
  /** Jobs with a task to hand out: interactive ones first; a batch task runs only when no interactive one waits. */
  readonly #queue: Job[] = []
  readonly #batchQueue: Job[] = []
  #nextId = 1
  #closing = false
  #completed = 0
  #failed = 0
  #drained: (() => void) | null = null
  /** Helpers at work, by assist id. */
  readonly #assists = new Map<number, Assist>()
  #nextAssist = 1
  #assistRuns = 0
  /** The idle-worker count last sent to the workers. */
  #idleSent = -1

  constructor(opts: SchedulerOptions) {
    this.#opts = opts
  }

  /** Starts every worker and waits until each has loaded and warmed up its models. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.#opts.size }, (_, i) => this.#spawn(i)))
  }

  #spawn(index: number): Promise<void> {
    const worker = newWorker(this.#opts.init(index))
    const old = this.#slots[index]
    const slot: Slot = { index, worker, task: null, busyMs: old?.busyMs ?? 0, pagesRead: old?.pagesRead ?? 0, startedAt: 0 }
    return new Promise<void>((resolve, reject) => {
      let ready = false
      worker.on('message', (msg: ToMain) => {
        switch (msg.type) {
          case 'ready':
            ready = true
            this.#slots[index] = slot
            // a new (or replacing) worker gets the idle count too
            this.#idleSent = -1
            resolve()
            this.#pump()
            break
          case 'init-error':
            reject(OcrError.fromJSON(msg.error))
            void worker.terminate()
            break
          case 'result':
          case 'planned':
          case 'error':
            this.#finish(slot, msg)
            break
          case 'page': {
            const task = slot.task
            // a split job reports its pages itself as its page tasks finish
            if (task?.id === msg.id && task.kind === 'whole' && !task.job.settled) this.#onPage(task.job, msg.page, msg.done, msg.total)
            break
          }
          case 'log':
            this.#opts.logger[msg.level](typeof msg.obj === 'string' ? { worker: index, msg: msg.obj } : { worker: index, ...msg.obj }, msg.msg)
            break
          case 'closed':
            slot.onClosed?.()
            break
          case 'assist':
            this.#assist(slot, msg)
            break
          case 'assist-done': {
            const a = this.#assists.get(msg.id)
            if (!a || a.helper !== slot) break
            if (msg.outputs) this.#assistRuns++
            const { type: _type, id: _id, ...outcome } = msg
            this.#toOfferer(a, { type: 'assist-result', reqId: a.reqId, ...outcome }, msg.outputs ? tensorBuffers(Object.values(msg.outputs)) : [])
            break
          }
          case 'assist-end':
            this.#assistEnd(msg.id, slot)
            break
        }
      })
      worker.on('error', (err) => {
        this.#opts.logger.error({ worker: index, err }, 'pipeline worker crashed')
        if (!ready) reject(new OcrError('INTERNAL', `worker failed to start: ${err.message}`, { cause: err }))
      })
      worker.on('exit', (code) => {
        if (!ready || this.#closing || this.#slots[index] !== slot) return
        // unexpected exit: fail its job, end the help it was giving, replace the worker
        const task = slot.task
        slot.task = null
        for (const [id, a] of this.#assists) if (a.helper === slot) this.#assistEnd(id, slot)
        if (task) {
          task.job.running.delete(task)
          this.#fail(task.job, new OcrError('INTERNAL', `worker exited (code ${code}) while running the job`))
        }
        this.#opts.logger.warn({ worker: index, code }, 'restarting pipeline worker')
        this.#spawn(index).catch((err) => this.#opts.logger.error({ worker: index, err }, 'cannot restart pipeline worker'))
      })
    })
  }

  /** Reads `input` (a whole read, or split over workers with `parallelPages` > 1). */
  submit(input: Uint8Array | string, spec: JobSpec, options: SubmitOptions): Promise<OcrResult> {
    const split = (options.parallelPages ?? 1) > 1
    return this.#enqueue(input, spec, options, split ? 'split' : 'whole') as Promise<OcrResult>
  }

  /** The 0-based pages a read of `input` with `spec` reads: the document opened, nothing else done. */
  pageIndices(input: Uint8Array | string, spec: JobSpec, options: Omit<SubmitOptions, 'onPage' | 'parallelPages'>): Promise<number[]> {
    return this.#enqueue(input, spec, options, 'plan') as Promise<number[]>
  }

  #enqueue(input: Uint8Array | string, spec: JobSpec, options: SubmitOptions, mode: Job['mode']): Promise<Output> {
    if (this.#closing) return Promise.reject(new OcrError('SHUTTING_DOWN', 'the engine is shutting down', { retryAfterSec: 5 }))
    if (options.signal?.aborted) return Promise.reject(new OcrError('CANCELLED', 'job cancelled before it started'))
    const idle = this.#slots.some((s) => s && s.task === null)
    const waiting = this.#queue.length + this.#batchQueue.length
    if (!idle && waiting >= this.#opts.maxQueue) {
      return Promise.reject(new OcrError('OVERLOADED', `queue full (${waiting} jobs waiting)`, { retryAfterSec: 1 }))
    }
    return new Promise<Output>((resolve, reject) => {
      const onAbort = (): void => this.#fail(job, new OcrError('CANCELLED', 'job cancelled'))
      const job: Job = {
        spec,
        input: ownCopy(input, mode === 'split'),
        priority: options.priority ?? 'interactive',
        parallel: mode === 'split' ? options.parallelPages! : 1,
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => this.#fail(job, new OcrError('TIMEOUT', `job exceeded ${options.timeoutMs} ms`)), options.timeoutMs),
        cleanup: () => options.signal?.removeEventListener('abort', onAbort),
        running: new Set(),
        mode,
        started: 0,
        split: mode === 'split' ? { todo: null, total: 0, pages: new Map(), t0: performance.now() } : null,
        ...(options.onPage ? { onPage: options.onPage } : {}),
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      ;(job.priority === 'batch' ? this.#batchQueue : this.#queue).push(job)
      this.#pump()
    })
  }

  /** Hands a task to every free worker: interactive jobs first, then batch ones, oldest first. */
  #pump(): void {
    for (const slot of this.#slots) {
      if (!slot || slot.task !== null) continue
      const task = this.#nextTask(this.#queue) ?? this.#nextTask(this.#batchQueue)
      if (!task) break
      slot.task = task
      task.job.running.add(task)
      slot.startedAt = performance.now()
      const { job } = task
      const message: JobMessage = { type: 'job', id: task.id, input: job.input, ...job.spec }
      if (task.kind === 'plan') message.plan = true
      if (task.kind === 'page') {
        message.pages = [{ from: task.index + 1, to: task.index + 1 }]
        message.progress = false
      }
      // a whole job's own copy moves to the worker; a split job's shared bytes are seen by each
      const transfer = typeof job.input !== 'string' && !(job.input.buffer instanceof SharedArrayBuffer) ? [job.input.buffer as ArrayBuffer] : []
      slot.worker.postMessage(message, transfer)
    }
    this.#sendIdle()
  }

  /** The next task of the first job in `queue` that has one; a job with no more to hand out leaves the queue. */
  #nextTask(queue: Job[]): Task | null {
    for (let i = 0; i < queue.length; i++) {
      const job = queue[i]!
      const task = this.#taskOf(job)
      if (this.#handedOut(job)) {
        queue.splice(i, 1)
        i--
      }
      if (task) return task
    }
    return null
  }

  #taskOf(job: Job): Task | null {
    const make = (kind: Task['kind'], index = -1): Task => {
      job.started++
      return { id: this.#nextId++, job, kind, index }
    }
    if (job.mode !== 'split') return job.started === 0 ? make(job.mode) : null
    const split = job.split!
    if (split.todo === null) {
      if (job.started > 0) return null
      // the read's time runs from here, as a whole read's runs from its worker's start
      split.t0 = performance.now()
      return make('plan')
    }
    if (split.todo.length === 0 || job.running.size >= job.parallel) return null
    return make('page', split.todo.shift()!)
  }

  /** Whether every task of the job has been handed out (it leaves the queue). */
  #handedOut(job: Job): boolean {
    if (job.mode !== 'split') return job.started > 0
    return job.split!.todo !== null && job.split!.todo.length === 0
  }

  /** Tells every worker how many workers have no job, when that changed (assist.ts). */
  #sendIdle(): void {
    if (!this.#opts.assist) return
    const idle = this.#slots.filter((s) => s && s.task === null).length
    if (idle === this.#idleSent) return
    this.#idleSent = idle
    for (const s of this.#slots) s?.worker.postMessage({ type: 'idle', count: idle } satisfies ToWorker)
  }

  /** A busy worker offers calls: every worker with no job and no other worker's calls takes part. */
  #assist(from: Slot, msg: Extract<ToMain, { type: 'assist' }>): void {
    const helping = new Set([...this.#assists.values()].map((a) => a.helper))
    const idle = this.#closing || this.#slots[from.index] !== from ? [] : this.#slots.filter((s) => s && s !== from && s.task === null && !helping.has(s))
    // more helpers than calls besides the busy worker's own would get nothing to do
    const helpers = idle.slice(0, Math.max(0, msg.calls.length - 1))
    const { type: _type, reqId, ...shared } = msg
    for (const helper of helpers) {
      const id = this.#nextAssist++
      this.#assists.set(id, { from, reqId, helper })
      // the tensors are in shared memory (assist.ts inSharedMemory): every helper sees them, uncopied
      helper.worker.postMessage({ type: 'assist-run', id, ...shared } satisfies ToWorker)
    }
    from.worker.postMessage({ type: 'assist-start', reqId, helpers: helpers.length } satisfies ToWorker)
  }

  #assistEnd(id: number, helper: Slot): void {
    const a = this.#assists.get(id)
    if (!a || a.helper !== helper) return
    this.#assists.delete(id)
    this.#toOfferer(a, { type: 'assist-end', reqId: a.reqId }, [])
  }

  /** A message to the worker that made an offer, if it is still the one in its slot. */
  #toOfferer(a: Assist, msg: ToWorker, transfer: ArrayBuffer[]): void {
    if (this.#slots[a.from.index] === a.from) a.from.worker.postMessage(msg, transfer)
  }

  #finish(slot: Slot, msg: Extract<ToMain, { type: 'result' | 'planned' | 'error' }>): void {
    const task = slot.task
    if (!task || task.id !== msg.id) return
    slot.task = null
    slot.busyMs += performance.now() - slot.startedAt
    if (msg.type === 'result') slot.pagesRead += msg.result.pages.length
    const { job } = task
    job.running.delete(task)
    if (!job.settled) {
      if (msg.type === 'error') this.#fail(job, OcrError.fromJSON(msg.error))
      else if (msg.type === 'planned') this.#planned(job, msg.pages)
      else if (task.kind === 'page') this.#onPage(job, msg.result.pages[0]!, 0, 0)
      else this.#settle(job, null, msg.result)
    }
    this.#pump()
    this.#checkDrained()
  }

  /** A plan task listed the pages: pageIndices() is answered, a split job hands out its pages. */
  #planned(job: Job, pages: number[]): void {
    if (job.mode === 'plan') return this.#settle(job, null, pages)
    const split = job.split!
    split.todo = [...pages]
    split.total = pages.length
    // (the job kept its place in the queue while its plan ran: it now hands out its pages from there)
    if (pages.length === 0) this.#settle(job, null, resultFromPages([], performance.now() - split.t0))
  }

  /** A page read: progress, and a split job settles when its last page is in. */
  #onPage(job: Job, page: PageResult, done: number, total: number): void {
    const split = job.split
    if (split) {
      split.pages.set(page.page, page)
      done = split.pages.size
      total = split.total
    }
    try {
      job.onPage?.(page, { done, total })
    } catch (err) {
      this.#opts.logger.error({ err }, 'onPage callback threw')
    }
    if (split && done === total) {
      const pages = [...split.pages.values()].sort((a, b) => a.page - b.page)
      this.#settle(job, null, resultFromPages(pages, performance.now() - split.t0))
    }
  }

  /** Fails a job: dropped from the queue, its running tasks told to stop at their next stage boundary. */
  #fail(job: Job, err: OcrError): void {
    if (job.settled) return
    for (const queue of [this.#queue, this.#batchQueue]) {
      const qi = queue.indexOf(job)
      if (qi >= 0) queue.splice(qi, 1)
    }
    // a running task keeps its worker busy until the worker acknowledges; tell it to stop early
    for (const task of job.running) {
      const slot = this.#slots.find((s) => s?.task === task)
      slot?.worker.postMessage({ type: 'cancel', id: task.id } satisfies ToWorker)
    }
    this.#settle(job, err)
    this.#checkDrained()
  }

  #settle(job: Job, err: OcrError | null, output?: Output): void {
    if (job.settled) return
    job.settled = true
    clearTimeout(job.timer)
    job.cleanup()
    if (err) {
      this.#failed++
      job.reject(err)
    } else {
      this.#completed++
      job.resolve(output!)
    }
  }

  stats(): EngineStats {
    const now = performance.now()
    const live = this.#slots.filter(Boolean)
    return {
      workers: live.length,
      queued: this.#queue.length + this.#batchQueue.length,
      running: live.filter((s) => s.task).length,
      completed: this.#completed,
      failed: this.#failed,
      busyMs: this.#slots.map((s) => Math.round(s.busyMs + (s.task ? now - s.startedAt : 0))),
      pagesRead: this.#slots.map((s) => s.pagesRead),
      batch: {
        waiting: this.#batchQueue.reduce((n, job) => n + this.#tasksLeft(job), 0),
        running: live.filter((s) => s.task?.job.priority === 'batch').length,
      },
      assistRuns: this.#assistRuns,
    }
  }

  /** Tasks a queued job has yet to hand out (a split job before its plan: the plan task). */
  #tasksLeft(job: Job): number {
    if (job.mode !== 'split') return job.started === 0 ? 1 : 0
    const todo = job.split!.todo
    return todo === null ? (job.started === 0 ? 1 : 0) : todo.length
  }

  #checkDrained(): void {
    if (this.#drained && this.#queue.length === 0 && this.#batchQueue.length === 0 && this.#slots.every((s) => !s || s.task === null)) {
      this.#drained()
      this.#drained = null
    }
  }

  /** Takes no new jobs, lets queued and running ones finish, then stops the workers. */
  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    await new Promise<void>((resolve) => {
      this.#drained = resolve
      this.#checkDrained()
    })
    await Promise.all(
      this.#slots.filter(Boolean).map(
        (s) =>
          new Promise<void>((resolve) => {
            const stop = (): void => {
              clearTimeout(t)
              void s.worker.terminate().then(() => resolve())
            }
            // a worker that does not release its sessions in time is terminated anyway
            const t = setTimeout(stop, 5000)
            s.onClosed = stop
            s.worker.postMessage({ type: 'close' })
          }),
      ),
    )
  }
}

/**
 * The bytes a job's worker(s) read: copied into a buffer the scheduler owns (the caller's Buffer may
 * be a pooled slice), shared memory when several workers read it (each copies out what it opens).
 */
function ownCopy(input: Uint8Array | string, shared: boolean): Uint8Array | string {
  if (typeof input === 'string') return input
  const copy = new Uint8Array(shared ? new SharedArrayBuffer(input.byteLength) : new ArrayBuffer(input.byteLength))
  copy.set(input)
  return copy
}
