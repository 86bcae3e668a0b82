/**
 * Idle workers help busy ones (single mode). Each worker owns its own ONNX sessions and runs one
 * job at a time, so without help a lone page would use one core while the others idle. A worker
 * with a job offers the classifier and recogniser calls of a packed chunk (AssistedBackend.runEach,
 * which pipeline.ts packAhead calls) to the workers that have no job, and they all take calls from
 * the same list:
 *
 *   busy worker ── 'assist' (calls and counter in shared memory) ──▶ main thread ── 'assist-run' ──▶ each idle worker
 *   busy worker ◀── 'assist-result' per call, 'assist-end' ── main thread ◀── 'assist-done', 'assist-end' ── helper
 *
 * Who runs which call is decided by one shared counter (a SharedArrayBuffer): the busy worker and
 * every helper take the next call with Atomics.add until the list is used up. The busy worker's
 * own run() blocks its thread (onnxruntime-node runs a session synchronously), so helpers must not
 * depend on it to hand out work: with the counter they never wait for it. A helper stops taking
 * calls as soon as it gets a job of its own, so help never delays queued work (and a worker has no
 * job only while the queue is empty). The main thread (AssistRouter, driven by the scheduler)
 * picks the helpers and routes the messages; a helper that exits mid-way only costs its unanswered
 * calls, which the busy worker then runs itself.
 *
 * Every worker loads the same model bytes with the same settings and thread count, so a call gives
 * the same outputs wherever it runs.
 *
 * All of it is in this file: the messages, the busy worker's backend (AssistedBackend), the
 * worker's side (WorkerAssist: offers, help, idle count) and the main thread's (AssistRouter).
 */
import { checkCancelled, OcrError, serializeError, type SerializedError } from '../errors.js'
import type { Backend, EachResult, Feeds, RunOptions, Tensor } from '../inference/backend.js'
import type { Logger } from '../logger.js'

/** The networks whose calls an idle worker may run for a busy one. */
export type AssistRole = 'cls' | 'rec'

/**
 * A busy worker's calls, offered to idle workers: each of them (and the busy worker) takes the
 * next call by incrementing `next[0]` (a SharedArrayBuffer) until it reaches calls.length.
 */
export interface SharedCalls {
  role: AssistRole
  calls: Feeds[]
  outputs?: string[] | undefined
  next: Int32Array
}

/** One call's outputs (or error), run by a helper. */
export interface AssistOutcome {
  index: number
  outputs?: Record<string, Tensor>
  error?: SerializedError
}

/** The main thread's messages to workers about help. */
export type AssistToWorker =
  /** How many workers have no job now (sent when it changes). */
  | { type: 'idle'; count: number }
  /** Help with another worker's calls (answer each with 'assist-done', then 'assist-end'). */
  | ({ type: 'assist-run'; id: number; model: string } & SharedCalls)
  /** To the worker that offered calls `reqId`: how many helpers took them (0: run them all here)… */
  | { type: 'assist-start'; reqId: number; helpers: number }
  /** …each call a helper ran… */
  | ({ type: 'assist-result'; reqId: number } & AssistOutcome)
  /** …and each helper that stopped taking calls (done, got a job, or exited). */
  | { type: 'assist-end'; reqId: number }

