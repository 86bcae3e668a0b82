/**
 * Remote mode: the networks run on a model server (Triton / KServe v2 over HTTP or gRPC, or
 * TensorFlow Serving REST) and this process only does pre/post-processing. Each protocol is a
 * RemoteClient; createRemoteBackend() turns a client + model name into the same Backend the local
 * ONNX Runtime backend implements, so the stages never know where run() happens.
 *
 * Shared here: the datatype table, tensor ⇄ bytes, deadlines/cancellation, and the retry policy
 * (connection failures are retried with exponential backoff; server-reported errors never are).
 */
import { endianness } from 'node:os'
import type { RemoteProtocol, RemoteSettings } from '../config.js'
import { OcrError, isOcrError } from '../errors.js'
import { silentLogger, type Logger } from '../logger.js'
import { elementCount, type Backend, type Feeds, type RunOptions, type Tensor, type TensorType } from './backend.js'
import { KserveGrpcClient } from './kserve-grpc.js'
import { KserveHttpClient } from './kserve-http.js'
import { TfServingClient } from './tfserving.js'

export interface TensorMeta {
  name: string
  /** KServe datatype (FP32, INT64, ...). */
  datatype: string
  /** -1 for variable dimensions. */
  shape: number[]
}

export interface ModelMetadata {
  name: string
  versions?: string[]
  platform?: string
  inputs: TensorMeta[]
  outputs: TensorMeta[]
}

export interface RemoteClient {
  /** True when the server answers that it is ready; false when it is not or cannot be reached. */
  serverReady(signal?: AbortSignal): Promise<boolean>
  /** True when the model (remote.modelVersion, or the server's choice) is ready. */
  modelReady(model: string, signal?: AbortSignal): Promise<boolean>
  modelMetadata(model: string): Promise<ModelMetadata>
  /** One inference. Rejects with OcrError NOT_READY / TIMEOUT / CANCELLED / MODEL_ERROR. */
  infer(model: string, feeds: Feeds, outputNames: readonly string[], options?: RunOptions): Promise<Record<string, Tensor>>
  close(): Promise<void>
}

type ClientConstructor = (remote: RemoteSettings, logger: Logger) => RemoteClient

/** Protocol → client. Adding a protocol is one entry here (and one in REMOTE_PROTOCOLS). */
const CLIENTS: Record<RemoteProtocol, ClientConstructor> = {
  'kserve-http': (remote, logger) => new KserveHttpClient(remote, logger),
  'kserve-grpc': (remote, logger) => new KserveGrpcClient(remote, logger),
  tfserving: (remote, logger) => new TfServingClient(remote, logger),
}

export function createRemoteClient(remote: RemoteSettings, logger: Logger = silentLogger): RemoteClient {
  const make = CLIENTS[remote.protocol]
  if (!make) {
    throw new OcrError('INVALID_CONFIG', `unknown remote protocol "${String(remote.protocol)}"; valid: ${Object.keys(CLIENTS).join(', ')}`)
  }
  return make(remote, logger.child ? logger.child({ remote: remote.url, protocol: remote.protocol }) : logger)
}

export interface RemoteBackendOptions {
  /** dispose() also closes the client (when the backend is the client's only user). */
  closeClient?: boolean
}

/**
 * A Backend over one model of a model server. Reads the model's metadata once (input/output
 * names). Stages feed `{x: tensor}`; when the model has a single input under another name (a TF
 * SavedModel's signature, say) the single feed is passed under the model's own name.
 */
export async function createRemoteBackend(
  client: RemoteClient,
  model: string,
  remote: RemoteSettings,
  options: RemoteBackendOptions = {},
): Promise<Backend> {
  const meta = await client.modelMetadata(model)
  const inputNames = meta.inputs.map((t) => t.name)
  const outputNames = meta.outputs.map((t) => t.name)
  if (inputNames.length === 0 || outputNames.length === 0) {
    throw new OcrError('MODEL_ERROR', `model "${model}" on ${remote.url} reports no inputs or no outputs`)
  }
  let disposed = false
  return {
    inputNames,
    outputNames,
    concurrentRuns: remote.callsInFlight,
    run(feeds: Feeds, runOptions?: RunOptions): Promise<Record<string, Tensor>> {
      if (disposed) return Promise.reject(new OcrError('INTERNAL', 'backend used after dispose()'))
      return client.infer(model, matchFeedNames(feeds, inputNames), runOptions?.outputs ?? outputNames, runOptions)
    },
    async dispose(): Promise<void> {
      if (disposed) return
      disposed = true
      if (options.closeClient) await client.close()
    },
  }
}

