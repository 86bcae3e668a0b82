/**
 * The model server's worker threads. Every worker holds a session for every served model version;
 * a job goes to the ready worker with the fewest jobs in flight. A worker that dies fails its own
 * jobs (MODEL_ERROR) and is replaced; the others keep serving.
 */
import { Worker } from 'node:worker_threads'
import type { Device } from '../config.js'
import { OcrError, type SerializedError } from '../errors.js'
import type { Feeds, Tensor } from '../inference/backend.js'
import type { Logger } from '../logger.js'
import { takeExclusive } from '../protocols/tensors.js'
import type { WorkerInit } from './worker.js'

export type ToWorker =
  | { type: 'run'; id: number; key: string; feeds: Feeds; outputNames: readonly string[] }
  | { type: 'close' }

export type FromWorker =
  | { type: 'ready'; models: Record<string, { inputNames: string[]; outputNames: string[] }> }
  | { type: 'init-error'; error: SerializedError }
  | { type: 'result'; id: number; outputs: Record<string, Tensor> }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: object; msg?: string }

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
}

interface Job {
  resolve: (out: Record<string, Tensor>) => void
  reject: (err: unknown) => void
}

interface Slot {
  index: number
  worker: Worker
  ready: boolean
  exited: boolean
  jobs: Map<number, Job>
}

/** The worker script next to this file (.ts under a TypeScript loader, .js when built). */
const WORKER_URL = new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)

export class WorkerPool {
  readonly #opts: PoolOptions
  readonly #slots: Slot[] = []
  #nextId = 1
  #closing = false

  constructor(options: PoolOptions) {
    if (options.size < 1) throw new RangeError('pool size must be ≥ 1')
    this.#opts = options
  }

  /** Starts every worker; resolves with the models' input/output names once all have loaded. */
  async start(): Promise<Record<string, ModelIo>> {
    const loads = Array.from({ length: this.#opts.size }, (_, i) => this.#spawn(i))
    const results = await Promise.allSettled(loads)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) {
      await this.close()
      throw failed.reason
    }
    return (results[0] as PromiseFulfilledResult<Record<string, ModelIo>>).value
  }

  get readyWorkers(): number {
    return this.#slots.filter((s) => s?.ready).length
  }

  #spawn(index: number): Promise<Record<string, ModelIo>> {
    const init: WorkerInit = { models: this.#opts.models, device: this.#opts.device, threads: this.#opts.threads }
    const worker = new Worker(WORKER_URL, { workerData: init, name: `ocrserve-model-${index}` })
    const slot: Slot = { index, worker, ready: false, exited: false, jobs: new Map() }
    this.#slots[index] = slot
    const logger = this.#opts.logger
    return new Promise((resolve, reject) => {
      let settled = false
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'ready':
            slot.ready = true
            settled = true
            resolve(msg.models)
            return
          case 'init-error':
            settled = true
            reject(OcrError.fromJSON(msg.error))
            return
          case 'result': {
            const job = slot.jobs.get(msg.id)
            slot.jobs.delete(msg.id)
            job?.resolve(msg.outputs)
            return
          }
          case 'error': {
            const job = slot.jobs.get(msg.id)
            slot.jobs.delete(msg.id)
            job?.reject(OcrError.fromJSON(msg.error))
            return
          }
          case 'log':
            logger[msg.level]({ worker: index, ...msg.obj }, msg.msg)
            return
        }
      })
      worker.on('error', (err) => {
        logger.error({ worker: index, err }, 'model-server worker failed')
        if (!settled) {
          settled = true
          reject(new OcrError('MODEL_ERROR', `model-server worker ${index} failed to start: ${err.message}`, { cause: err }))
        }
      })
      worker.on('exit', (code) => {
        slot.ready = false
        slot.exited = true
        const pending = [...slot.jobs.values()]
        slot.jobs.clear()
        for (const job of pending) job.reject(new OcrError('MODEL_ERROR', `model-server worker ${index} exited (code ${code}) during inference`))
        if (!settled) {
          settled = true
          reject(new OcrError('MODEL_ERROR', `model-server worker ${index} exited (code ${code}) while loading models`))
        }
        if (!this.#closing && this.#slots[index] === slot) {
          logger.warn({ worker: index, code }, 'model-server worker exited; starting a replacement')
          this.#spawn(index).catch((err: unknown) => logger.error({ worker: index, err }, 'replacement worker failed to load'))
        }
      })
    })
  }

  /** Runs one (already batched) inference on the least busy ready worker. */
  run(key: string, feeds: Feeds, outputNames: readonly string[]): Promise<Record<string, Tensor>> {
    if (this.#closing) return Promise.reject(new OcrError('SHUTTING_DOWN', 'the model server is shutting down'))
    let best: Slot | undefined
    for (const s of this.#slots) if (s?.ready && (!best || s.jobs.size < best.jobs.size)) best = s
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
      const msg: ToWorker = { type: 'run', id, key, feeds: owned, outputNames }
      slot.worker.postMessage(msg, [...transfer])
    })
  }

  async close(): Promise<void> {
    this.#closing = true
    await Promise.all(
      this.#slots.filter((s) => s && !s.exited).map(
        (s) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void s.worker.terminate().then(() => resolve()), 5000)
            s.worker.once('exit', () => {
              clearTimeout(timer)
              resolve()
            })
            s.worker.postMessage({ type: 'close' } satisfies ToWorker)
          }),
      ),
    )
  }
}
