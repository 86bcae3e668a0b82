/**
 * Idle workers help busy ones (single mode). Each worker owns its own ONNX sessions and runs one
 * job at a time, so a lone page used one core while the others idled. Now a worker offers the
 * classifier and recogniser calls of a packed chunk (pipeline.ts packAhead) to the workers that
 * have no job, and they all take calls from the same list:
 *
 *   busy worker ── 'assist' (calls and counter in shared memory) ──▶ main thread ── 'assist-run' ──▶ each idle worker
 *   busy worker ◀── 'assist-result' per call, 'assist-end' ── main thread ◀── 'assist-done', 'assist-end' ── helper
 *
 * Who runs which call is decided by one shared counter (a SharedArrayBuffer): the busy worker and
 * every helper take the next call with Atomics.add until the list is used up. The busy worker's
 * own run() blocks its thread (onnxruntime-node runs a session synchronously), so helpers must not
 * depend on it to hand out work: with the counter they never wait for it. A helper stops taking
 * calls as soon as it gets a job of its own, so help never delays queued work (and a worker has no
 * job only while the queue is empty). The scheduler (main thread) picks the helpers and routes
 * the messages; a helper that exits mid-way only costs its unanswered calls, which the busy worker
 * then runs itself.
 *
 * Every worker loads the same model bytes with the same settings and thread count, so a call gives
 * the same outputs wherever it runs.
 */
import { checkCancelled, OcrError, serializeError } from '../errors.js'
import type { Backend, Feeds, RunOptions, Tensor } from '../inference/backend.js'
import type { AssistOutcome, AssistRole, SharedCalls } from './messages.js'

/** What the busy worker hears back about an offer. */
export interface OfferEvents {
  /** How many helpers took the calls (0: none was free). */
  start(helpers: number): void
  result(outcome: AssistOutcome): void
  /** One helper stopped taking calls. */
  end(): void
}

/** Posts an offer to the main thread; `events` hears its answers until the returned close(). */
export type OfferCalls = (calls: SharedCalls, events: OfferEvents) => { close(): void }

/** A local backend whose lists of calls idle workers help with. */
export class AssistedBackend implements Backend {
  readonly #inner: Backend
  readonly #role: AssistRole
  readonly #offer: OfferCalls
  readonly #idleWorkers: () => number

  constructor(inner: Backend, role: AssistRole, offer: OfferCalls, idleWorkers: () => number) {
    this.#inner = inner
    this.#role = role
    this.#offer = offer
    this.#idleWorkers = idleWorkers
  }

  get inputNames(): readonly string[] {
    return this.#inner.inputNames
  }

  get outputNames(): readonly string[] {
    return this.#inner.outputNames
  }

  run(feeds: Feeds, options?: RunOptions): Promise<Record<string, Tensor>> {
    return this.#inner.run(feeds, options)
  }