/** A lone feed under another name goes to the model's lone input; anything else is passed as is. */
function matchFeedNames(feeds: Feeds, inputNames: readonly string[]): Feeds {
  const names = Object.keys(feeds)
  if (names.length === 1 && inputNames.length === 1 && names[0] !== inputNames[0]) {
    return { [inputNames[0]!]: feeds[names[0]!]! }
  }
  return feeds
}

/** Server ready and the det, cls and rec models ready. Never throws (unreachable = false). */
export async function remoteReady(client: RemoteClient, remote: RemoteSettings, signal?: AbortSignal): Promise<boolean> {
  try {
    if (!(await client.serverReady(signal))) return false
    const states = await Promise.all([remote.models.det, remote.models.cls, remote.models.rec].map((m) => client.modelReady(m, signal)))
    return states.every(Boolean)
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// Datatypes and tensor bytes

export interface DatatypeInfo {
  type: TensorType
  /** KServe v2 datatype name. */
  kserve: string
  /** TensorFlow DataType enum name. */
  tf: string
  /** Triton model-config data_type. */
  triton: string
  bytes: number
}

/** The tensor types ocrserve moves, under each protocol's name. */
export const DATATYPES: Record<TensorType, DatatypeInfo> = {
  float32: { type: 'float32', kserve: 'FP32', tf: 'DT_FLOAT', triton: 'TYPE_FP32', bytes: 4 },
  int64: { type: 'int64', kserve: 'INT64', tf: 'DT_INT64', triton: 'TYPE_INT64', bytes: 8 },
  int32: { type: 'int32', kserve: 'INT32', tf: 'DT_INT32', triton: 'TYPE_INT32', bytes: 4 },
  uint8: { type: 'uint8', kserve: 'UINT8', tf: 'DT_UINT8', triton: 'TYPE_UINT8', bytes: 1 },
}

const BY_KSERVE = new Map(Object.values(DATATYPES).map((d) => [d.kserve, d]))
const BY_TF = new Map(Object.values(DATATYPES).map((d) => [d.tf, d]))
const BY_TRITON = new Map(Object.values(DATATYPES).map((d) => [d.triton, d]))

const supported = (key: keyof DatatypeInfo): string => Object.values(DATATYPES).map((d) => d[key]).join(', ')

/** The datatype for a KServe name, or undefined when ocrserve does not move that type. */
export function fromKserveDatatype(name: string): DatatypeInfo | undefined {
  return BY_KSERVE.get(name)
}
export function fromTfDatatype(name: string): DatatypeInfo | undefined {
  return BY_TF.get(name)
}
export function fromTritonDatatype(name: string): DatatypeInfo | undefined {
  return BY_TRITON.get(name)
}
export const SUPPORTED_KSERVE_DATATYPES = supported('kserve')
export const SUPPORTED_TRITON_DATATYPES = supported('triton')

const LITTLE_ENDIAN_HOST = endianness() === 'LE'

type TypedArrayCtor = Float32ArrayConstructor | BigInt64ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor
const ARRAYS: Record<TensorType, TypedArrayCtor> = {
  float32: Float32Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
}

/** Element count for dims, rejecting negative or non-integer dimensions. */
export function checkedElementCount(dims: readonly number[], what: string): number {
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new OcrError('BAD_REQUEST', `${what}: invalid shape [${dims.join(', ')}]`)
  }
  return elementCount(dims)
}

/** The tensor's elements as little-endian bytes (a view when the host is little-endian). */
export function tensorToBytes(t: Tensor): Buffer {
  const view = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)
  if (LITTLE_ENDIAN_HOST) return view
  const size = DATATYPES[t.type].bytes
  const out = Buffer.from(view)
  if (size === 4) out.swap32()
  else if (size === 8) out.swap64()
  return out
}

/**
 * Buffers allocated for one received message alone (a body gathered for it, a tensor's aligned
 * copy). A tensor over one may be handed to another thread by transfer instead of copy (the model
 * server's pool does), once; any other buffer (a view into a gRPC message, whose memory Node may
 * share between buffers; a caller's array) must be copied first.
 */
const exclusiveBuffers = new WeakSet<ArrayBuffer>()

export function markExclusive(buffer: ArrayBuffer): void {
  exclusiveBuffers.add(buffer)
}

