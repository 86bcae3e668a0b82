/**
 * KServe v2 over gRPC (`inference.GRPCInferenceService`, Triton's port 8001), with @grpc/grpc-js
 * and the service definition in proto/grpc_service.proto. Tensors travel as raw little-endian
 * bytes in `raw_input_contents` / `raw_output_contents`; the message size limits are raised
 * (grpc's 4 MiB default is smaller than one 960×960 detection tensor); every call has a deadline.
 *
 * The message types and tensor conversions are shared with the built-in model server.
 */
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import type { RemoteSettings } from '../config.js'
import { OcrError, isOcrError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Feeds, RunOptions, Tensor } from './backend.js'
import {
  CallScope,
  ConnectionFailure,
  DATATYPES,
  SUPPORTED_KSERVE_DATATYPES,
  callWithRetries,
  fromKserveDatatype,
  probeTimeoutMs,
  tensorFromBytes,
  tensorFromValues,
  tensorToBytes,
  type ModelMetadata,
  type RemoteClient,
} from './remote.js'

/** Largest message either side accepts (requests carry whole detection tensors). */
export const GRPC_MAX_MESSAGE_BYTES = 256 * 1024 * 1024

export const PROTO_PATH = fileURLToPath(new URL('../../proto/grpc_service.proto', import.meta.url))

// ---- message shapes (proto-loader with keepCase, longs as Number, defaults)

export interface GrpcInferParameter {
  bool_param?: boolean
  int64_param?: number
  string_param?: string
  double_param?: number
  uint64_param?: number
  parameter_choice?: string
}

export interface GrpcTensorContents {
  bool_contents?: boolean[]
  int_contents?: number[]
  int64_contents?: number[]
  uint_contents?: number[]
  uint64_contents?: number[]
  fp32_contents?: number[]
  fp64_contents?: number[]
  bytes_contents?: Buffer[]
}

export interface GrpcTensor {
  name: string
  datatype: string
  shape: number[]
  parameters?: Record<string, GrpcInferParameter>
  contents?: GrpcTensorContents | null
}

export interface GrpcInferRequest {
  model_name: string
  model_version?: string
  id?: string
  parameters?: Record<string, GrpcInferParameter>
  inputs: GrpcTensor[]
  outputs?: Array<{ name: string; parameters?: Record<string, GrpcInferParameter> }>
  raw_input_contents?: Buffer[]
}

export interface GrpcInferResponse {
  model_name: string
  model_version?: string
  id?: string
  parameters?: Record<string, GrpcInferParameter>
  outputs: GrpcTensor[]
  raw_output_contents?: Buffer[]
}

export interface GrpcTensorMetadata {
  name: string
  datatype: string
  shape: number[]
}

export interface GrpcModelMetadataResponse {
  name: string
  versions: string[]
  platform: string
  inputs: GrpcTensorMetadata[]
  outputs: GrpcTensorMetadata[]
}

type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: Res) => void,
) => grpc.ClientUnaryCall

interface InferenceStub extends grpc.Client {
  ServerLive: Unary<Record<string, never>, { live: boolean }>
  ServerReady: Unary<Record<string, never>, { ready: boolean }>
  ModelReady: Unary<{ name: string; version: string }, { ready: boolean }>
  ServerMetadata: Unary<Record<string, never>, { name: string; version: string; extensions: string[] }>
  ModelMetadata: Unary<{ name: string; version: string }, GrpcModelMetadataResponse>
  ModelInfer: Unary<GrpcInferRequest, GrpcInferResponse>
}

let serviceCache: grpc.ServiceClientConstructor | undefined

/** The GRPCInferenceService client constructor (and `.service` definition for servers), loaded once. */
export function loadInferenceService(): grpc.ServiceClientConstructor {
  if (serviceCache) return serviceCache
  const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true })
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } }
  serviceCache = pkg.inference.GRPCInferenceService
  return serviceCache
}

/** Channel options shared by client and server: big messages, fast reconnection after a restart. */
export const GRPC_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': GRPC_MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': GRPC_MAX_MESSAGE_BYTES,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  // the client's HTTP/2 receive window (the 64 KB default stalls a detector's 2.5 MB output on
  // window updates; bench/remote-calls.ts: +55 → +28 ms per detector call one at a time, medians of
  // 3 and 4 runs; under load at c=4 (bench/remote-ab.ts) CPU per request did not change)
  'grpc-node.flow_control_window': 16 << 20,
}

