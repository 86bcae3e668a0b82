/**
 * KServe v2 / Open Inference Protocol over HTTP: the JSON messages, and Triton's binary tensor data
 * extension, in which a body is the JSON message followed by each tensor's raw little-endian bytes,
 * `Inference-Header-Content-Length` gives the JSON's length, tensors sent as bytes carry
 * `parameters.binary_data_size` and outputs wanted as bytes `parameters.binary_data: true`.
 * Both directions: the client encodes requests and decodes responses, the model server decodes
 * requests and encodes responses.
 */
import { OcrError } from '../errors.js'
import type { Feeds, Tensor } from '../inference/backend.js'
import { DATATYPES, SUPPORTED_KSERVE_DATATYPES, fromKserveDatatype } from './datatypes.js'
import type { ModelMetadata, TensorMeta } from './metadata.js'
import { isRecord } from './rest.js'
import { flattenNested, markExclusive, tensorFromBytes, tensorFromValues, tensorToBytes, tensorValues } from './tensors.js'

/** Header giving the length of the JSON part of a body with binary tensor data (lower-case). */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length'

/** The extension this codec speaks, as the server metadata lists it. */
export const BINARY_TENSOR_EXTENSION = 'binary_tensor_data'

export type KserveParameters = Record<string, string | number | boolean>

/** $request_input / $response_output of the v2 protocol. */
export interface KserveTensorJson {
  name: string
  shape: number[]
  datatype: string
  parameters?: KserveParameters
  data?: unknown
}

/** $request_output. */
export interface KserveRequestedOutputJson {
  name: string
  parameters?: KserveParameters
}

export interface KserveInferRequestJson {
  id?: string
  parameters?: KserveParameters
  inputs: KserveTensorJson[]
  outputs?: KserveRequestedOutputJson[]
}

export interface KserveInferResponseJson {
  model_name?: string
  model_version?: string
  id?: string
  parameters?: KserveParameters
  outputs: KserveTensorJson[]
}

export interface NamedTensor {
  name: string
  tensor: Tensor
}

/** A message ready to send: its parts in order (written one after the other), headers, length. */
export interface EncodedMessage {
  parts: Uint8Array[]
  headers: Record<string, string>
  byteLength: number
}

/**
 * JSON header + binary sections, in order, as the parts to write one after the other: the tensors'
 * bytes are not copied into one body (a detection tensor is 5-30 MB, and every copy is garbage).
 */
export function encodeBinaryParts(header: unknown, chunks: readonly Uint8Array[]): { parts: Uint8Array[]; headerLength: number; byteLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8')
  const parts = [json, ...chunks]
  return { parts, headerLength: json.length, byteLength: parts.reduce((n, p) => n + p.byteLength, 0) }
}

/** JSON header + binary sections, in order, as one body. */
export function encodeBinaryMessage(header: unknown, chunks: readonly Uint8Array[]): { body: Buffer; headerLength: number } {
  const { parts, headerLength } = encodeBinaryParts(header, chunks)
  return { body: Buffer.concat(parts), headerLength }
}

/** A message as plain JSON when no tensor travels as bytes, else as JSON + binary sections. */
function encodeMessage(json: unknown, chunks: readonly Uint8Array[], binary: boolean): EncodedMessage {
  if (!binary) {
    const text = Buffer.from(JSON.stringify(json), 'utf8')
    return { parts: [text], headers: { 'content-type': 'application/json' }, byteLength: text.length }
  }
  const { parts, headerLength, byteLength } = encodeBinaryParts(json, chunks)
  return { parts, headers: { 'content-type': 'application/octet-stream', [INFERENCE_HEADER_CONTENT_LENGTH]: String(headerLength) }, byteLength }
}

/** An Inference-Header-Content-Length value as a byte count; undefined when absent or not digits. */
function parseHeaderLength(value: string | null | undefined): number | undefined {
  const v = value?.trim()
  return v && /^\d+$/.test(v) ? Number(v) : undefined
}

/** Alignment of the binary section in bodies read by gatherBody (the widest element: int64). */
const BINARY_ALIGN = 8

/**
 * The received `chunks` as one body, laid out so that byte `headerLength` (where the binary
 * section starts) sits at an 8-byte-aligned address: tensors read from it are then views, not
 * copies (tensorFromBytes copies only misaligned data). One copy of the bytes in all.
 */
export function gatherBody(chunks: readonly Buffer[], total: number, headerLength: string | string[] | null | undefined): Buffer {
  // a missing or malformed length aligns nothing here; splitBinaryMessage rejects it later
  const n = parseHeaderLength(Array.isArray(headerLength) ? headerLength[0] : headerLength) ?? 0
  const pad = n <= total ? (BINARY_ALIGN - (n % BINARY_ALIGN)) % BINARY_ALIGN : 0
  const buffer = new ArrayBuffer(total + pad)
  markExclusive(buffer)
  const body = Buffer.from(buffer, pad, total)
  let at = 0
  for (const c of chunks) {
    body.set(c, at)
    at += c.length
  }
  return body
}