/** True (once) if nothing but the tensors over `buffer` will read it: it may be transferred. */
export function takeExclusive(buffer: ArrayBufferLike): buffer is ArrayBuffer {
  if (!(buffer instanceof ArrayBuffer) || !exclusiveBuffers.has(buffer)) return false
  exclusiveBuffers.delete(buffer)
  return true
}

/**
 * A tensor over little-endian bytes. The byte length must match dims × element size. Reuses the
 * memory when it is suitably aligned, copies otherwise (into a buffer of its own: markExclusive).
 */
export function tensorFromBytes(type: TensorType, dims: number[], bytes: Uint8Array, what: string): Tensor {
  const size = DATATYPES[type].bytes
  const count = checkedElementCount(dims, what)
  if (bytes.byteLength !== count * size) {
    throw new OcrError('BAD_REQUEST', `${what}: ${bytes.byteLength} bytes of data for shape [${dims.join(', ')}] ${DATATYPES[type].kserve} (expected ${count * size})`)
  }
  const Ctor = ARRAYS[type]
  let src = bytes
  if (!LITTLE_ENDIAN_HOST && size > 1) {
    const copy = Buffer.from(bytes)
    if (size === 4) copy.swap32()
    else copy.swap64()
    src = copy
  }
  if (src.byteOffset % size === 0) {
    return { type, dims, data: new Ctor(src.buffer as ArrayBuffer, src.byteOffset, count) }
  }
  const aligned = new Uint8Array(count * size)
  aligned.set(src)
  markExclusive(aligned.buffer)
  return { type, dims, data: new Ctor(aligned.buffer, 0, count) }
}

/** A tensor from plain JSON numbers (KServe JSON data, TF Serving lists). */
export function tensorFromValues(type: TensorType, dims: number[], values: ArrayLike<unknown>, what: string): Tensor {
  const count = checkedElementCount(dims, what)
  if (values.length !== count) {
    throw new OcrError('BAD_REQUEST', `${what}: ${values.length} values for shape [${dims.join(', ')}] (expected ${count})`)
  }
  if (type === 'int64') {
    const data = new BigInt64Array(count)
    for (let i = 0; i < count; i++) {
      const v = values[i]
      if (typeof v === 'bigint') data[i] = v
      else if (typeof v === 'number' && Number.isInteger(v)) data[i] = BigInt(v)
      else if (typeof v === 'string' && /^-?\d+$/.test(v)) data[i] = BigInt(v)
      else throw new OcrError('BAD_REQUEST', `${what}: element ${i} is not an integer`)
    }
    return { type, dims, data }
  }
  const Ctor = ARRAYS[type] as Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor
  const data = new Ctor(count)
  const integral = type !== 'float32'
  for (let i = 0; i < count; i++) {
    const raw = values[i]
    const v = typeof raw === 'boolean' ? Number(raw) : raw
    if (typeof v !== 'number' || (integral && !Number.isInteger(v))) {
      throw new OcrError('BAD_REQUEST', `${what}: element ${i} is not ${integral ? 'an integer' : 'a number'}`)
    }
    data[i] = v
  }
  return { type, dims, data }
}

/** The elements as JSON-safe numbers (int64 beyond 2^53 loses precision, as in any JSON client). */
export function tensorValues(t: Tensor): number[] {
  const out = new Array<number>(t.data.length)
  const d = t.data
  for (let i = 0; i < d.length; i++) out[i] = Number(d[i])
  return out
}

/**
 * Flattens a (possibly nested) JSON array into its elements and its shape, checking that it is
 * rectangular. A scalar has shape [].
 */
export function flattenNested(value: unknown, what: string): { values: unknown[]; shape: number[] } {
  const shape: number[] = []
  let probe: unknown = value
  while (Array.isArray(probe)) {
    shape.push(probe.length)
    if (probe.length === 0) break
    probe = probe[0]
  }
  const values: unknown[] = []
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new OcrError('BAD_REQUEST', `${what}: ragged nested list`)
      values.push(v)
      return
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw new OcrError('BAD_REQUEST', `${what}: ragged nested list`)
    for (const x of v) walk(x, depth + 1)
  }
  walk(value, 0)
  return { values, shape }
}

// ---------------------------------------------------------------------------------------------
// Transport failures, deadlines, retries

/** A failure to reach the server (refused, reset, DNS, socket closed): retried, then NOT_READY. */
export class ConnectionFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConnectionFailure'
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
])