// ---- tensor conversions

/** Which typed `contents` field carries each datatype. */
const CONTENTS_FIELD: Record<string, keyof GrpcTensorContents> = {
  FP32: 'fp32_contents',
  INT64: 'int64_contents',
  INT32: 'int_contents',
  UINT8: 'uint_contents',
}

/** Tensors from gRPC entries: raw contents (one per entry, in order) or typed `contents`. */
export function tensorsFromGrpc(entries: readonly GrpcTensor[], raw: readonly Uint8Array[] | undefined, kind: 'input' | 'output'): Array<{ name: string; tensor: Tensor }> {
  const useRaw = !!raw && raw.length > 0
  if (useRaw && raw.length !== entries.length) {
    throw new OcrError('BAD_REQUEST', `raw_${kind}_contents has ${raw.length} entries for ${entries.length} ${kind}s`)
  }
  return entries.map((e, i) => {
    const what = `${kind} "${e.name}"`
    if (!e.name) throw new OcrError('BAD_REQUEST', `${kind} ${i}: missing name`)
    const dt = fromKserveDatatype(e.datatype)
    if (!dt) throw new OcrError('BAD_REQUEST', `${what}: datatype ${e.datatype || '(empty)'} is not supported (supported: ${SUPPORTED_KSERVE_DATATYPES})`)
    const shape = e.shape.map(Number)
    if (useRaw) return { name: e.name, tensor: tensorFromBytes(dt.type, shape, raw[i]!, what) }
    const values = e.contents?.[CONTENTS_FIELD[dt.kserve]!]
    if (!values) throw new OcrError('BAD_REQUEST', `${what}: no raw contents and no ${CONTENTS_FIELD[dt.kserve]}`)
    return { name: e.name, tensor: tensorFromValues(dt.type, shape, values as ArrayLike<unknown>, what) }
  })
}

/** Tensors as gRPC entries plus their raw bytes. */
export function tensorsToGrpc(named: ReadonlyArray<{ name: string; tensor: Tensor }>): { entries: GrpcTensor[]; raw: Buffer[] } {
  const entries: GrpcTensor[] = []
  const raw: Buffer[] = []
  for (const { name, tensor } of named) {
    entries.push({ name, datatype: DATATYPES[tensor.type].kserve, shape: [...tensor.dims] })
    raw.push(tensorToBytes(tensor))
  }
  return { entries, raw }
}

/** `host:port` and credentials from OCR_REMOTE_URL (`triton:8001`, `grpc://…`, `grpcs://…`, `http(s)://…`). */
export function grpcTarget(url: string): { target: string; secure: boolean } {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url.trim())
  const scheme = m ? m[1]!.toLowerCase() : ''
  const rest = (m ? m[2]! : url.trim()).replace(/\/+$/, '')
  if (m && !['grpc', 'grpcs', 'http', 'https'].includes(scheme)) {
    throw new OcrError('INVALID_CONFIG', `invalid remote URL "${url}" for kserve-grpc: use host:port, grpc://host:port or grpcs://host:port`)
  }
  if (!rest || rest.includes('/')) throw new OcrError('INVALID_CONFIG', `invalid remote URL "${url}" for kserve-grpc: expected host:port`)
  return { target: rest, secure: scheme === 'grpcs' || scheme === 'https' }
}

export class KserveGrpcClient implements RemoteClient {
  readonly #remote: RemoteSettings
  readonly #logger: Logger
  readonly #stub: InferenceStub

  constructor(remote: RemoteSettings, logger: Logger) {
    this.#remote = remote
    this.#logger = logger
    const { target, secure } = grpcTarget(remote.url)
    const Service = loadInferenceService()
    const credentials = secure ? grpc.credentials.createSsl() : grpc.credentials.createInsecure()
    this.#stub = new Service(target, credentials, GRPC_CHANNEL_OPTIONS) as unknown as InferenceStub
  }

