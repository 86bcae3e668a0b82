/**
 * The scheduler: a fixed pool of pipeline workers behind one bounded FIFO queue. Each job has a
 * deadline (queue wait included) and an AbortSignal; a queued job that is cancelled or times out
 * never runs, a running one is told to stop at its next stage boundary and its result discarded.
 * A crashed worker fails only its own job and is replaced. close() drains, then terminates.
 * (tesseract.js's createScheduler, plus the queue limit, timeouts and cancellation it lacks.)
 * The threads themselves (start, logs, replacement, close) are the worker host's
 * (workers/host.ts); tests give it fake workers.
 */
import { OcrError } from '../errors.js'
import type { Logger } from '../logger.js'
import { resultFromPages } from '../document/result.js'
import type { EngineStats, OcrResult, PageCallback, PageResult } from '../types.js'
import { scriptBeside, threadsRunning, WorkerHost, type HostedWorker, type WorkerFactory } from '../workers/host.js'
import { AssistRouter } from './assist.js'
import type { JobMessage, ToMain, ToWorker, WorkerInit } from './messages.js'

export interface SchedulerOptions {
  size: number
  init: (index: number) => WorkerInit
  maxQueue: number
  logger: Logger
  /** Workers with no job help busy ones with their classifier and recogniser calls (assist.ts). */
  assist?: boolean
  /** Makes the workers (default: threads running ./worker.ts); tests pass fakes. */
  workers?: WorkerFactory<WorkerInit>
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

type Worker = HostedWorker<ToWorker>

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

/** A worker and the task it has. */
interface Slot {
  worker: Worker
  task: Task | null
  startedAt: number
  /** Exited: takes no jobs; its index is kept (and counted in stats) until the replacement is ready. */
  gone?: boolean
}

/** The pipeline workers' threads: compiled worker.js, or worker.ts under tsx. */
export const pipelineThreads: WorkerFactory<WorkerInit> = threadsRunning(scriptBeside(import.meta.url, 'worker'), 'ocrserve-pipeline')

export class Scheduler {
  readonly #opts: SchedulerOptions
  readonly #host: WorkerHost<WorkerInit, ToWorker, ToMain>
  /** The workers by index. */
  readonly #slots: Array<Slot | undefined> = []
  /** Milliseconds each worker index spent on jobs, replacements included. */
  readonly #busyMs: number[]
  /** Pages each worker index has read (a plain image is one page), replacements included. */
  readonly #pagesRead: number[]
  /** Jobs with a task to hand out: interactive ones first; a batch task runs only when no interactive one waits. */
  readonly #queue: Job[] = []
  readonly #batchQueue: Job[] = []
  readonly #assist: AssistRouter<Worker> | null
  #nextId = 1
  #closing = false
  #completed = 0
  #failed = 0
  #drained: (() => void) | null = null

  constructor(opts: SchedulerOptions) {
    this.#opts = opts
    this.#busyMs = new Array<number>(opts.size).fill(0)
    this.#pagesRead = new Array<number>(opts.size).fill(0)
    this.#assist = opts.assist
      ? new AssistRouter<Worker>({
          workers: () => this.#running().map((s) => s.worker),
          hasJob: (w) => this.#slotOf(w)?.task != null,
          accepting: () => !this.#closing,
        })
      : null
    this.#host = new WorkerHost<WorkerInit, ToWorker, ToMain>({
      name: 'pipeline worker',
      size: opts.size,
      init: opts.init,
      factory: opts.workers ?? pipelineThreads,
      logger: opts.logger,
      startError: 'INTERNAL',
      onReady: (worker) => {
        this.#slots[worker.index] = { worker, task: null, startedAt: 0 }
        this.#assist?.joined()
        this.#pump()
      },
      onMessage: (worker, msg) => this.#onMessage(worker, msg),
      onExit: (worker, code) => {
        const slot = this.#slotOf(worker)
        if (!slot) return
        // its job fails, the help it was giving ends; the host starts a replacement
        slot.gone = true
        this.#assist?.left(worker)
        const task = slot.task
        slot.task = null
        if (task) {
          this.#busyMs[worker.index]! += performance.now() - slot.startedAt
          task.job.running.delete(task)
          this.#fail(task.job, new OcrError('INTERNAL', `worker exited (code ${code}) while running the job`))
        }
      },
    })
  }

  /** Starts every worker and waits until each has loaded and warmed up its models. */
  async start(): Promise<void> {
    await this.#host.start()
  }

  /** The workers that take jobs. */
  #running(): Slot[] {
    return this.#slots.filter((s): s is Slot => s !== undefined && !s.gone)
  }

  /** The slot of a worker that has not exited. */
  #slotOf(worker: Worker): Slot | undefined {
    const slot = this.#slots[worker.index]
    return slot?.worker === worker && !slot.gone ? slot : undefined
  }

  #onMessage(worker: Worker, msg: ToMain): void {
    const slot = this.#slotOf(worker)
    if (!slot) return
    switch (msg.type) {
      case 'result':
      case 'planned':
      case 'error':
        this.#finish(slot, msg)
        return
      case 'page': {
        const task = slot.task
        // a split job reports its pages itself as its page tasks finish
        if (task?.id === msg.id && task.kind === 'whole' && !task.job.settled) this.#onPage(task.job, msg.page, msg.done, msg.total)
        return
      }
      default:
        this.#assist?.handle(worker, msg)
    }
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
    const idle = this.#running().some((s) => s.task === null)
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
    for (const slot of this.#running()) {
      if (slot.task !== null) continue
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
      slot.worker.post(message, transfer)
    }
    this.#assist?.idleChanged()
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

  #finish(slot: Slot, msg: Extract<ToMain, { type: 'result' | 'planned' | 'error' }>): void {
    const task = slot.task
    if (!task || task.id !== msg.id) return
    slot.task = null
    this.#busyMs[slot.worker.index]! += performance.now() - slot.startedAt
    if (msg.type === 'result') this.#pagesRead[slot.worker.index]! += msg.result.pages.length
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
    if (pages.length === 0) this.#settle(job, null, resultFromPages(job.spec.model, [], performance.now() - split.t0))
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
      this.#settle(job, null, resultFromPages(job.spec.model, pages, performance.now() - split.t0))
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
      const slot = this.#running().find((s) => s.task === task)
      slot?.worker.post({ type: 'cancel', id: task.id })
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
    const running = this.#running()
    const busyMs = [...this.#busyMs]
    for (const s of running) if (s.task) busyMs[s.worker.index]! += now - s.startedAt
    return {
      workers: this.#slots.filter(Boolean).length,
      queued: this.#queue.length + this.#batchQueue.length,
      running: running.filter((s) => s.task).length,
      completed: this.#completed,
      failed: this.#failed,
      busyMs: busyMs.map(Math.round),
      pagesRead: [...this.#pagesRead],
      batch: {
        waiting: this.#batchQueue.reduce((n, job) => n + this.#tasksLeft(job), 0),
        running: running.filter((s) => s.task?.job.priority === 'batch').length,
      },
      assistRuns: this.#assist?.runs ?? 0,
    }
  }

  /** Tasks a queued job has yet to hand out (a split job before its plan: the plan task). */
  #tasksLeft(job: Job): number {
    if (job.mode !== 'split') return job.started === 0 ? 1 : 0
    const todo = job.split!.todo
    return todo === null ? (job.started === 0 ? 1 : 0) : todo.length
  }

  #checkDrained(): void {
    if (this.#drained && this.#queue.length === 0 && this.#batchQueue.length === 0 && this.#running().every((s) => s.task === null)) {
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
    await this.#host.close()
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