/**
 * Splits a body into its JSON object and the binary section after it. Without a header length the
 * whole body is JSON. Malformed input throws BAD_REQUEST.
 */
export function splitBinaryMessage(body: Buffer, headerLength: string | number | null | undefined): { json: Record<string, unknown>; binary: Buffer } {
  let jsonEnd = body.length
  if (headerLength !== undefined && headerLength !== null && headerLength !== '') {
    const n = typeof headerLength === 'number' ? headerLength : (parseHeaderLength(headerLength) ?? NaN)
    if (!Number.isSafeInteger(n) || n < 0 || n > body.length) {
      throw new OcrError('BAD_REQUEST', `Inference-Header-Content-Length ${String(headerLength)} is invalid for a ${body.length}-byte body`)
    }
    jsonEnd = n
  }
  let json: unknown
  try {
    json = JSON.parse(body.subarray(0, jsonEnd).toString('utf8'))
  } catch (err) {
    throw new OcrError('BAD_REQUEST', `malformed JSON: ${(err as Error).message}`)
  }
  if (!isRecord(json)) throw new OcrError('BAD_REQUEST', 'the JSON body must be an object')
  return { json, binary: body.subarray(jsonEnd) }
}

function checkShape(shape: unknown, what: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new OcrError('BAD_REQUEST', `${what}: "shape" must be an array of non-negative integers`)
  }
  return shape as number[]
}

/**
 * Reads tensors described by v2 JSON entries: from the binary section (entries with
 * `binary_data_size`, consumed in order) or from their `data` arrays (flat or nested). The binary
 * section must be consumed exactly.
 */
export function readTensors(entries: unknown, binary: Buffer, kind: 'input' | 'output'): NamedTensor[] {
  if (!Array.isArray(entries)) throw new OcrError('BAD_REQUEST', `"${kind}s" must be an array`)
  const out: NamedTensor[] = []
  let offset = 0
  for (const [i, e] of entries.entries()) {
    if (!isRecord(e) || typeof e.name !== 'string' || !e.name) throw new OcrError('BAD_REQUEST', `${kind} ${i}: "name" must be a non-empty string`)
    const what = `${kind} "${e.name}"`
    const shape = checkShape(e.shape, what)
    if (typeof e.datatype !== 'string') throw new OcrError('BAD_REQUEST', `${what}: "datatype" must be a string`)
    const dt = fromKserveDatatype(e.datatype)
    if (!dt) throw new OcrError('BAD_REQUEST', `${what}: datatype ${e.datatype} is not supported (supported: ${SUPPORTED_KSERVE_DATATYPES})`)
    const params = e.parameters
    if (params !== undefined && !isRecord(params)) throw new OcrError('BAD_REQUEST', `${what}: "parameters" must be an object`)
    const size = params?.binary_data_size
    let tensor: Tensor
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw new OcrError('BAD_REQUEST', `${what}: binary_data_size must be a non-negative integer`)
      }
      if (offset + size > binary.length) {
        throw new OcrError('BAD_REQUEST', `${what}: binary_data_size ${size} runs past the end of the binary data (${binary.length - offset} bytes left)`)
      }
      tensor = tensorFromBytes(dt.type, shape, binary.subarray(offset, offset + size), what)
      offset += size
    } else if (e.data !== undefined) {
      tensor = tensorFromValues(dt.type, shape, flattenNested(e.data, what).values, what)
    } else {
      throw new OcrError('BAD_REQUEST', `${what}: neither "data" nor parameters.binary_data_size is given`)
    }
    out.push({ name: e.name, tensor })
  }
  if (offset !== binary.length) {
    throw new OcrError('BAD_REQUEST', `${binary.length - offset} bytes of binary data are not claimed by any ${kind}'s binary_data_size`)
  }
  return out
}

/** One tensor as a v2 JSON entry, with its bytes in the binary section or its values in `data`. */
export function tensorEntry(name: string, t: Tensor, binary: boolean): { entry: KserveTensorJson; chunk?: Buffer } {
  const base = { name, shape: [...t.dims], datatype: DATATYPES[t.type].kserve }
  if (binary) {
    const chunk = tensorToBytes(t)
    return { entry: { ...base, parameters: { binary_data_size: chunk.length } }, chunk }
  }
  return { entry: { ...base, data: tensorValues(t) } }
}

/** Tensors as v2 JSON entries and the binary sections of those sent as bytes, in order. */
function tensorEntries(named: ReadonlyArray<NamedTensor & { binary: boolean }>): { entries: KserveTensorJson[]; chunks: Buffer[] } {
  const entries: KserveTensorJson[] = []
  const chunks: Buffer[] = []
  for (const { name, tensor, binary } of named) {
    const { entry, chunk } = tensorEntry(name, tensor, binary)
    entries.push(entry)
    if (chunk) chunks.push(chunk)
  }
  return { entries, chunks }
}

