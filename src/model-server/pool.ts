/**
 * The model server's worker threads. Every worker holds a session for every served model version;
 * a job goes to the ready worker with the fewest jobs in flight. A worker that dies fails its own
 * jobs (MODEL_ERROR) and is replaced; the others keep serving. The threads themselves (start,
 * logs, replacement, close) are the worker host's (workers/host.ts).
 */
import type { Device } from '../config.js'
import { OcrError, type SerializedError } from '../errors.js'
import type { Feeds, Tensor } from '../inference/backend.js'
import type { Logger } from '../logger.js'
import { takeExclusive } from '../protocols/tensors.js'
import { scriptBeside, threadsRunning, WorkerHost, type HostedWorker, type WorkerFactory } from '../workers/host.js'
import type { WorkerInit } from './worker.js'

export type ToWorker = { type: 'run'; id: number; key: string; feeds: Feeds; outputNames: readonly string[] }

export type FromWorker = { type: 'result'; id: number; outputs: Record<string, Tensor> } | { type: 'error'; id: number; error: SerializedError }

export interface ModelIo {
  inputNames: string[]
  outputNames: string[]
}

export interface PoolOptions {
  size: number
  models: Array<{ key: string; path: string }>
  device: Device
  threads: number
  logger: Logger
  /** Makes the workers (default: threads running ./worker.ts); tests pass fakes. */
  workers?: WorkerFactory<WorkerInit>
}

interface Job {
  resolve: (out: Record<string, Tensor>) => void
  reject: (err: unknown) => void
}

/** A ready worker and its jobs in flight. */
interface Slot {
  worker: HostedWorker<ToWorker>
  jobs: Map<number, Job>
}

/** The model server's worker threads: compiled worker.js, or worker.ts under tsx. */
export const modelThreads: WorkerFactory<WorkerInit> = threadsRunning(scriptBeside(import.meta.url, 'worker'), 'ocrserve-model')

export class WorkerPool {
  readonly #host: WorkerHost<WorkerInit, ToWorker, FromWorker, Record<string, ModelIo>>
  /** The ready workers by index (empty while one is being replaced). */
  readonly #slots: Array<Slot | undefined> = []
  #nextId = 1
  #closing = false

  constructor(options: PoolOptions) {
    if (options.size < 1) throw new RangeError('pool size must be ≥ 1')
    const init: WorkerInit = { models: options.models, device: options.device, threads: options.threads }
    this.#host = new WorkerHost({
      name: 'model-server worker',
      size: options.size,
      init: () => init,
      factory: options.workers ?? modelThreads,
      logger: options.logger,
      startError: 'MODEL_ERROR',
      onReady: (worker) => {
        this.#slots[worker.index] = { worker, jobs: new Map() }
      },
      onMessage: (worker, msg) => {
        const slot = this.#slots[worker.index]
        const job = slot?.jobs.get(msg.id)
        if (!slot || slot.worker !== worker || !job) return
        slot.jobs.delete(msg.id)
        if (msg.type === 'result') job.resolve(msg.outputs)
        else job.reject(OcrError.fromJSON(msg.error))
      },
      onExit: (worker, code) => {
        const slot = this.#slots[worker.index]
        if (!slot || slot.worker !== worker) return
        this.#slots[worker.index] = undefined
        for (const job of slot.jobs.values()) job.reject(new OcrError('MODEL_ERROR', `model-server worker ${worker.index} exited (code ${code}) during inference`))
      },
    })
  }

  /** Starts every worker; resolves with the models' input/output names once all have loaded. */
  async start(): Promise<Record<string, ModelIo>> {
    const [io] = await this.#host.start()
    return io!
  }

  get readyWorkers(): number {
    return this.#slots.filter(Boolean).length
  }

  /** Runs one (already batched) inference on the least busy ready worker. */
  run(key: string, feeds: Feeds, outputNames: readonly string[]): Promise<Record<string, Tensor>> {
    if (this.#closing) return Promise.reject(new OcrError('SHUTTING_DOWN', 'the model server is shutting down'))
    let best: Slot | undefined
    for (const s of this.#slots) if (s && (!best || s.jobs.size < best.jobs.size)) best = s
    if (!best) return Promise.reject(new OcrError('NOT_READY', 'no model-server worker is ready', { retryAfterSec: 1 }))
    const id = this.#nextId++
    // Inputs over a buffer this request alone owns (a gathered HTTP body, an aligned copy: see
    // takeExclusive) go to the worker by transfer; any other input (a view into a gRPC message,
    // whose memory Node may share with other buffers) is copied first, so nothing that someone
    // else still reads is ever detached.
    const owned: Feeds = {}
    const transfer = new Set<ArrayBuffer>()
    for (const [name, t] of Object.entries(feeds)) {
      const buffer = t.data.buffer
      const inPlace = (buffer instanceof ArrayBuffer && transfer.has(buffer)) || takeExclusive(buffer)
      const data = inPlace ? t.data : (t.data.slice() as Tensor['data'])
      owned[name] = { type: t.type, dims: [...t.dims], data }
      transfer.add(data.buffer as ArrayBuffer)
    }
    const slot = best
    return new Promise((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject })
      slot.worker.post({ type: 'run', id, key, feeds: owned, outputNames }, [...transfer])
    })
  }

  async close(): Promise<void> {
    this.#closing = true
    await this.#host.close()
  }
}
