/**
 * The one small interface every inference backend implements (local ONNX Runtime, KServe v2
 * HTTP/gRPC, TF Serving). Stages only ever see this: they never know whether run() is local.
 * Modelled on onnxruntime-common's backend: input/output names, run(feeds), dispose().
 */
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

export interface Backend {
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  /**
   * How many run() calls are worth having in flight at once (absent = 1: a local session runs
   * them one after another on its thread anyway; a model server has instances to share them).
   */
  readonly concurrentRuns?: number
  run(feeds: Feeds, options?: RunOptions): Promise<Record<string, Tensor>>
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
