/**
 * The local backend: ONNX Runtime in this thread. The only file that imports onnxruntime-node.
 * Execution providers come from a device table; CUDA falls back to CPU with a warning.
 */
import * as ort from 'onnxruntime-node'
import type { Device } from '../config.js'
import { OcrError } from '../errors.js'
import { silentLogger, type Logger } from '../logger.js'
import { runInLanes, type Backend, type EachResult, type Feeds, type RunOptions, type Tensor, type TensorType } from './backend.js'

export interface LocalBackendOptions {
  device: Device
  /** Intra-op threads (0 = ONNX Runtime's default: all cores). */
  threads: number
  logger?: Logger
}

/** Execution providers per device, in preference order. */
const DEVICE_PROVIDERS: Record<Device, string[]> = {
  cpu: ['cpu'],
  cuda: ['cuda', 'cpu'],
}

function sessionOptions(providers: string[], threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
  }
}

/** Loads `modelPath` (an .onnx file or its bytes) into a session on `device`. */
export async function createLocalBackend(model: string | Uint8Array, options: LocalBackendOptions): Promise<Backend> {
  const logger = options.logger ?? silentLogger
  let session: ort.InferenceSession
  const providers = DEVICE_PROVIDERS[options.device]
  if (!providers) throw new OcrError('INVALID_CONFIG', `unknown device "${String(options.device)}"; valid: ${Object.keys(DEVICE_PROVIDERS).join(', ')}`)
  try {
    session = await createSession(model, sessionOptions(providers, options.threads))
  } catch (err) {
    if (options.device === 'cpu') throw new OcrError('MODEL_ERROR', `cannot load model: ${(err as Error).message}`, { cause: err })
    logger.warn({ err: (err as Error).message, device: options.device }, 'CUDA execution provider could not be loaded; falling back to CPU')
    session = await createSession(model, sessionOptions(['cpu'], options.threads))
  }
  return new LocalBackend(session)
}

function createSession(model: string | Uint8Array, opts: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts)
}

class LocalBackend implements Backend {
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  #session: ort.InferenceSession | null

  constructor(session: ort.InferenceSession) {
    this.#session = session
    this.inputNames = session.inputNames
    this.outputNames = session.outputNames
  }

  async run(feeds: Feeds, options: RunOptions = {}): Promise<Record<string, Tensor>> {
    const session = this.#session
    if (!session) throw new OcrError('INTERNAL', 'backend used after dispose()')
    const ortFeeds: Record<string, ort.Tensor> = {}
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims)
    let out: ort.InferenceSession.ReturnType
    try {
      out = options.outputs ? await session.run(ortFeeds, [...options.outputs]) : await session.run(ortFeeds)
    } catch (err) {
      throw new OcrError('MODEL_ERROR', `inference failed: ${(err as Error).message}`, { cause: err })
    }
    const result: Record<string, Tensor> = {}
    for (const [name, t] of Object.entries(out)) {
      result[name] = { type: t.type as TensorType, dims: [...t.dims], data: t.data as Tensor['data'] }
    }
    return result
  }

  /** One call after another: a session's run() occupies this thread while it computes. */
  runEach(calls: readonly Feeds[], options: RunOptions, onResult: EachResult): Promise<void> {
    return runInLanes((feeds, o) => this.run(feeds, o), calls, 1, options, onResult)
  }

  async dispose(): Promise<void> {
    const s = this.#session
    this.#session = null
    await s?.release()
  }
}
