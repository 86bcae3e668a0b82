/**
 * The model server's HTTP face (fastify, routes per protocol) on a real listening port, in this
 * process: routing (405 with Allow, 404, malformed URLs), body limits, error statuses from the
 * catalogue, and KServe REST / TF Serving REST inference through the real clients. The ONNX
 * workers are replaced by a pool that computes y = 2x + 1 and the row sums, so these tests cover
 * the HTTP layer and the codecs only; model-server.e2e.test.ts runs the real process with ONNX.
 */
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RemoteSettingsSchema, type RemoteProtocol } from '../../src/config.js'
import { OcrError } from '../../src/errors.js'
import type { Feeds, Tensor } from '../../src/inference/backend.js'
import { createRemoteClient, type RemoteClient } from '../../src/inference/remote.js'
import { silentLogger } from '../../src/logger.js'
import { createHttpApp } from '../../src/model-server/http.js'
import { ModelServerMetrics } from '../../src/model-server/metrics.js'
import { parseModelConfig } from '../../src/model-server/model-config.js'
import type { WorkerPool } from '../../src/model-server/pool.js'
import { ModelStore } from '../../src/model-server/repository.js'

const config = (name: string): string => `
name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "x", data_type: TYPE_FP32, dims: [ 2 ] } ]
output [
  { name: "y", data_type: TYPE_FP32, dims: [ 2 ] },
  { name: "sum", data_type: TYPE_INT64, dims: [ 1 ] }
]
dynamic_batching { max_queue_delay_microseconds: 0 }
`

/** The worker pool's one method, computing instead of running ONNX; model "broken" always fails. */
const pool = {
  async run(key: string, feeds: Feeds, outputNames: readonly string[]): Promise<Record<string, Tensor>> {
    if (key.startsWith('broken/')) throw new OcrError('MODEL_ERROR', 'the session failed')
    const x = feeds.x!.data as Float32Array
    const n = feeds.x!.dims[0]!
    const all: Record<string, Tensor> = {
      y: { type: 'float32', dims: [n, 2], data: x.map((v) => 2 * v + 1) },
      sum: { type: 'int64', dims: [n, 1], data: BigInt64Array.from({ length: n }, (_, i) => BigInt(Math.round(x[2 * i]! + x[2 * i + 1]!))) },
    }
    return Object.fromEntries(outputNames.map((o) => [o, all[o]!]))
  },
} as unknown as WorkerPool

let app: FastifyInstance
let store: ModelStore
let base: string
const clients: RemoteClient[] = []

beforeAll(async () => {
  const models = ['affine', 'broken'].map((name) => ({ config: parseModelConfig(config(name), name), dir: name, versions: [{ version: '1', path: `${name}/1/model.onnx` }] }))
  const metrics = new ModelServerMetrics(() => store.queueDepths())
  store = new ModelStore(models, { maxQueue: 16, workers: 1, logger: silentLogger, metrics })
  app = await createHttpApp(store, metrics, { maxBodyBytes: 4096, logger: silentLogger, serverName: 'test-server', serverVersion: '9.9.9' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await app?.close()
})

function client(protocol: RemoteProtocol, extra: Record<string, unknown> = {}): RemoteClient {
  const c = createRemoteClient(RemoteSettingsSchema.parse({ url: base, protocol, models: { det: 'affine', cls: 'affine', rec: 'affine' }, retries: 0, ...extra }))
  clients.push(c)
  return c
}

const x = (rows: number[][]): Tensor => ({ type: 'float32', dims: [rows.length, 2], data: Float32Array.from(rows.flat()) })

async function errorOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: string }).error
}

