/**
 * KServe v2 over gRPC (`inference.GRPCInferenceService`, Triton's port 8001): the service
 * definition in proto/grpc_service.proto loaded once for client and server, the message shapes,
 * the channel options both sides use, and tensors ⇄ entries with raw little-endian contents
 * (`raw_input_contents` / `raw_output_contents`) or typed `contents`.
 */
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { OcrError } from '../errors.js'
import type { Tensor } from '../inference/backend.js'
import { DATATYPES, SUPPORTED_KSERVE_DATATYPES, fromKserveDatatype } from './datatypes.js'
import { tensorFromBytes, tensorFromValues, tensorToBytes } from './tensors.js'

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

/** ModelReadyRequest and ModelMetadataRequest. */
export interface GrpcModelRequest {
  name: string
  version: string
}

export interface GrpcServerMetadataResponse {
  name: string
  version: string
  extensions: string[]
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

/** HTTP/2 receive window of both sides (stream and connection), instead of the 64 KB default. */
export const GRPC_RECEIVE_WINDOW_BYTES = 16 << 20

/** Channel options shared by client and server: big messages, fast reconnection after a restart. */
export const GRPC_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': GRPC_MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': GRPC_MAX_MESSAGE_BYTES,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  // the client's HTTP/2 receive window (the 64 KB default stalls a detector's 2.5 MB output on
  // window updates; bench/remote-calls.ts: +55 → +28 ms per detector call one at a time, medians of
  // 3 and 4 runs; under load at c=4 (bench/remote-ab.ts) CPU per request did not change)
  'grpc-node.flow_control_window': GRPC_RECEIVE_WINDOW_BYTES,
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
