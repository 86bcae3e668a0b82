/**
 * The model server's HTTP face (node:http, one port): KServe v2 REST with Triton's binary tensor
 * data extension, TensorFlow Serving's REST status/metadata/predict, and Prometheus /metrics.
 * Errors are `{"error": "message"}` with 400 (bad request), 404 (unknown model or route),
 * 413 (body too large), 503 (not ready / overloaded, with Retry-After) or 500 (inference failed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { OcrError, toOcrError, type ErrorCode } from '../errors.js'
import type { Tensor } from '../inference/backend.js'
import type { Logger } from '../logger.js'
import { DATATYPES } from '../protocols/datatypes.js'
import {
  INFERENCE_HEADER_CONTENT_LENGTH,
  encodeBinaryParts,
  gatherBody,
  readTensors,
  splitBinaryMessage,
  tensorEntry,
  type KserveTensorJson,
} from '../protocols/kserve-rest.js'
import { isRecord } from '../protocols/rest.js'
import { nestedJson, parseTfJson } from '../protocols/tfserving-rest.js'
import { tensorFromNested } from '../protocols/tensors.js'
import type { ModelServerMetrics, ProtocolLabel } from './metrics.js'
import type { InferInput, ModelStore } from './repository.js'

export interface HttpOptions {
  maxBodyBytes: number
  logger: Logger
  serverName: string
  serverVersion: string
}

/** HTTP status per error code, as the KServe / TF Serving REST specs use them. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  CANCELLED: 499,
  NOT_READY: 503,
  OVERLOADED: 503,
  SHUTTING_DOWN: 503,
  TIMEOUT: 504,
}

/** TF Serving's one signature name for a served ONNX model. */
export const TF_SIGNATURE = 'serving_default'

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

function sendError(res: ServerResponse, err: unknown, logger: Logger): number {
  if (err instanceof HttpError) {
    sendJson(res, err.status, { error: err.message })
    return err.status
  }
  const e = toOcrError(err)
  const status = STATUS[e.code] ?? 500
  if (status >= 500) logger.error({ err: e, code: e.code }, 'model-server request failed')
  else logger.debug({ code: e.code, msg: e.message }, 'model-server request rejected')
  if (res.headersSent || res.destroyed) return status
  const headers: Record<string, string> = status === 503 ? { 'retry-after': String(e.retryAfterSec ?? 1) } : {}
  sendJson(res, status, { error: e.message }, headers)
  return status
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      reject(new OcrError('PAYLOAD_TOO_LARGE', `request body of ${declared} bytes exceeds the ${limit}-byte limit`))
      req.resume()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) {
        reject(new OcrError('PAYLOAD_TOO_LARGE', `request body exceeds the ${limit}-byte limit`))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    // a KServe binary body is laid out so that its tensors can be read in place (one copy)
    req.on('end', () => resolve(gatherBody(chunks, size, req.headers[INFERENCE_HEADER_CONTENT_LENGTH])))
    req.on('error', reject)
    req.on('close', () => {
      if (!req.complete) reject(new OcrError('CANCELLED', 'the client closed the connection before sending the whole body'))
    })
  })
}

function segments(pathname: string): string[] {
  try {
    return pathname.split('/').filter(Boolean).map(decodeURIComponent)
  } catch {
    throw new OcrError('BAD_REQUEST', 'malformed percent-encoding in the URL')
  }
}

