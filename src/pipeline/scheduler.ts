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
import type { OcrResult, PageCallback } from '../types.js'
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
}

/** What the worker needs besides the input (the job id and transfer list are the scheduler's). */
export type JobSpec = Omit<JobMessage, 'type' | 'id' | 'input'>

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

interface Slot {
  index: number
  worker: Worker
  job: Job | null
  busyMs: number
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
  /** Waiting jobs: interactive ones first; a batch job runs only when no interactive one waits. */
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
    const slot: Slot = { index, worker, job: null, busyMs: this.#slots[index]?.busyMs ?? 0, startedAt: 0 }
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
          case 'error':
            this.#finish(slot, msg)
            break
          case 'page':
            if (slot.job?.id === msg.id && !slot.job.settled) {
              try {
                slot.job.onPage?.(msg.page, { done: msg.done, total: msg.total })
              } catch (err) {
                this.#opts.logger.error({ err }, 'onPage callback threw')
              }
            }
            break
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
        const job = slot.job
        slot.job = null
        for (const [id, a] of this.#assists) if (a.helper === slot) this.#assistEnd(id, slot)
        if (job) this.#settle(job, new OcrError('INTERNAL', `worker exited (code ${code}) while running the job`))
        this.#opts.logger.warn({ worker: index, code }, 'restarting pipeline worker')
        this.#spawn(index).catch((err) => this.#opts.logger.error({ worker: index, err }, 'cannot restart pipeline worker'))
      })
    })
  }

  submit(input: Uint8Array | string, spec: JobSpec, options: SubmitOptions): Promise<OcrResult> {
    if (this.#closing) return Promise.reject(new OcrError('SHUTTING_DOWN', 'the engine is shutting down', { retryAfterSec: 5 }))
    if (options.signal?.aborted) return Promise.reject(new OcrError('CANCELLED', 'job cancelled before it started'))
    const idle = this.#slots.some((s) => s && s.job === null)
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
    for (const slot of this.#slots) {
      if (!slot || slot.job !== null) continue
      const job = this.#queue.shift() ?? this.#batchQueue.shift()
      if (!job) break
      slot.job = job
      job.slot = slot
      slot.startedAt = performance.now()
      slot.worker.postMessage(job.message, job.transfer)
    }
    this.#sendIdle()
  }

  /** Tells every worker how many workers have no job, when that changed (assist.ts). */
  #sendIdle(): void {
    if (!this.#opts.assist) return
    const idle = this.#slots.filter((s) => s && s.job === null).length
    if (idle === this.#idleSent) return
    this.#idleSent = idle
    for (const s of this.#slots) s?.worker.postMessage({ type: 'idle', count: idle } satisfies ToWorker)
  }

  /** A busy worker offers calls: every worker with no job and no other worker's calls takes part. */
  #assist(from: Slot, msg: Extract<ToMain, { type: 'assist' }>): void {
    const helping = new Set([...this.#assists.values()].map((a) => a.helper))
    const idle = this.#closing || this.#slots[from.index] !== from ? [] : this.#slots.filter((s) => s && s !== from && s.job === null && !helping.has(s))
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

  #finish(slot: Slot, msg: Extract<ToMain, { type: 'result' | 'error' }>): void {
    const job = slot.job
    if (!job || job.id !== msg.id) return
    slot.job = null
    slot.busyMs += performance.now() - slot.startedAt
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
    else if (job.slot) job.slot.worker.postMessage({ type: 'cancel', id: job.id })
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
    return {
      workers: this.#slots.filter(Boolean).length,
      queued: this.#queue.length + this.#batchQueue.length,
      running: this.#slots.filter((s) => s && s.job).length,
      completed: this.#completed,
      failed: this.#failed,
      busyMs: this.#slots.map((s) => Math.round(s.busyMs + (s.job ? now - s.startedAt : 0))),
      assistRuns: this.#assistRuns,
    }
  }

  #checkDrained(): void {
    if (this.#drained && this.#queue.length === 0 && this.#batchQueue.length === 0 && this.#slots.every((s) => !s || s.job === null)) {
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
