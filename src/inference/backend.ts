/**
 * The one small interface every inference backend implements (local ONNX Runtime, KServe v2
 * HTTP/gRPC, TF Serving). Stages only ever see this: they never know whether run() is local.
 * Modelled on onnxruntime-common's backend: input/output names, run(feeds), dispose(); plus
 * runEach(calls), a list of calls run the way the backend runs many best.
 */
import { checkCancelled } from '../errors.js'

export type TensorType = 'float32' | 'int64' | 'int32' | 'uint8'

export interface Tensor {
  type: TensorType
  dims: number[]
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array
}

export type Feeds = Record<string, Tensor>

export interface RunOptions {
  signal?: AbortSignal
  /**
   * The outputs to compute and return (default: all of outputNames). A remote model server then
   * sends only these; ONNX Runtime fetches only these.
   */
  outputs?: readonly string[]
}

/** Receives one call's outputs of a runEach() list: `index` is the call's place in the list. */
export type EachResult = (index: number, outputs: Record<string, Tensor>) => void

export interface Backend {
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  run(feeds: Feeds, options?: RunOptions): Promise<Record<string, Tensor>>
  /**
   * Runs every call of the list and hands each one's outputs to `onResult` (in this thread, in the
   * order they come). Rejects with the first failure, after which no further call starts, and
   * with CANCELLED when `options.signal` aborts before a call starts. How the calls are spread is
   * the backend's: a local session runs them one after another (its run() occupies its thread
   * anyway), a model server has up to OCR_REMOTE_CALLS_IN_FLIGHT of them in flight, and in single
   * mode idle workers share them (pipeline/assist.ts).
   */
  runEach(calls: readonly Feeds[], options: RunOptions, onResult: EachResult): Promise<void>
  dispose(): Promise<void>
}

/** The three networks of the PP-OCR pipeline. */
export type ModelRole = 'det' | 'cls' | 'rec'
export const MODEL_ROLES: readonly ModelRole[] = ['det', 'cls', 'rec']

/** Creates the backend for one role. Implementations: local (onnxruntime), kserve-http, kserve-grpc, tfserving. */
export type BackendFactory = (role: ModelRole) => Promise<Backend>

export function float32(dims: number[], data: Float32Array): Tensor {
  return { type: 'float32', dims, data }
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1)
}

/**
 * runEach() with up to `lanes` calls in flight: the calls start in list order, a lane starting the
 * next one as its last one ends (one lane: one after another). After a failure no lane starts
 * another call, and the outputs of calls still under way are not handed on.
 */
export async function runInLanes(
  run: (feeds: Feeds, options: RunOptions) => Promise<Record<string, Tensor>>,
  calls: readonly Feeds[],
  lanes: number,
  options: RunOptions,
  onResult: EachResult,
): Promise<void> {
  let taken = 0
  let failed = false
  const lane = async (): Promise<void> => {
    while (!failed && taken < calls.length) {
      const i = taken++
      try {
        checkCancelled(options.signal)
        const outputs = await run(calls[i]!, options)
        if (!failed) onResult(i, outputs)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, lanes), calls.length) }, lane))
}
