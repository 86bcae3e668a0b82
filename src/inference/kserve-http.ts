/**
 * KServe v2 / Open Inference Protocol over HTTP (Triton, KServe, OpenVINO Model Server, MLServer).
 *
 * Tensors travel with Triton's binary tensor data extension: the body is the JSON request followed
 * by each tensor's raw little-endian bytes, `Inference-Header-Content-Length` gives the JSON's
 * length, inputs carry `parameters.binary_data_size` and requested outputs
 * `parameters.binary_data: true`. JSON number arrays (remote.binary = false) remain as a fallback
 * for servers without the extension.
 *
 * The codec functions are shared with the built-in model server (src/model-server).
 */
import http from 'node:http'
import https from 'node:https'
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
  flattenNested,
  fromKserveDatatype,
  normalizeHttpBase,
  probeTimeoutMs,
  serverErrorText,
  markExclusive,
  tensorFromBytes,
  tensorFromValues,
  tensorToBytes,
  tensorValues,
  type ModelMetadata,
  type RemoteClient,
  type TensorMeta,
} from './remote.js'

/** Header giving the length of the JSON part of a body with binary tensor data (lower-case). */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length'

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

/** An Inference-Header-Content-Length value as a byte count; undefined when absent or not digits. */
function parseHeaderLength(value: string | null | undefined): number | undefined {
  const v = value?.trim()
  return v && /^\d+$/.test(v) ? Number(v) : undefined
}

/** Writes `parts` to an HTTP request or response, one after the other, and ends it. */
export function endWithParts(out: { write(chunk: Uint8Array): unknown; end(chunk?: Uint8Array): unknown }, parts: readonly Uint8Array[]): void {
  for (const p of parts.slice(0, -1)) out.write(p)
  out.end(parts[parts.length - 1])
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
export function splitBinaryMessage(body: Buffer, headerLength: string | number | null | undefined): { json: unknown; binary: Buffer } {
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
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new OcrError('BAD_REQUEST', 'the JSON body must be an object')
  return { json, binary: body.subarray(jsonEnd) }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v)
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

/** An inference request body (binary extension or plain JSON) and its headers. */
export function encodeInferRequest(
  feeds: Feeds,
  outputNames: readonly string[],
  binary: boolean,
  id?: string,
): { parts: Uint8Array[]; headers: Record<string, string> } {
  const inputs: KserveTensorJson[] = []
  const chunks: Buffer[] = []
  for (const [name, t] of Object.entries(feeds)) {
    const { entry, chunk } = tensorEntry(name, t, binary)
    inputs.push(entry)
    if (chunk) chunks.push(chunk)
  }
  const request: KserveInferRequestJson = {
    ...(id ? { id } : {}),
    inputs,
    outputs: outputNames.map((name) => (binary ? { name, parameters: { binary_data: true } } : { name })),
  }
  if (!binary) {
    return { parts: [Buffer.from(JSON.stringify(request), 'utf8')], headers: { 'content-type': 'application/json' } }
  }
  const { parts, headerLength } = encodeBinaryParts(request, chunks)
  return { parts, headers: { 'content-type': 'application/octet-stream', [INFERENCE_HEADER_CONTENT_LENGTH]: String(headerLength) } }
}

/** Output tensors from an inference response body. */
export function decodeInferResponse(body: Buffer, headerLength: string | null | undefined): Record<string, Tensor> {
  const { json, binary } = splitBinaryMessage(body, headerLength)
  const outputs = readTensors((json as { outputs?: unknown }).outputs, binary, 'output')
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

/** Maps a non-2xx answer to an OcrError: 503 → NOT_READY (server says "not now"), else MODEL_ERROR. */
export function httpServerError(status: number, body: string, what: string): OcrError {
  const text = serverErrorText(body)
  if (status === 503) return new OcrError('NOT_READY', `${what}: model server not ready (HTTP 503): ${text}`, { retryAfterSec: 1 })
  return new OcrError('MODEL_ERROR', `${what}: model server answered HTTP ${status}: ${text}`)
}

export interface HttpAnswer {
  status: number
  headers: { get(name: string): string | null }
  body: Buffer
}

/** Keep-alive agents for a client's calls (destroy them in close()). */
export function createHttpAgents(): { http: http.Agent; https: https.Agent } {
  return { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }
}

/**
 * One HTTP request on node:http with its whole answer read, transport failures (refused, reset,
 * socket closed mid-answer) turned into ConnectionFailure; abort rejections pass through for
 * callWithRetries to classify. node:http rather than fetch(): fetch moves bodies through web
 * streams, which copied every multi-megabyte tensor twice more and cost ~100 ms of CPU per image
 * in remote mode (profile in docs/BENCHMARKS.md).
 */
export function httpCall(
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: Uint8Array | readonly Uint8Array[] },
  signal: AbortSignal,
  agents?: { http: http.Agent; https: https.Agent },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const u = new URL(url)
    const secure = u.protocol === 'https:'
    const headers: Record<string, string | number> = { ...init.headers }
    const parts = init.body === undefined ? [] : init.body instanceof Uint8Array ? [init.body] : init.body
    if (init.body) headers['content-length'] = parts.reduce((n, p) => n + p.byteLength, 0)
    let settled = false
    const fail = (err: unknown, what = ''): void => {
      if (settled) return
      settled = true
      if (signal.aborted) return reject(signal.reason)
      reject(new ConnectionFailure(`${what}${transportMessage(err)}`, { cause: err }))
    }
    const req = (secure ? https : http).request(
      u,
      { method: init.method, headers, signal, ...(agents ? { agent: secure ? agents.https : agents.http } : {}) },
      (res) => {
        const chunks: Buffer[] = []
        let total = 0
        res.on('data', (c: Buffer) => {
          chunks.push(c)
          total += c.length
        })
        res.on('error', (err) => fail(err, 'connection lost while reading the answer: '))
        res.on('close', () => {
          if (!res.complete) fail(Object.assign(new Error('socket closed mid-answer'), { code: 'ECONNRESET' }), 'connection lost while reading the answer: ')
        })
        res.on('end', () => {
          if (settled) return
          settled = true
          const h = res.headers
          resolve({
            status: res.statusCode ?? 0,
            headers: { get: (name) => { const v = h[name.toLowerCase()]; return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v } },
            // a binary answer is laid out so that its tensors can be read in place
            body: h[INFERENCE_HEADER_CONTENT_LENGTH] !== undefined ? gatherBody(chunks, total, h[INFERENCE_HEADER_CONTENT_LENGTH]) : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
          })
        })
      },
    )
    req.on('error', (err) => fail(err))
    endWithParts(req, parts)
  })
}

function transportMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } }
  const cause = e?.cause
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`
  return cause?.message ?? e?.message ?? String(err)
}

export class KserveHttpClient implements RemoteClient {
  readonly #remote: RemoteSettings
  readonly #logger: Logger
  readonly #base: string
  readonly #agents = createHttpAgents()

  constructor(remote: RemoteSettings, logger: Logger) {
    this.#remote = remote
    this.#logger = logger
    this.#base = normalizeHttpBase(remote.url)
  }

  #modelPath(model: string): string {
    const v = this.#remote.modelVersion
    return `/v2/models/${encodeURIComponent(model)}${v ? `/versions/${encodeURIComponent(v)}` : ''}`
  }

  /** Health endpoints: 200 = true; any other answer, no answer or the deadline = false. */
  async #probe(path: string, caller?: AbortSignal): Promise<boolean> {
    const scope = new CallScope(probeTimeoutMs(this.#remote), caller)
    try {
      const res = await httpCall(this.#base + path, { method: 'GET' }, scope.signal, this.#agents)
      return res.status === 200
    } catch (err) {
      if (caller?.aborted) throw scope.abortError(`GET ${path}`)
      this.#logger.debug({ path, err: (err as Error).message }, 'model server health probe failed')
      return false
    } finally {
      scope.dispose()
    }
  }

  serverReady(signal?: AbortSignal): Promise<boolean> {
    return this.#probe('/v2/health/ready', signal)
  }

  modelReady(model: string, signal?: AbortSignal): Promise<boolean> {
    return this.#probe(`${this.#modelPath(model)}/ready`, signal)
  }

  modelMetadata(model: string): Promise<ModelMetadata> {
    const what = `metadata of model "${model}"`
    return callWithRetries(what, this.#remote, this.#logger, undefined, async (signal) => {
      const res = await httpCall(this.#base + this.#modelPath(model), { method: 'GET' }, signal, this.#agents)
      const text = res.body.toString('utf8')
      if (res.status !== 200) throw httpServerError(res.status, text, what)
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        throw new OcrError('MODEL_ERROR', `${what}: the model server's answer is not JSON`)
      }
      return parseModelMetadata(json, model)
    })
  }

  infer(model: string, feeds: Feeds, outputNames: readonly string[], options?: RunOptions): Promise<Record<string, Tensor>> {
    const what = `inference on model "${model}"`
    const { parts, headers } = encodeInferRequest(feeds, outputNames, this.#remote.binary)
    const url = `${this.#base}${this.#modelPath(model)}/infer`
    return callWithRetries(what, this.#remote, this.#logger, options?.signal, async (signal) => {
      const res = await httpCall(url, { method: 'POST', headers, body: parts }, signal, this.#agents)
      if (res.status !== 200) throw httpServerError(res.status, res.body.toString('utf8'), what)
      let outputs: Record<string, Tensor>
      try {
        outputs = decodeInferResponse(res.body, res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH))
      } catch (err) {
        throw new OcrError('MODEL_ERROR', `${what}: malformed answer: ${isOcrError(err) ? err.message : String(err)}`, { cause: err })
      }
      for (const name of outputNames) {
        if (!outputs[name]) throw new OcrError('MODEL_ERROR', `${what}: the answer lacks output "${name}"`)
      }
      return outputs
    })
  }

  async close(): Promise<void> {
    this.#agents.http.destroy()
    this.#agents.https.destroy()
  }
}