// ---------------------------------------------------------------------------------------------
// Client side: request out, response in

/** An inference request body (binary extension or plain JSON) and its headers. */
export function encodeInferRequest(feeds: Feeds, outputNames: readonly string[], binary: boolean, id?: string): EncodedMessage {
  const { entries, chunks } = tensorEntries(Object.entries(feeds).map(([name, tensor]) => ({ name, tensor, binary })))
  const request: KserveInferRequestJson = {
    ...(id ? { id } : {}),
    inputs: entries,
    outputs: outputNames.map((name) => (binary ? { name, parameters: { binary_data: true } } : { name })),
  }
  return encodeMessage(request, chunks, binary)
}

/** Output tensors from an inference response body. */
export function decodeInferResponse(body: Buffer, headerLength: string | null | undefined): Record<string, Tensor> {
  const { json, binary } = splitBinaryMessage(body, headerLength)
  const outputs = readTensors(json.outputs, binary, 'output')
  const result: Record<string, Tensor> = {}
  for (const o of outputs) result[o.name] = o.tensor
  return result
}

/** Validates a v2 model metadata object. */
export function parseModelMetadata(json: unknown, model: string): ModelMetadata {
  const bad = (why: string): OcrError => new OcrError('MODEL_ERROR', `model "${model}": malformed metadata: ${why}`)
  if (!isRecord(json)) throw bad('not an object')
  const tensors = (v: unknown, key: string): TensorMeta[] => {
    if (!Array.isArray(v)) throw bad(`"${key}" is not an array`)
    return v.map((t, i) => {
      if (!isRecord(t) || typeof t.name !== 'string' || typeof t.datatype !== 'string' || !Array.isArray(t.shape)) {
        throw bad(`${key}[${i}] needs name, datatype and shape`)
      }
      return { name: t.name, datatype: t.datatype, shape: t.shape.map(Number) }
    })
  }
  return {
    name: typeof json.name === 'string' ? json.name : model,
    ...(Array.isArray(json.versions) ? { versions: json.versions.map(String) } : {}),
    ...(typeof json.platform === 'string' ? { platform: json.platform } : {}),
    inputs: tensors(json.inputs, 'inputs'),
    outputs: tensors(json.outputs, 'outputs'),
  }
}

// ---------------------------------------------------------------------------------------------
// Server side: request in, response out

export interface InferRequest {
  id?: string
  inputs: NamedTensor[]
  /** The outputs asked for, in order, and whether each goes back as bytes; absent = all outputs. */
  outputs?: Array<{ name: string; binary: boolean }>
  /** How outputs not named in `outputs` go back: `parameters.binary_data_output`. */
  binaryOutputs: boolean
}

/** An inference request body (binary extension or plain JSON). Malformed input throws BAD_REQUEST. */
export function decodeInferRequest(body: Buffer, headerLength: string | string[] | undefined): InferRequest {
  const { json, binary } = splitBinaryMessage(body, Array.isArray(headerLength) ? headerLength[0] : headerLength)
  const inputs = readTensors(json.inputs, binary, 'input')
  const binaryOutputs = isRecord(json.parameters) && json.parameters.binary_data_output === true
  let outputs: InferRequest['outputs']
  if (json.outputs !== undefined) {
    if (!Array.isArray(json.outputs)) throw new OcrError('BAD_REQUEST', '"outputs" must be an array')
    outputs = json.outputs.map((o, i) => {
      if (!isRecord(o) || typeof o.name !== 'string') throw new OcrError('BAD_REQUEST', `outputs[${i}]: "name" must be a string`)
      const p = o.parameters
      return { name: o.name, binary: isRecord(p) && typeof p.binary_data === 'boolean' ? p.binary_data : binaryOutputs }
    })
  }
  return { ...(typeof json.id === 'string' ? { id: json.id } : {}), inputs, ...(outputs ? { outputs } : {}), binaryOutputs }
}

/**
 * An inference response: `outputs` are the request's (its `outputs` order when it named them),
 * each as bytes or JSON as the request asked; plain JSON when none goes as bytes.
 */
export function encodeInferResponse(
  request: InferRequest,
  answer: { model: string; version: string; outputs: readonly NamedTensor[] },
): EncodedMessage {
  const { entries, chunks } = tensorEntries(answer.outputs.map((o, i) => ({ ...o, binary: request.outputs ? request.outputs[i]!.binary : request.binaryOutputs })))
  const json: KserveInferResponseJson = {
    model_name: answer.model,
    model_version: answer.version,
    ...(request.id !== undefined ? { id: request.id } : {}),
    outputs: entries,
  }
  return encodeMessage(json, chunks, chunks.length > 0)
}