/** Walks an error and its causes for a socket/DNS failure code. */
export function connectionErrorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 6; depth++) {
    const code = (cur as { code?: unknown }).code
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return code
    const errors = (cur as { errors?: unknown }).errors
    if (Array.isArray(errors)) {
      for (const inner of errors) {
        const c = connectionErrorCode(inner)
        if (c) return c
      }
    }
    cur = (cur as { cause?: unknown }).cause
  }
  return undefined
}

/** Health probes answer fast or count as "not ready": their deadline is capped at this. */
export const PROBE_TIMEOUT_MAX_MS = 5000

export function probeTimeoutMs(remote: RemoteSettings): number {
  return Math.min(remote.timeoutMs, PROBE_TIMEOUT_MAX_MS)
}

/** A deadline for one call, combined with the caller's signal. */
export class CallScope {
  readonly signal: AbortSignal
  readonly #deadline: AbortController
  readonly #timer: NodeJS.Timeout
  readonly #caller: AbortSignal | undefined
  readonly deadlineAt: number

  constructor(timeoutMs: number, caller?: AbortSignal) {
    this.#deadline = new AbortController()
    this.deadlineAt = Date.now() + timeoutMs
    this.#timer = setTimeout(() => this.#deadline.abort(new OcrError('TIMEOUT', `model server did not answer within ${timeoutMs} ms`)), timeoutMs)
    this.#timer.unref?.()
    this.#caller = caller
    this.signal = caller ? AbortSignal.any([caller, this.#deadline.signal]) : this.#deadline.signal
  }

  /** The error to report once `signal` has fired (CANCELLED for the caller, TIMEOUT for the deadline). */
  abortError(what: string): OcrError {
    if (this.#caller?.aborted) return new OcrError('CANCELLED', `${what}: cancelled`, { cause: this.#caller.reason })
    return new OcrError('TIMEOUT', `${what}: no answer from the model server within the deadline (OCR_REMOTE_TIMEOUT_MS)`)
  }

  /** Throws CANCELLED/TIMEOUT when the scope has already fired. */
  throwIfAborted(what: string): void {
    if (this.signal.aborted) throw this.abortError(what)
  }

  dispose(): void {
    clearTimeout(this.#timer)
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clearTimeout(t)
      reject(signal.reason)
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Runs `attempt` under one deadline (remote.timeoutMs) and the caller's signal. ConnectionFailure
 * is retried remote.retries times with exponential backoff, then reported as NOT_READY (503,
 * Retry-After 1). Any other error (server-reported, deadline, cancel) is final.
 */
export async function callWithRetries<T>(
  what: string,
  remote: RemoteSettings,
  logger: Logger,
  caller: AbortSignal | undefined,
  attempt: (signal: AbortSignal, scope: CallScope) => Promise<T>,
): Promise<T> {
  const scope = new CallScope(remote.timeoutMs, caller)
  try {
    for (let n = 0; ; n++) {
      scope.throwIfAborted(what)
      try {
        return await attempt(scope.signal, scope)
      } catch (err) {
        if (scope.signal.aborted && !isOcrError(err)) throw scope.abortError(what)
        if (!(err instanceof ConnectionFailure)) throw err
        if (n >= remote.retries) {
          throw new OcrError('NOT_READY', `${what}: model server ${remote.url} unreachable: ${err.message}`, { cause: err, retryAfterSec: 1 })
        }
        const delay = remote.retryBackoffMs * 2 ** n
        logger.debug({ what, attempt: n + 1, delayMs: delay, err: err.message }, 'model server unreachable; retrying')
        try {
          await sleep(delay, scope.signal)
        } catch {
          throw scope.abortError(what)
        }
      }
    }
  } finally {
    scope.dispose()
  }
}

/** Short text of a server's error body: its JSON `error` field, or the (truncated) body. */
export function serverErrorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown
    if (parsed && typeof parsed === 'object' && typeof (parsed as { error?: unknown }).error === 'string') {
      return (parsed as { error: string }).error
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = body.trim()
  return text.length > 500 ? `${text.slice(0, 500)}…` : text || '(empty body)'
}

/** `http://host:port` without a trailing slash; a bare `host:port` gets `http://`. */
export function normalizeHttpBase(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`
  let parsed: URL
  try {
    parsed = new URL(withScheme)
  } catch {
    throw new OcrError('INVALID_CONFIG', `invalid remote URL "${url}"`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new OcrError('INVALID_CONFIG', `invalid remote URL "${url}": the scheme must be http or https`)
  }
  return withScheme.replace(/\/+$/, '')
}