export function createHttpHandler(store: ModelStore, metrics: ModelServerMetrics, opts: HttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { logger } = opts

  /** Aborts when the client goes away before the answer is written. */
  const clientGone = (req: IncomingMessage, res: ServerResponse): AbortSignal => {
    const ac = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) ac.abort()
    })
    req.on('aborted', () => ac.abort())
    return ac.signal
  }

  const observe = async <T>(protocol: ProtocolLabel, model: string, fn: () => Promise<T>): Promise<T> => {
    const end = metrics.requestSeconds.startTimer({ protocol, model })
    try {
      const r = await fn()
      metrics.requests.inc({ protocol, model, outcome: 'ok' })
      return r
    } catch (err) {
      metrics.requests.inc({ protocol, model, outcome: toOcrError(err).code })
      throw err
    } finally {
      end()
    }
  }

  // ---- KServe v2

  const kserve = async (req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> => {
    const method = req.method ?? 'GET'
    if (parts.length === 0) {
      requireMethod(method, 'GET')
      return sendJson(res, 200, { name: opts.serverName, version: opts.serverVersion, extensions: ['binary_tensor_data'] })
    }
    if (parts[0] === 'health' && parts.length === 2) {
      requireMethod(method, 'GET')
      if (parts[1] === 'live') return void res.writeHead(200, { 'content-length': 0 }).end()
      // KServe: 200 = true, 4xx = false.
      if (parts[1] === 'ready') return void res.writeHead(store.ready ? 200 : 400, { 'content-length': 0 }).end()
    }
    if (parts[0] === 'models' && parts.length >= 2) {
      const model = parts[1]!
      let rest = parts.slice(2)
      let version = ''
      if (rest[0] === 'versions') {
        if (rest.length < 2) throw new HttpError(404, 'missing version')
        version = rest[1]!
        rest = rest.slice(2)
      }
      if (rest.length === 0) {
        requireMethod(method, 'GET')
        return sendJson(res, 200, store.metadata(model, version))
      }
      if (rest.length === 1 && rest[0] === 'ready') {
        requireMethod(method, 'GET')
        return void res.writeHead(store.isReady(model, version) ? 200 : 400, { 'content-length': 0 }).end()
      }
      if (rest.length === 1 && rest[0] === 'infer') {
        requireMethod(method, 'POST')
        const signal = clientGone(req, res)
        const body = await readBody(req, opts.maxBodyBytes)
        await observe('kserve-http', model, () => kserveInfer(res, model, version, body, req.headers[INFERENCE_HEADER_CONTENT_LENGTH], signal))
        return
      }
    }
    throw new HttpError(404, `no route for ${method} /v2/${parts.join('/')}`)
  }

  const kserveInfer = async (
    res: ServerResponse,
    model: string,
    version: string,
    body: Buffer,
    headerLength: string | string[] | undefined,
    signal: AbortSignal,
  ): Promise<void> => {
    store.resolve(model, version)
    const { json, binary } = splitBinaryMessage(body, Array.isArray(headerLength) ? headerLength[0] : headerLength)
    const request = json as Record<string, unknown>
    const inputs = readTensors(request.inputs, binary, 'input')
    const binaryDefault = isRecord(request.parameters) && request.parameters.binary_data_output === true
    let requested: Array<{ name: string; binary: boolean }> | undefined
    if (request.outputs !== undefined) {
      if (!Array.isArray(request.outputs)) throw new OcrError('BAD_REQUEST', '"outputs" must be an array')
      requested = request.outputs.map((o, i) => {
        if (!isRecord(o) || typeof o.name !== 'string') throw new OcrError('BAD_REQUEST', `outputs[${i}]: "name" must be a string`)
        const p = o.parameters
        const flag = isRecord(p) && typeof p.binary_data === 'boolean' ? p.binary_data : binaryDefault
        return { name: o.name, binary: flag }
      })
    }
    const outputs = await store.infer(model, version, inputs, requested?.map((r) => r.name), signal)
    const served = store.resolve(model, version).version.version
    const entries: KserveTensorJson[] = []
    const chunks: Buffer[] = []
    outputs.forEach((o, i) => {
      const { entry, chunk } = tensorEntry(o.name, o.tensor, requested ? requested[i]!.binary : binaryDefault)
      entries.push(entry)
      if (chunk) chunks.push(chunk)
    })
    const answer = {
      model_name: model,
      model_version: served,
      ...(typeof request.id === 'string' ? { id: request.id } : {}),
      outputs: entries,
    }
    if (chunks.length === 0) return sendJson(res, 200, answer)
    const { parts, headerLength: n, byteLength } = encodeBinaryParts(answer, chunks)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': byteLength, [INFERENCE_HEADER_CONTENT_LENGTH]: String(n) })
    for (const p of parts.slice(0, -1)) res.write(p)
    res.end(parts[parts.length - 1])
  }

  // ---- TensorFlow Serving REST

  /** `m[/versions/v|/labels/l][/metadata][:verb]` after /v1/models/. */
  const tfRoute = (parts: string[]): { model: string; version: string; tail: string[]; verb: string } => {
    const last = parts[parts.length - 1]!
    const colon = last.lastIndexOf(':')
    const verb = colon >= 0 ? last.slice(colon + 1) : ''
    const path = colon >= 0 ? [...parts.slice(0, -1), last.slice(0, colon)] : parts
    const model = path[0]!
    let rest = path.slice(1)
    let version = ''
    if (rest[0] === 'versions' && rest.length >= 2) {
      version = rest[1]!
      rest = rest.slice(2)
    } else if (rest[0] === 'labels' && rest.length >= 2) {
      const label = rest[1]!
      if (label !== 'latest') throw new HttpError(404, `Unrecognized servable version label: ${label} (this server knows only "latest")`)
      rest = rest.slice(2)
    }
    return { model, version, tail: rest, verb }
  }

  const tfserving = async (req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> => {
    const method = req.method ?? 'GET'
    if (parts.length === 0) throw new HttpError(404, 'missing model name')
    const { model, version, tail, verb } = tfRoute(parts)
    if (!verb && tail.length === 0) {
      requireMethod(method, 'GET')
      return sendJson(res, 200, tfStatus(model, version))
    }
    if (!verb && tail.length === 1 && tail[0] === 'metadata') {
      requireMethod(method, 'GET')
      return sendJson(res, 200, tfMetadata(model, version))
    }
    if (verb && tail.length === 0) {
      requireMethod(method, 'POST')
      if (verb === 'classify' || verb === 'regress') throw new OcrError('BAD_REQUEST', `:${verb} is not supported by this server (ONNX models have only a predict signature)`)
      if (verb !== 'predict') throw new HttpError(404, `unknown method :${verb}`)
      const signal = clientGone(req, res)
      const body = await readBody(req, opts.maxBodyBytes)
      await observe('tfserving', model, () => tfPredict(res, model, version, body, signal))
      return
    }
    throw new HttpError(404, `no route for ${method} /v1/models/${parts.join('/')}`)
  }

  const tfStatus = (model: string, version: string): unknown => {
    const { model: m } = store.resolve(model, version)
    const versions = version ? m.versions.filter((v) => v.version === version) : m.versions
    return {
      model_version_status: versions.map((v) => ({
        version: v.version,
        state: store.ready ? 'AVAILABLE' : 'LOADING',
        status: { error_code: 'OK', error_message: '' },
      })),
    }
  }

  const tfMetadata = (model: string, version: string): unknown => {
    const meta = store.metadata(model, version)
    const served = store.resolve(model, version).version.version
    const info = (t: { name: string; datatype: string; shape: number[] }): unknown => ({
      dtype: Object.values(DATATYPES).find((d) => d.kserve === t.datatype)?.tf ?? 'DT_INVALID',
      tensor_shape: { dim: t.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false },
      name: t.name,
    })
    return {
      model_spec: { name: meta.name, signature_name: '', version: served },
      metadata: {
        signature_def: {
          signature_def: {
            [TF_SIGNATURE]: {
              inputs: Object.fromEntries(meta.inputs.map((t) => [t.name, info(t)])),
              outputs: Object.fromEntries(meta.outputs.map((t) => [t.name, info(t)])),
              method_name: 'tensorflow/serving/predict',
            },
          },
        },
      },
    }
  }

  const tfPredict = async (res: ServerResponse, model: string, version: string, body: Buffer, signal: AbortSignal): Promise<void> => {
    const config = store.resolve(model, version).model.config
    let json: unknown
    try {
      json = parseTfJson(body.toString('utf8'))
    } catch (err) {
      throw new OcrError('BAD_REQUEST', `malformed JSON: ${(err as Error).message}`)
    }
    if (!isRecord(json)) throw new OcrError('BAD_REQUEST', 'the request body must be a JSON object')
    const signature = json.signature_name
    if (signature !== undefined && signature !== '' && signature !== TF_SIGNATURE) {
      throw new OcrError('BAD_REQUEST', `Serving signature name: "${String(signature)}" not found in signature def (has: ${TF_SIGNATURE})`)
    }
    const hasInputs = 'inputs' in json
    const hasInstances = 'instances' in json
    if (hasInputs === hasInstances) throw new OcrError('BAD_REQUEST', 'the request must have exactly one of "inputs" (columnar) or "instances" (row)')
    const typeOf = (name: string): Tensor['type'] => {
      const spec = config.inputs.find((t) => t.name === name)
      if (!spec) throw new OcrError('BAD_REQUEST', `model "${model}" has no input "${name}" (inputs: ${config.inputs.map((t) => t.name).join(', ')})`)
      return spec.type
    }
    const inputs: InferInput[] = []
    const single = config.inputs.length === 1 ? config.inputs[0]!.name : undefined
    if (hasInputs) {
      const value = json.inputs
      if (isRecord(value)) {
        for (const [name, v] of Object.entries(value)) inputs.push({ name, tensor: tensorFromNested(v, typeOf(name), `input "${name}"`) })
      } else {
        if (!single) throw new OcrError('BAD_REQUEST', `model "${model}" has several inputs: "inputs" must be an object keyed by input name`)
        inputs.push({ name: single, tensor: tensorFromNested(value, typeOf(single), `input "${single}"`) })
      }
    } else {
      const rows = json.instances
      if (!Array.isArray(rows) || rows.length === 0) throw new OcrError('BAD_REQUEST', '"instances" must be a non-empty list')
      if (rows.every(isRecord)) {
        for (const name of Object.keys(rows[0] as Record<string, unknown>)) {
          const stacked = rows.map((r, i) => {
            if (!(name in (r as Record<string, unknown>))) throw new OcrError('BAD_REQUEST', `instances[${i}] lacks input "${name}"`)
            return (r as Record<string, unknown>)[name]
          })
          inputs.push({ name, tensor: tensorFromNested(stacked, typeOf(name), `input "${name}"`) })
        }
      } else {
        if (!single) throw new OcrError('BAD_REQUEST', `model "${model}" has several inputs: each instance must be an object keyed by input name`)
        inputs.push({ name: single, tensor: tensorFromNested(rows, typeOf(single), `input "${single}"`) })
      }
    }
    // ocrserve extension (TF Serving's gRPC PredictRequest.output_filter, which its REST API lacks):
    // compute and send only these outputs; absent = all outputs of the signature, as TF Serving does
    const filter = json.output_filter
    if (filter !== undefined && (!Array.isArray(filter) || !filter.every((f) => typeof f === 'string'))) {
      throw new OcrError('BAD_REQUEST', '"output_filter" must be a list of output names')
    }
    const outputs = await store.infer(model, version, inputs, filter as string[] | undefined, signal)
    let text: string
    if (hasInputs) {
      text =
        outputs.length === 1
          ? `{"outputs":${nestedJson(outputs[0]!.tensor)}}`
          : `{"outputs":{${outputs.map((o) => `${JSON.stringify(o.name)}:${nestedJson(o.tensor)}`).join(',')}}}`
    } else if (outputs.length === 1) {
      text = `{"predictions":${nestedJson(outputs[0]!.tensor)}}`
    } else {
      const n = outputs[0]!.tensor.dims[0] ?? 0
      const rowsOut: string[] = []
      for (let i = 0; i < n; i++) {
        rowsOut.push(`{${outputs.map((o) => `${JSON.stringify(o.name)}:${nestedJson(rowOf(o.tensor, i))}`).join(',')}}`)
      }
      text = `{"predictions":[${rowsOut.join(',')}]}`
    }
    sendJson(res, 200, text)
  }

  return (req, res) => {
    const started = process.hrtime.bigint()
    const url = new URL(req.url ?? '/', 'http://model-server')
    const handle = async (): Promise<void> => {
      const parts = segments(url.pathname)
      if (parts[0] === 'v2') return kserve(req, res, parts.slice(1))
      if (parts[0] === 'v1' && parts[1] === 'models') return tfserving(req, res, parts.slice(2))
      if (parts.length === 1 && parts[0] === 'metrics') {
        requireMethod(req.method ?? 'GET', 'GET')
        const text = await metrics.registry.metrics()
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) })
        res.end(text)
        return
      }
      throw new HttpError(404, `no route for ${req.method} ${url.pathname}`)
    }
    handle()
      .catch((err: unknown) => sendError(res, err, logger))
      .finally(() => {
        logger.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'model-server request')
      })
  }
}

function requireMethod(actual: string, expected: 'GET' | 'POST'): void {
  if (actual !== expected) throw new HttpError(405, `method ${actual} not allowed here (use ${expected})`)
}

/** Row i of a batched tensor (dims without the batch dimension). */
function rowOf(t: Tensor, i: number): Tensor {
  const dims = t.dims.slice(1)
  const size = dims.reduce((a, b) => a * b, 1)
  return { type: t.type, dims, data: t.data.subarray(i * size, (i + 1) * size) as Tensor['data'] }
}
