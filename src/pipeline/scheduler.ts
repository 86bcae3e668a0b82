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
import type { EngineStats, OcrResult, PageCallback } from '../types.js'
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
}

/** What the worker needs besides the input (the job id and transfer list are the scheduler's). */
export type JobSpec = Omit<JobMessage, 'type' | 'id' | 'input'>

type Worker = HostedWorker<ToWorker>

interface Job {
  id: number
  message: JobMessage
  transfer: ArrayBuffer[]
  resolve: (r: OcrResult) => void
  reject: (e: OcrError) => void
  timer: NodeJS.Timeout
  cleanup: () => void
  onPage?: PageCallback
  slot?: Slot
  settled: boolean
}

/** A worker and the job it has. */
interface Slot {
  worker: Worker
  job: Job | null
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
  /** Waiting jobs: interactive ones first; a batch job runs only when no interactive one waits. */
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
    this.#assist = opts.assist
      ? new AssistRouter<Worker>({
          workers: () => this.#running().map((s) => s.worker),
          hasJob: (w) => this.#slotOf(w)?.job != null,
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
        this.#slots[worker.index] = { worker, job: null, startedAt: 0 }
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
        const job = slot.job
        if (job) {
          this.#busyMs[worker.index]! += performance.now() - slot.startedAt
          this.#settle(job, new OcrError('INTERNAL', `worker exited (code ${code}) while running the job`))
          this.#checkDrained()
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
      case 'error':
        this.#finish(slot, msg)
        return
      case 'page':
        if (slot.job?.id === msg.id && !slot.job.settled) {
          try {
            slot.job.onPage?.(msg.page, { done: msg.done, total: msg.total })
          } catch (err) {
            this.#opts.logger.error({ err }, 'onPage callback threw')
          }
        }
        return
      default:
        this.#assist?.handle(worker, msg)
    }
  }

  submit(input: Uint8Array | string, spec: JobSpec, options: SubmitOptions): Promise<OcrResult> {
    if (this.#closing) return Promise.reject(new OcrError('SHUTTING_DOWN', 'the engine is shutting down', { retryAfterSec: 5 }))
    if (options.signal?.aborted) return Promise.reject(new OcrError('CANCELLED', 'job cancelled before it started'))
    const idle = this.#running().some((s) => s.job === null)
    const waiting = this.#queue.length + this.#batchQueue.length
    if (!idle && waiting >= this.#opts.maxQueue) {
      return Promise.reject(new OcrError('OVERLOADED', `queue full (${waiting} jobs waiting)`, { retryAfterSec: 1 }))
    }
    return new Promise<OcrResult>((resolve, reject) => {
      const id = this.#nextId++
      let transfer: ArrayBuffer[] = []
      let payload = input
      if (typeof input !== 'string') {
        // copy into a buffer we own and transfer it (the caller's Buffer may be a pooled slice)
        const copy = new Uint8Array(input.byteLength)
        copy.set(input)
        payload = copy
        transfer = [copy.buffer]
      }
      const onAbort = (): void => this.#cancel(job, new OcrError('CANCELLED', 'job cancelled'))
      const job: Job = {
        id,
        message: { type: 'job', id, input: payload, ...spec },
        transfer,
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => this.#cancel(job, new OcrError('TIMEOUT', `job exceeded ${options.timeoutMs} ms`)), options.timeoutMs),
        cleanup: () => options.signal?.removeEventListener('abort', onAbort),
        ...(options.onPage ? { onPage: options.onPage } : {}),
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      ;(options.priority === 'batch' ? this.#batchQueue : this.#queue).push(job)
      this.#pump()
    })
  }

  #pump(): void {
    for (const slot of this.#running()) {
      if (slot.job !== null) continue
      const job = this.#queue.shift() ?? this.#batchQueue.shift()
      if (!job) break
      slot.job = job
      job.slot = slot
      slot.startedAt = performance.now()
      slot.worker.post(job.message, job.transfer)
    }
    this.#assist?.idleChanged()
  }

  #finish(slot: Slot, msg: Extract<ToMain, { type: 'result' | 'error' }>): void {
    const job = slot.job
    if (!job || job.id !== msg.id) return
    slot.job = null
    this.#busyMs[slot.worker.index]! += performance.now() - slot.startedAt
    if (msg.type === 'result') this.#settle(job, null, msg.result)
    else this.#settle(job, OcrError.fromJSON(msg.error))
    this.#pump()
    this.#checkDrained()
  }

  #cancel(job: Job, err: OcrError): void {
    if (job.settled) return
    const queue = this.#queue.includes(job) ? this.#queue : this.#batchQueue
    const qi = queue.indexOf(job)
    if (qi >= 0) queue.splice(qi, 1)
    // a running job keeps its worker busy until the worker acknowledges; tell it to stop early
    else if (job.slot) job.slot.worker.post({ type: 'cancel', id: job.id })
    this.#settle(job, err)
    this.#checkDrained()
  }

  #settle(job: Job, err: OcrError | null, result?: OcrResult): void {
    if (job.settled) return
    job.settled = true
    clearTimeout(job.timer)
    job.cleanup()
    if (err) {
      this.#failed++
      job.reject(err)
    } else {
      this.#completed++
      job.resolve(result!)
    }
  }

  stats(): EngineStats {
    const now = performance.now()
    const running = this.#running()
    const busyMs = [...this.#busyMs]
    for (const s of running) if (s.job) busyMs[s.worker.index]! += now - s.startedAt
    return {
      workers: this.#slots.filter(Boolean).length,
      queued: this.#queue.length + this.#batchQueue.length,
      running: running.filter((s) => s.job).length,
      completed: this.#completed,
      failed: this.#failed,
      busyMs: busyMs.map(Math.round),
      assistRuns: this.#assist?.runs ?? 0,
    }
  }

  #checkDrained(): void {
    if (this.#drained && this.#queue.length === 0 && this.#batchQueue.length === 0 && this.#running().every((s) => s.job === null)) {
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
