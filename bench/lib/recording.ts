/**
 * The model-only floor: a Backend wrapper that records every run() the pipeline makes (role,
 * input tensors copied, time), and a replay of those exact tensors on bare sessions. The replay
 * time is what the networks alone cost for an image; everything above it is decode, pre/post-
 * processing, cropping and scheduling.
 */
import { join } from 'node:path'
import { runInLanes, type Backend, type EachResult, type Feeds, type ModelRole, type RunOptions, type Tensor } from '../../src/inference/backend.js'

/** Where the networks a replay runs on come from: the build (dist/), and how one default worker loads them. */
export interface FloorModels {
  /** The build's folder, whose inference and model-file modules load the networks. */
  dist: string
  models: Record<ModelRole, string>
  rewrite: boolean
  threads: number
}

/**
 * The three networks as one default ocrserve worker loads them from the build: the same model
 * bytes (graph rewrites included) and ONNX Runtime threads, so a replay runs the engine's graphs.
 */
export async function floorBackends(o: FloorModels): Promise<Record<ModelRole, Backend>> {
  const local = (await import(join(o.dist, 'inference', 'local.js'))) as typeof import('../../src/inference/local.js')
  const file = (await import(join(o.dist, 'models', 'onnx', 'model-file.js'))) as typeof import('../../src/models/onnx/model-file.js')
  const load = async (role: ModelRole): Promise<Backend> => local.createLocalBackend(await file.localModelSource(o.models[role], o.rewrite, undefined, role), { device: 'cpu', threads: o.threads })
  return { det: await load('det'), cls: await load('cls'), rec: await load('rec') }
}

export interface RecordedCall {
  role: ModelRole
  feeds: Feeds
  /** Wall time of the wrapped run() inside the pipeline (ms). */
  ms: number
  /** Columns of the first input, summed over the batch, and how many of them are zero padding. */
  columns: number
  paddedColumns: number
  /** Bytes of all inputs and of all outputs (what a remote model server has to move). */
  inBytes: number
  outBytes: number
  /** Dims of the first input. */
  dims: number[]
  /** The outputs the pipeline asked for (replayed the same way). */
  outputs?: readonly string[]
}

/**
 * Right-hand zero padding of an [n, c, h, w] float tensor: columns (per sample) whose values are
 * all exactly 0 counting from the right edge. Packed pixels are never exactly 0 after
 * normalisation ((v/255 − 0.5)/0.5 and the ImageNet normalisation have no zero at an integer v),
 * so these columns are padding the network still computes over.
 */
export function rightPadding(t: Tensor): { columns: number; paddedColumns: number } {
  if (t.dims.length !== 4 || !(t.data instanceof Float32Array)) return { columns: 0, paddedColumns: 0 }
  const [n, c, h, w] = t.dims as [number, number, number, number]
  const d = t.data
  let padded = 0
  for (let s = 0; s < n; s++) {
    let x = w - 1
    for (; x >= 0; x--) {
      let zero = true
      for (let ch = 0; ch < c && zero; ch++) {
        const base = (s * c + ch) * h * w + x
        for (let y = 0; y < h; y++) {
          if (d[base + y * w] !== 0) {
            zero = false
            break
          }
        }
      }
      if (!zero) break
    }
    padded += w - 1 - x
  }
  return { columns: n * w, paddedColumns: padded }
}

function copyTensor(t: Tensor): Tensor {
  return { type: t.type, dims: [...t.dims], data: t.data.slice() as Tensor['data'] }
}

/** Delegates to `inner` and appends each call to `log` (tensors copied before the run). */
export class RecordingBackend implements Backend {
  readonly #inner: Backend
  readonly #role: ModelRole
  readonly #log: RecordedCall[]

  constructor(role: ModelRole, inner: Backend, log: RecordedCall[]) {
    this.#role = role
    this.#inner = inner
    this.#log = log
  }

  get inputNames(): readonly string[] {
    return this.#inner.inputNames
  }

  get outputNames(): readonly string[] {
    return this.#inner.outputNames
  }

  async run(feeds: Feeds, options?: RunOptions): Promise<Record<string, Tensor>> {
    const copy: Feeds = {}
    for (const [name, t] of Object.entries(feeds)) copy[name] = copyTensor(t)
    const t0 = performance.now()
    const out = await this.#inner.run(feeds, options)
    const ms = performance.now() - t0
    const first = Object.values(copy)[0]
    const bytes = (ts: Record<string, Tensor>): number => Object.values(ts).reduce((n, t) => n + t.data.byteLength, 0)
    this.#log.push({
      role: this.#role,
      feeds: copy,
      ms,
      ...(first ? rightPadding(first) : { columns: 0, paddedColumns: 0 }),
      inBytes: bytes(copy),
      outBytes: bytes(out),
      dims: first ? [...first.dims] : [],
      ...(options?.outputs ? { outputs: [...options.outputs] } : {}),
    })
    return out
  }

  /** One call after another through run(), so that each is recorded (as a local session runs them). */
  runEach(calls: readonly Feeds[], options: RunOptions, onResult: EachResult): Promise<void> {
    return runInLanes((feeds, o) => this.run(feeds, o), calls, 1, options, onResult)
  }

  dispose(): Promise<void> {
    return this.#inner.dispose()
  }
}

export type RoleTimes = Record<ModelRole, number>

export function zeroRoleTimes(): RoleTimes {
  return { det: 0, cls: 0, rec: 0 }
}

/** Runs the recorded calls again on `backends` and returns the time spent in run() per role (ms). */
export async function replay(calls: readonly RecordedCall[], backends: Record<ModelRole, Backend>): Promise<RoleTimes> {
  const times = zeroRoleTimes()
  for (const c of calls) {
    const t0 = performance.now()
    await backends[c.role].run(c.feeds, c.outputs ? { outputs: c.outputs } : {})
    times[c.role] += performance.now() - t0
  }
  return times
}

/** Input shape of a call, e.g. "rec 6×3×48×320". */
export function describeCall(c: RecordedCall): string {
  return `${c.role} ${c.dims.length ? c.dims.join('×') : '?'}`
}