describe('model server HTTP before the models are loaded', () => {
  it('is live, not ready, and answers inference with 503 NOT_READY and Retry-After', async () => {
    expect((await fetch(`${base}/v2/health/live`)).status).toBe(200)
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(400)
    expect((await fetch(`${base}/v2/models/affine/ready`)).status).toBe(400)
    const res = await fetch(`${base}/v2/models/affine/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }) })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await errorOf(res)).toBe('model "affine" is not ready yet')
    const tf = await (await fetch(`${base}/v1/models/affine`)).json()
    expect(tf).toEqual({ model_version_status: [{ version: '1', state: 'LOADING', status: { error_code: 'OK', error_message: '' } }] })
  })
})

describe('model server HTTP', () => {
  beforeAll(() => store.attach(pool))

  it('serves server and model metadata, health and readiness', async () => {
    expect(await (await fetch(`${base}/v2`)).json()).toEqual({ name: 'test-server', version: '9.9.9', extensions: ['binary_tensor_data'] })
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200)
    expect((await fetch(`${base}//v2/models/affine/versions/1/ready/`)).status).toBe(200)
    const meta = await (await fetch(`${base}/v2/models/affine`)).json()
    expect(meta).toEqual({
      name: 'affine',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
      outputs: [
        { name: 'y', datatype: 'FP32', shape: [-1, 2] },
        { name: 'sum', datatype: 'INT64', shape: [-1, 1] },
      ],
    })
  })

  it.each([
    ['kserve-http (binary)', 'kserve-http', {}],
    ['kserve-http (JSON)', 'kserve-http', { binary: false }],
    ['tfserving', 'tfserving', {}],
  ] as const)('%s: infers through the client, all outputs or the ones asked for', async (_name, protocol, extra) => {
    const c = client(protocol, extra)
    const meta = await c.modelMetadata('affine')
    expect(meta.outputs.map((t) => [t.name, t.datatype])).toEqual([['y', 'FP32'], ['sum', 'INT64']])
    const out = await c.infer('affine', { x: x([[1, 2], [3, 4.5]]) }, ['y', 'sum'])
    expect(out.y!.dims).toEqual([2, 2])
    expect([...out.y!.data]).toEqual([3, 5, 7, 10])
    expect(out.sum!.type).toBe('int64')
    expect([...out.sum!.data]).toEqual([3n, 8n])
    const one = await c.infer('affine', { x: x([[0.5, 0.25]]) }, ['sum'])
    expect(Object.keys(one)).toEqual(['sum'])
    expect([...one.sum!.data]).toEqual([1n])
  })

  it('answers a binary request with binary outputs, laid out as the extension says', async () => {
    const header = JSON.stringify({ id: 'r1', inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: 8 } }], outputs: [{ name: 'y', parameters: { binary_data: true } }, { name: 'sum' }] })
    const res = await fetch(`${base}/v2/models/affine/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) },
      body: Buffer.concat([Buffer.from(header), Buffer.from(Float32Array.from([1, -1]).buffer)]),
    })
    expect(res.status).toBe(200)
    const body = Buffer.from(await res.arrayBuffer())
    expect(Number(res.headers.get('content-length'))).toBe(body.length)
    const n = Number(res.headers.get('inference-header-content-length'))
    expect(JSON.parse(body.subarray(0, n).toString())).toEqual({
      model_name: 'affine',
      model_version: '1',
      id: 'r1',
      outputs: [
        { name: 'y', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: 8 } },
        { name: 'sum', shape: [1, 1], datatype: 'INT64', data: [0] },
      ],
    })
    expect([body.readFloatLE(n), body.readFloatLE(n + 4)]).toEqual([3, -1])
  })

  it('answers TF Serving row requests with predictions, one object per row for several outputs', async () => {
    const res = await fetch(`${base}/v1/models/affine/labels/latest:predict`, { method: 'POST', body: JSON.stringify({ instances: [[1, 2], [0, -1]] }) })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ predictions: [{ y: [3, 5], sum: [3] }, { y: [1, -1], sum: [-1] }] })
    const filtered = await fetch(`${base}/v1/models/affine/versions/1:predict`, { method: 'POST', body: JSON.stringify({ instances: [[1, 2]], output_filter: ['y'] }) })
    expect(await filtered.json()).toEqual({ predictions: [[3, 5]] })
    const meta = (await (await fetch(`${base}/v1/models/affine/metadata`)).json()) as { metadata: { signature_def: { signature_def: Record<string, { inputs: unknown }> } } }
    expect(meta.metadata.signature_def.signature_def.serving_default!.inputs).toEqual({ x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '2', name: '' }], unknown_rank: false }, name: 'x' } })
  })

  it.each([
    ['POST', '/v2/health/live', 'GET'],
    ['GET', '/v2/models/affine/infer', 'POST'],
    ['DELETE', '/v2/models/affine/versions/1', 'GET'],
    ['HEAD', '/metrics', 'GET'],
    ['GET', '/v1/models/affine:predict', 'POST'],
    ['POST', '/v1/models/affine/versions/1', 'GET'],
    ['PUT', '/v1/models/affine', 'GET, POST'],
  ])('%s %s is 405 with Allow: %s', async (method, path, allow) => {
    const res = await fetch(base + path, { method, ...(method === 'POST' || method === 'PUT' ? { body: '{}' } : {}) })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe(allow)
    if (method !== 'HEAD') expect(await errorOf(res)).toBe(`method ${method} not allowed here (use ${allow.replace(', ', ' or ')})`)
  })

  it.each([
    ['GET', '/nope', 404, 'no route for GET /nope'],
    ['GET', '/v2/models/nope', 404, 'unknown model "nope"'],
    ['GET', '/v2/models/affine/versions/7', 404, 'model "affine" has no served version "7" (served: 1)'],
    ['GET', '/v2/models/a%ZZ', 400, 'malformed percent-encoding in the URL'],
    ['GET', '/v1/models/affine/labels/stable', 404, 'Unrecognized servable version label: stable (this server knows only "latest")'],
    ['POST', '/v1/models/affine:classify', 400, ':classify is not supported by this server (ONNX models have only a predict signature)'],
    ['POST', '/v1/models/affine:explain', 404, 'unknown method :explain'],
  ])('%s %s is %i: %s', async (method, path, status, message) => {
    const res = await fetch(base + path, { method, ...(method === 'POST' ? { body: '{"instances":[[1,2]]}' } : {}) })
    expect(res.status).toBe(status)
    expect(await errorOf(res)).toBe(message)
  })

  it('rejects malformed requests with 400 naming what is wrong', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = {}) => fetch(base + path, { method: 'POST', body, headers })
    const shape = await post('/v2/models/affine/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }))
    expect(shape.status).toBe(400)
    expect(await errorOf(shape)).toBe('input "x": shape [1, 3] does not match model "affine" shape [-1, 2]')
    const length = await post('/v2/models/affine/infer', '{"inputs":[]}', { 'inference-header-content-length': '5000' })
    expect(length.status).toBe(400)
    expect(await errorOf(length)).toBe('Inference-Header-Content-Length 5000 is invalid for a 13-byte body')
    for (const path of ['/v2/models/affine/infer', '/v1/models/affine:predict']) {
      // an empty body, with a content type and without one (which fastify does not hand to a parser)
      for (const empty of [await post(path, ''), await fetch(base + path, { method: 'POST' })]) {
        expect(empty.status).toBe(400)
        expect(await errorOf(empty)).toMatch(/^malformed JSON: /)
      }
    }
    const tf = await post('/v1/models/affine:predict', '{"inputs":[[1,2]],"instances":[[1,2]]}')
    expect(tf.status).toBe(400)
    expect(await errorOf(tf)).toBe('the request must have exactly one of "inputs" (columnar) or "instances" (row)')
  })

  it('refuses a body over the limit with 413, and keeps serving', async () => {
    const res = await fetch(`${base}/v2/models/affine/infer`, { method: 'POST', body: 'x'.repeat(5000) })
    expect(res.status).toBe(413)
    expect(await errorOf(res)).toBe('request body of 5000 bytes exceeds the 4096-byte limit')
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200)
  })

  it('reports a failed inference with the catalogue status of MODEL_ERROR (502), and counts outcomes', async () => {
    const res = await fetch(`${base}/v2/models/broken/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }) })
    expect(res.status).toBe(502)
    expect(await errorOf(res)).toBe('the session failed')
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toMatch(/ocrserve_model_requests_total\{protocol="kserve-http",model="broken",outcome="MODEL_ERROR"\} 1\n/)
    expect(metrics).toMatch(/ocrserve_model_requests_total\{protocol="tfserving",model="affine",outcome="ok"\} [1-9]/)
  })
})
