/**
 * A dynamic batcher in the manner of Triton's: concurrent requests for one model whose inputs
 * agree in everything but the batch dimension (dim 0), and that ask for the same outputs, are
 * concatenated along dim 0 up to maxBatchSize, run once, and the outputs split back. A batch goes
 * out when an execution slot is free and it is full, has a preferred size, or its oldest request
 * has waited maxQueueDelayMs. Requests that cannot be batched (batching off) run one by one under
 * the same concurrency limit and queue bound.
 */
import { OcrError } from '../errors.js'
import { elementCount, type Feeds, type Tensor, type TensorType } from '../inference/backend.js'

export type Execute = (feeds: Feeds, outputNames: readonly string[]) => Promise<Record<string, Tensor>>

export interface BatcherOptions {
  /** Largest batch (sum of dim 0) per execution; 0 or 1 with batching off means no merging. */
  maxBatchSize: number
  /** Whether requests may be merged (dynamic_batching present in the config). */
  batching: boolean
  maxQueueDelayMs: number
  preferredBatchSizes: readonly number[]
  /** Executions in flight at once (model instances). */
  concurrency: number
  /** Waiting requests beyond which submit() fails with OVERLOADED. */
  maxQueue: number
  execute: Execute
  /** Called per execution with the batch size and the number of requests merged. */
  onBatch?: (batchSize: number, requests: number) => void
  /** Called per request when it leaves the queue, with its wait in ms. */
  onDequeue?: (waitMs: number) => void
}

interface Pending {
  feeds: Feeds
  outputNames: readonly string[]
  batch: number
  key: string
  enqueuedAt: number
  resolve: (out: Record<string, Tensor>) => void
  reject: (err: unknown) => void
  cleanup: () => void
}

type TypedArray = Tensor['data']
const ARRAYS: Record<TensorType, new (n: number) => TypedArray> = {
  float32: Float32Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
}

/** Requests with equal keys may share a batch: same input names, types and non-batch dims, same outputs. */
export function batchKey(feeds: Feeds, outputNames: readonly string[]): string {
  const inputs = Object.keys(feeds)
    .sort()
    .map((n) => {
      const t = feeds[n]!
      return `${n}:${t.type}:${t.dims.slice(1).join('x')}`
    })
  return `${inputs.join('|')}=>${[...outputNames].sort().join('|')}`
}

/** Concatenates same-named tensors along dim 0. */
export function concatBatch(parts: readonly Feeds[]): Feeds {
  if (parts.length === 1) return parts[0]!
  const out: Feeds = {}
  for (const name of Object.keys(parts[0]!)) {
    const first = parts[0]![name]!
    const total = parts.reduce((n, f) => n + f[name]!.dims[0]!, 0)
    const data = new ARRAYS[first.type](parts.reduce((n, f) => n + f[name]!.data.length, 0))
    let offset = 0
    for (const f of parts) {
      const src = f[name]!.data
      ;(data as Float32Array).set(src as Float32Array, offset)
      offset += src.length
    }
    out[name] = { type: first.type, dims: [total, ...first.dims.slice(1)], data }
  }
  return out
}

/** Splits batched outputs back into per-request results of the given batch sizes. */
export function splitBatch(outputs: Record<string, Tensor>, sizes: readonly number[]): Array<Record<string, Tensor>> {
  if (sizes.length === 1) return [outputs]
  const total = sizes.reduce((a, b) => a + b, 0)
  const results = sizes.map(() => ({}) as Record<string, Tensor>)
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== total) {
      throw new OcrError('MODEL_ERROR', `output "${name}" has dim 0 = ${t.dims[0]} for a batch of ${total}: cannot split it back`)
    }
    const row = elementCount(t.dims.slice(1))
    let start = 0
    sizes.forEach((b, i) => {
      results[i]![name] = { type: t.type, dims: [b, ...t.dims.slice(1)], data: t.data.subarray(start * row, (start + b) * row) as TypedArray }
      start += b
    })
  }
  return results
}

export class DynamicBatcher {
  readonly #opts: BatcherOptions
  readonly #queue: Pending[] = []
  #inflight = 0
  #timer: NodeJS.Timeout | undefined
  #timerAt = 0
  #closed = false

