/**
 * The saturated floor: the recorded run() calls of a whole set (bench/lib/recording.ts) replayed
 * on as many worker threads as ocrserve runs by default, each with its own sessions and ONNX
 * Runtime threads, all at once. It is the most any pipeline feeding these tensors to these
 * networks can read on this machine with this layout: what the networks lose to running side by
 * side (shared caches, memory bandwidth, clock) is in it, and nothing of ocrserve's own work is.
 * One worker replaying alone, with the others idle, gives the same calls' time without company.
 */
import { Worker } from 'node:worker_threads'
import type { FloorModels, RecordedCall, RoleTimes } from './recording.js'

export interface FloorPoolOptions extends FloorModels {
  workers: number
}

export interface FloorPass {
  /** Wall time of the pass: from the start signal until the last worker is done (ms). */
  wallMs: number
  /** Per worker that replayed: run() time per network (ms). */
  times: RoleTimes[]
}

type Reply = { type: 'ready' | 'stored' } | { type: 'done'; times: RoleTimes } | { type: 'error'; message: string }

class FloorThread {
  readonly #worker: Worker
  #waiting: ((r: Reply) => void) | null = null
  #failed: Error | null = null

  constructor(data: FloorModels) {
    this.#worker = new Worker(new URL('./floor-worker.mjs', import.meta.url), { workerData: data })
    this.#worker.on('message', (r: Reply) => this.#answer(r))
    this.#worker.on('error', (err) => this.#fail(err))
    this.#worker.on('exit', (code) => this.#fail(new Error(`floor worker exited with code ${code}`)))
  }

  #answer(r: Reply): void {
    const w = this.#waiting
    this.#waiting = null
    w?.(r)
  }

  #fail(err: Error): void {
    this.#failed ??= err
    this.#answer({ type: 'error', message: err.message })
  }

  /** The next reply; posts `msg` first when given. */
  async next(msg?: unknown): Promise<Reply> {
    if (this.#failed) throw this.#failed
    const reply = new Promise<Reply>((resolve) => (this.#waiting = resolve))
    if (msg !== undefined) this.#worker.postMessage(msg)
    const r = await reply
    if (r.type === 'error') throw new Error(`saturated floor: ${r.message}`)
    return r
  }

  async close(): Promise<void> {
    this.#worker.removeAllListeners('exit')
    await this.#worker.terminate()
  }
}

export class FloorPool {
  readonly #threads: FloorThread[]

  private constructor(threads: FloorThread[]) {
    this.#threads = threads
  }

  static async start(options: FloorPoolOptions, calls: readonly RecordedCall[]): Promise<FloorPool> {
    const { workers, ...data } = options
    const threads = Array.from({ length: workers }, () => new FloorThread(data))
    const pool = new FloorPool(threads)
    try {
      await Promise.all(threads.map((t) => t.next()))
      // each worker holds its own copy of the tensors (structured clone), as each ocrserve worker packs its own
      const plain = calls.map((c) => ({ role: c.role, feeds: c.feeds, ...(c.outputs ? { outputs: c.outputs } : {}) }))
      for (const t of threads) await t.next({ type: 'calls', calls: plain })
    } catch (err) {
      await pool.close()
      throw err
    }
    return pool
  }

  /** Every worker replays all the calls, started together; or only the first (`alone`). */
  async pass(alone = false): Promise<FloorPass> {
    const active = alone ? this.#threads.slice(0, 1) : this.#threads
    const t0 = performance.now()
    const replies = await Promise.all(active.map((t) => t.next({ type: 'go' })))
    const wallMs = performance.now() - t0
    return { wallMs, times: replies.map((r) => (r as Extract<Reply, { type: 'done' }>).times) }
  }

  async close(): Promise<void> {
    await Promise.all(this.#threads.map((t) => t.close()))
  }
}