  /** One unary call under the scope's deadline, cancelled when the scope's signal fires. */
  #call<Req, Res>(method: Unary<Req, Res>, request: Req, scope: CallScope, what: string): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const signal = scope.signal
      if (signal.aborted) return reject(scope.abortError(what))
      const onAbort = (): void => call.cancel()
      const call = method.call(this.#stub, request, new grpc.Metadata(), { deadline: scope.deadlineAt }, (err, response) => {
        signal.removeEventListener('abort', onAbort)
        if (err) return reject(this.#mapError(err, scope, what))
        if (!response) return reject(new OcrError('MODEL_ERROR', `${what}: empty gRPC answer`))
        resolve(response)
      })
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  #mapError(err: grpc.ServiceError, scope: CallScope, what: string): Error {
    if (scope.signal.aborted) return scope.abortError(what)
    switch (err.code) {
      case grpc.status.UNAVAILABLE:
        return new ConnectionFailure(`gRPC UNAVAILABLE: ${err.details}`, { cause: err })
      case grpc.status.DEADLINE_EXCEEDED:
        return new OcrError('TIMEOUT', `${what}: gRPC deadline exceeded (OCR_REMOTE_TIMEOUT_MS)`, { cause: err })
      default:
        return new OcrError('MODEL_ERROR', `${what}: model server answered gRPC ${grpc.status[err.code] ?? err.code}: ${err.details}`, { cause: err })
    }
  }

  async #probe(what: string, run: (scope: CallScope) => Promise<boolean>, caller?: AbortSignal): Promise<boolean> {
    const scope = new CallScope(probeTimeoutMs(this.#remote), caller)
    try {
      return await run(scope)
    } catch (err) {
      if (caller?.aborted) throw scope.abortError(what)
      this.#logger.debug({ what, err: (err as Error).message }, 'model server health probe failed')
      return false
    } finally {
      scope.dispose()
    }
  }

  serverReady(signal?: AbortSignal): Promise<boolean> {
    return this.#probe('ServerReady', async (scope) => (await this.#call(this.#stub.ServerReady, {}, scope, 'ServerReady')).ready === true, signal)
  }

  modelReady(model: string, signal?: AbortSignal): Promise<boolean> {
    const req = { name: model, version: this.#remote.modelVersion }
    return this.#probe('ModelReady', async (scope) => (await this.#call(this.#stub.ModelReady, req, scope, 'ModelReady')).ready === true, signal)
  }

  modelMetadata(model: string): Promise<ModelMetadata> {
    const what = `metadata of model "${model}"`
    return callWithRetries(what, this.#remote, this.#logger, undefined, async (_signal, scope) => {
      const res = await this.#call(this.#stub.ModelMetadata, { name: model, version: this.#remote.modelVersion }, scope, what)
      const meta = (t: GrpcTensorMetadata): { name: string; datatype: string; shape: number[] } => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) })
      return {
        name: res.name || model,
        versions: res.versions,
        ...(res.platform ? { platform: res.platform } : {}),
        inputs: res.inputs.map(meta),
        outputs: res.outputs.map(meta),
      }
    })
  }

  infer(model: string, feeds: Feeds, outputNames: readonly string[], options?: RunOptions): Promise<Record<string, Tensor>> {
    const what = `inference on model "${model}"`
    const { entries, raw } = tensorsToGrpc(Object.entries(feeds).map(([name, tensor]) => ({ name, tensor })))
    const request: GrpcInferRequest = {
      model_name: model,
      model_version: this.#remote.modelVersion,
      inputs: entries,
      outputs: outputNames.map((name) => ({ name })),
      raw_input_contents: raw,
    }
    return callWithRetries(what, this.#remote, this.#logger, options?.signal, async (_signal, scope) => {
      const res = await this.#call(this.#stub.ModelInfer, request, scope, what)
      const result: Record<string, Tensor> = {}
      try {
        for (const o of tensorsFromGrpc(res.outputs, res.raw_output_contents, 'output')) result[o.name] = o.tensor
      } catch (err) {
        throw new OcrError('MODEL_ERROR', `${what}: malformed answer: ${isOcrError(err) ? err.message : String(err)}`, { cause: err })
      }
      for (const name of outputNames) {
        if (!result[name]) throw new OcrError('MODEL_ERROR', `${what}: the answer lacks output "${name}"`)
      }
      return result
    })
  }

  async close(): Promise<void> {
    this.#stub.close()
  }
}