/** A worker's messages to the main thread about help. */
export type AssistToMain =
  /** Offer calls to idle workers; `model`: the pack whose sessions run them. */
  | ({ type: 'assist'; reqId: number; model: string } & SharedCalls)
  | ({ type: 'assist-done'; id: number } & AssistOutcome)
  | { type: 'assist-end'; id: number }

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
  async runEach(calls: readonly Feeds[], options: RunOptions, onResult: EachResult): Promise<void> {
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

/** A worker's own sessions, by pack name and role. */
export interface AssistSessions {
  /** The backend, made on first use. */
  local(model: string, role: AssistRole): Promise<Backend>
  /** The backend if this worker has made it already, else undefined. */
  loaded(model: string, role: AssistRole): Promise<Backend> | undefined
}

/**
 * A worker's side: its classifier and recogniser backends offer their lists of calls while it has
 * a job (backend()), it takes other workers' calls while it has none, and it keeps the idle count
 * the main thread sends (handle()).
 */
export class WorkerAssist {
  readonly #post: (msg: AssistToMain, transfer?: readonly ArrayBuffer[]) => void
  readonly #sessions: AssistSessions
  readonly #hasJob: () => boolean
  readonly #logger: Logger
  readonly #offers = new Map<number, OfferEvents>()
  #nextOffer = 1
  #idleWorkers = 0

  /**
   * @param post sends a message to the main thread
   * @param sessions this worker's own backends of each pack
   * @param hasJob whether this worker has a job (a helper stops taking calls when it gets one)
   */
  constructor(post: (msg: AssistToMain, transfer?: readonly ArrayBuffer[]) => void, sessions: AssistSessions, hasJob: () => boolean, logger: Logger) {
    this.#post = post
    this.#sessions = sessions
    this.#hasJob = hasJob
    this.#logger = logger
  }

  /** The backend of pack `model`'s `role` whose lists of calls idle workers share. */
  async backend(model: string, role: AssistRole): Promise<Backend> {
    return new AssistedBackend(await this.#sessions.local(model, role), role, (calls, events) => this.#offer(model, calls, events), () => this.#idleWorkers)
  }

  handle(msg: AssistToWorker): void {
    switch (msg.type) {
      case 'idle':
        this.#idleWorkers = msg.count
        return
      case 'assist-run':
        void this.#help(msg)
        return
      case 'assist-start':
        this.#offers.get(msg.reqId)?.start(msg.helpers)
        return
      case 'assist-result':
        this.#offers.get(msg.reqId)?.result(msg)
        return
      case 'assist-end':
        this.#offers.get(msg.reqId)?.end()
        return
    }
  }

  #offer(model: string, calls: SharedCalls, events: OfferEvents): { close(): void } {
    const reqId = this.#nextOffer++
    this.#offers.set(reqId, events)
    // the tensors are in shared memory (copied once, inSharedMemory), like the counter
    this.#post({ type: 'assist', reqId, model, ...calls })
    return { close: () => this.#offers.delete(reqId) }
  }

  /** Takes another worker's calls until they are used up or this worker gets a job. */
  async #help(msg: Extract<AssistToWorker, { type: 'assist-run' }>): Promise<void> {
    try {
      // only with a pack this worker has loaded: helping must not load another pack's sessions here
      const loaded = this.#sessions.loaded(msg.model, msg.role)
      if (!loaded) return
      const model = await loaded
      await helpWith(msg, model, this.#hasJob, (outcome, transfer) => this.#post({ type: 'assist-done', id: msg.id, ...outcome }, transfer))
    } catch (err) {
      // no session: take nothing (the busy worker runs the calls itself)
      this.#logger.warn({ err: (err as Error).message }, 'cannot help another worker')
    } finally {
      this.#post({ type: 'assist-end', id: msg.id })
    }
  }
}

/** What the main thread's router needs to know of the workers. */
export interface AssistPool<W> {
  /** The workers now running (a replaced one is gone from here). */
  workers(): readonly W[]
  hasJob(worker: W): boolean
  /** False once the pool is closing: offers then find no helper. */
  accepting(): boolean
}

/** A worker as the router addresses it. */
export interface AssistPeer {
  post(msg: AssistToWorker, transfer?: readonly ArrayBuffer[]): void
}

/**
 * The main thread's side: tells the workers how many of them have no job, hands each offer to the
 * idle workers that are not helping already (at most one per call beyond the busy worker's own),
 * and routes the helpers' answers back to the worker that offered, while it is still running.
 */
export class AssistRouter<W extends AssistPeer> {
  readonly #pool: AssistPool<W>
  /** Helpers at work, by assist id: a helper taking offer `reqId` of worker `from`. */
  readonly #helping = new Map<number, { from: W; reqId: number; helper: W }>()
  #nextId = 1
  #runs = 0
  /** The idle count last sent. */
  #idleSent = -1

  constructor(pool: AssistPool<W>) {
    this.#pool = pool
  }

  /** Calls helpers ran for busy workers. */
  get runs(): number {
    return this.#runs
  }

  /** A worker started (or replaced one): the next idleChanged() sends the count to all. */
  joined(): void {
    this.#idleSent = -1
  }

  /** Tells every worker how many workers have no job, when that changed. */
  idleChanged(): void {
    const workers = this.#pool.workers()
    const idle = workers.filter((w) => !this.#pool.hasJob(w)).length
    if (idle === this.#idleSent) return
    this.#idleSent = idle
    for (const w of workers) w.post({ type: 'idle', count: idle })
  }

  handle(from: W, msg: AssistToMain): void {
    switch (msg.type) {
      case 'assist':
        this.#offer(from, msg)
        return
      case 'assist-done': {
        const h = this.#helping.get(msg.id)
        if (!h || h.helper !== from) return
        if (msg.outputs) this.#runs++
        const { type: _type, id: _id, ...outcome } = msg
        this.#toOfferer(h, { type: 'assist-result', reqId: h.reqId, ...outcome }, msg.outputs ? tensorBuffers(Object.values(msg.outputs)) : [])
        return
      }
      case 'assist-end':
        this.#end(msg.id, from)
        return
    }
  }

  /** A worker exited: the help it was giving ends. */
  left(worker: W): void {
    for (const [id, h] of this.#helping) if (h.helper === worker) this.#end(id, worker)
  }

  /** Every worker with no job and no other worker's calls takes part. */
  #offer(from: W, msg: Extract<AssistToMain, { type: 'assist' }>): void {
    const workers = this.#pool.workers()
    const helping = new Set([...this.#helping.values()].map((h) => h.helper))
    const idle = !this.#pool.accepting() || !workers.includes(from) ? [] : workers.filter((w) => w !== from && !this.#pool.hasJob(w) && !helping.has(w))
    // more helpers than calls besides the busy worker's own would get nothing to do
    const helpers = idle.slice(0, Math.max(0, msg.calls.length - 1))
    const { type: _type, reqId, ...shared } = msg
    for (const helper of helpers) {
      const id = this.#nextId++
      this.#helping.set(id, { from, reqId, helper })
      // the tensors are in shared memory (inSharedMemory): every helper sees them, uncopied
      helper.post({ type: 'assist-run', id, ...shared })
    }
    from.post({ type: 'assist-start', reqId, helpers: helpers.length })
  }

  #end(id: number, helper: W): void {
    const h = this.#helping.get(id)
    if (!h || h.helper !== helper) return
    this.#helping.delete(id)
    this.#toOfferer(h, { type: 'assist-end', reqId: h.reqId }, [])
  }

  /** A message to the worker that made an offer, if it is still running. */
  #toOfferer(h: { from: W }, msg: AssistToWorker, transfer: ArrayBuffer[]): void {
    if (this.#pool.workers().includes(h.from)) h.from.post(msg, transfer)
  }
}