  /**
   * Runs every call, here and on idle workers, and hands each call's outputs to `onResult` (in
   * this thread, in the order they come). Rejects with the first failure; `options.signal`
   * aborting stops the calls not yet taken (CANCELLED).
   */
  async runEach(calls: readonly Feeds[], options: RunOptions, onResult: (index: number, outputs: Record<string, Tensor>) => void): Promise<void> {
    const n = calls.length
    if (n < 2 || this.#idleWorkers() === 0) return this.#inner.runEach(calls, options, onResult)
    const next = new Int32Array(new SharedArrayBuffer(4))
    const done = new Uint8Array(n)
    let count = 0
    let failure: unknown
    let helpers: number | undefined
    let ended = 0
    let wake: (() => void) | undefined
    const take = (i: number, outputs: Record<string, Tensor>): void => {
      if (done[i] || failure) return
      done[i] = 1
      count++
      try {
        onResult(i, outputs)
      } catch (err) {
        fail(err)
      }
    }
    const fail = (err: unknown): void => {
      failure ??= err
      // nobody takes another call
      Atomics.store(next, 0, n)
    }
    const notify = (): void => {
      wake?.()
      wake = undefined
    }
    const offer = this.#offer(
      { role: this.#role, calls: inSharedMemory(calls), ...(options.outputs ? { outputs: [...options.outputs] } : {}), next },
      {
        start: (k) => {
          helpers = k
          notify()
        },
        result: (o) => {
          if (o.error) fail(OcrError.fromJSON(o.error))
          else if (o.outputs) take(o.index, o.outputs)
          notify()
        },
        end: () => {
          ended++
          notify()
        },
      },
    )
    try {
      for (let i = Atomics.add(next, 0, 1); i < n && failure === undefined; i = Atomics.add(next, 0, 1)) {
        try {
          checkCancelled(options.signal)
          take(i, await this.#inner.run(calls[i]!, options))
        } catch (err) {
          fail(err)
        }
      }
      // the calls helpers took: wait for their answers, or for every helper to have stopped
      while (failure === undefined && count < n && (helpers === undefined || ended < helpers)) {
        await new Promise<void>((resolve) => (wake = resolve))
      }
    } finally {
      offer.close()
    }
    if (failure !== undefined) throw failure
    // a helper that exited took calls it never answered: run them here
    for (let i = 0; i < n; i++) {
      if (!done[i]) {
        checkCancelled(options.signal)
        take(i, await this.#inner.run(calls[i]!, options))
        if (failure !== undefined) throw failure
      }
    }
  }

  dispose(): Promise<void> {
    return this.#inner.dispose()
  }
}

/**
 * The helper's side: takes calls from `shared` until none is left or `stop()` says so (it got a
 * job), reporting each. Errors are reported, not thrown; the busy worker fails the page.
 */
export async function helpWith(
  shared: SharedCalls,
  model: Backend,
  stop: () => boolean,
  report: (outcome: AssistOutcome, transfer: ArrayBuffer[]) => void,
): Promise<number> {
  let ran = 0
  const n = shared.calls.length
  while (!stop()) {
    const i = Atomics.add(shared.next, 0, 1)
    if (i >= n) break
    try {
      const out = await model.run(ownCopy(shared.calls[i]!), shared.outputs ? { outputs: shared.outputs } : {})
      const { outputs, transfer } = ownedOutputs(out)
      report({ index: i, outputs }, transfer)
      ran++
    } catch (err) {
      report({ index: i, error: serializeError(err) }, [])
      break
    }
  }
  return ran
}

/**
 * The calls' tensors copied once into one SharedArrayBuffer: the offer then crosses the main
 * thread and reaches every helper without another copy (a structured clone of a view on shared
 * memory shares it), where plain buffers would be copied on the main thread for each helper.
 */
export function inSharedMemory(calls: readonly Feeds[]): Feeds[] {
  const align = (n: number): number => (n + 7) & ~7
  let bytes = 0
  for (const feeds of calls) for (const t of Object.values(feeds)) bytes = align(bytes) + t.data.byteLength
  const memory = new SharedArrayBuffer(Math.max(8, align(bytes)))
  let at = 0
  return calls.map((feeds) => {
    const shared: Feeds = {}
    for (const [name, t] of Object.entries(feeds)) {
      at = align(at)
      const Ctor = t.data.constructor as new (buffer: ArrayBufferLike, offset: number, length: number) => Tensor['data']
      const view = new Ctor(memory, at, t.data.length)
      view.set(t.data as never)
      shared[name] = { type: t.type, dims: [...t.dims], data: view }
      at += t.data.byteLength
    }
    return shared
  })
}

/**
 * A call's tensors copied out of shared memory: onnxruntime-node cannot read a SharedArrayBuffer
 * on every Node version (Node 20's N-API refuses it), and a call's input must not change under it.
 */
function ownCopy(feeds: Feeds): Feeds {
  const own: Feeds = {}
  for (const [name, t] of Object.entries(feeds)) own[name] = { type: t.type, dims: [...t.dims], data: t.data.slice() as Tensor['data'] }
  return own
}

/**
 * Outputs as owned, transferable copies: ONNX Runtime's output buffers belong to the native binding
 * (freed where they were made), so they are copied once and the copies transferred.
 */
export function ownedOutputs(outputs: Record<string, Tensor>): { outputs: Record<string, Tensor>; transfer: ArrayBuffer[] } {
  const owned: Record<string, Tensor> = {}
  const transfer: ArrayBuffer[] = []
  for (const [name, t] of Object.entries(outputs)) {
    const data = t.data.slice() as Tensor['data']
    owned[name] = { type: t.type, dims: [...t.dims], data }
    transfer.push(data.buffer as ArrayBuffer)
  }
  return { outputs: owned, transfer }
}

/** The distinct (non-shared) buffers under tensors, to transfer them. */
export function tensorBuffers(tensors: Iterable<Tensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>()
  for (const t of tensors) if (t.data.buffer instanceof ArrayBuffer) buffers.add(t.data.buffer)
  return [...buffers]
}