  constructor(options: BatcherOptions) {
    if (options.concurrency < 1) throw new RangeError('concurrency must be ≥ 1')
    this.#opts = options
  }

  get queued(): number {
    return this.#queue.length
  }

  get inflight(): number {
    return this.#inflight
  }

  /**
   * Queues one request. `feeds` must already be validated; with batching its tensors share dim 0
   * (the request's batch size).
   */
  submit(feeds: Feeds, outputNames: readonly string[], signal?: AbortSignal): Promise<Record<string, Tensor>> {
    if (this.#closed) return Promise.reject(new OcrError('SHUTTING_DOWN', 'the model server is shutting down'))
    if (signal?.aborted) return Promise.reject(new OcrError('CANCELLED', 'request cancelled'))
    if (this.#queue.length >= this.#opts.maxQueue) {
      return Promise.reject(new OcrError('OVERLOADED', `model queue is full (${this.#opts.maxQueue} waiting)`, { retryAfterSec: 1 }))
    }
    const first = Object.values(feeds)[0]
    const batch = this.#opts.maxBatchSize > 0 && first ? (first.dims[0] ?? 1) : 1
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#queue.indexOf(pending)
        if (i >= 0) {
          this.#queue.splice(i, 1)
          reject(new OcrError('CANCELLED', 'request cancelled while queued'))
        }
      }
      const pending: Pending = {
        feeds,
        outputNames,
        batch,
        key: batchKey(feeds, outputNames),
        enqueuedAt: performance.now(),
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(pending)
      this.#pump()
    })
  }

  #mergeable(): boolean {
    return this.#opts.batching && this.#opts.maxBatchSize > 1
  }

  #pump(): void {
    while (this.#inflight < this.#opts.concurrency && this.#queue.length > 0) {
      const head = this.#queue[0]!
      const group = [head]
      let total = head.batch
      if (this.#mergeable()) {
        for (let i = 1; i < this.#queue.length && total < this.#opts.maxBatchSize; i++) {
          const r = this.#queue[i]!
          if (r.key === head.key && total + r.batch <= this.#opts.maxBatchSize) {
            group.push(r)
            total += r.batch
          }
        }
        const waited = performance.now() - head.enqueuedAt
        const preferred = this.#opts.preferredBatchSizes
        const ready =
          total >= this.#opts.maxBatchSize ||
          (preferred.length > 0 && (preferred.includes(total) || total >= preferred[preferred.length - 1]!)) ||
          waited >= this.#opts.maxQueueDelayMs
        if (!ready) {
          this.#arm(head.enqueuedAt + this.#opts.maxQueueDelayMs)
          return
        }
      }
      for (const r of group) this.#queue.splice(this.#queue.indexOf(r), 1)
      this.#dispatch(group, total)
    }
  }

  #arm(at: number): void {
    if (this.#timer && this.#timerAt <= at) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#pump()
      },
      Math.max(0, at - performance.now()),
    )
  }

  #dispatch(group: Pending[], total: number): void {
    this.#inflight++
    const now = performance.now()
    for (const r of group) {
      r.cleanup()
      this.#opts.onDequeue?.(now - r.enqueuedAt)
    }
    this.#opts.onBatch?.(total, group.length)
    const run = async (): Promise<Array<Record<string, Tensor>>> => {
      const feeds = concatBatch(group.map((r) => r.feeds))
      const outputs = await this.#opts.execute(feeds, group[0]!.outputNames)
      return splitBatch(outputs, group.map((r) => r.batch))
    }
    run()
      .then(
        (results) => group.forEach((r, i) => r.resolve(results[i]!)),
        (err: unknown) => group.forEach((r) => r.reject(err)),
      )
      .finally(() => {
        this.#inflight--
        this.#pump()
      })
  }

  /** Rejects everything still queued; executions in flight finish. */
  close(): void {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    for (const r of this.#queue.splice(0)) {
      r.cleanup()
      r.reject(new OcrError('SHUTTING_DOWN', 'the model server is shutting down'))
    }
  }
}
