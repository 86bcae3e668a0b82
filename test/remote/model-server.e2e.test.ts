/**
 * `ocrserve model-server` as a real second process on loopback ports, exercised by every client:
 * readiness, metadata, inference on a real detection tensor compared with ONNX Runtime in this
 * process (within 1e-4), the recogniser's argmax/maxprob outputs alone, concurrent batched requests, TF Serving row format, errors, /metrics.
 * The repository is written with `--float-inputs` (the models' float32 input `x`, as shipped), so
 * the tensors compare with the package's models directly; remote-serve.e2e.test.ts runs the default
 * repository (uint8 `pixels` inputs) through the whole pipeline.
 * Needs `npm run build` (npm test runs it first).
 */
import { readFileSync } from 'node:fs'
import http2 from 'node:http2'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildModelRepository } from '../../src/cli/models-repo.js'
import { RemoteSettingsSchema, type RemoteProtocol } from '../../src/config.js'
import type { Backend, Tensor } from '../../src/inference/backend.js'
import { createLocalBackend } from '../../src/inference/local.js'
import { createRemoteBackend, createRemoteClient, remoteReady, type RemoteClient } from '../../src/inference/remote.js'
import { resolveModelPaths } from '../../src/models/assets.js'
import { REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT, ctcDecode, ctcDecodeBest, hasReducedRecOutputs } from '../../src/models/rec-ctc.js'
import { ctcCharset, readDictionary } from '../../src/packs/spec.js'
import { GRPC_RECEIVE_WINDOW_BYTES } from '../../src/protocols/kserve-grpc.js'
import { REAL_DIR, detTensor, maxAbsDiff, startModelServerProcess, waitFor, type ModelServerProcess } from './helpers.js'

let repo: string
let server: ModelServerProcess
let localDet: Backend
let localCls: Backend
let localRec: Backend
let charset: string[]
let det: Tensor
const clients: RemoteClient[] = []

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), 'ocrserve-models-'))
  await buildModelRepository(repo, { compactInputs: false })
  server = await startModelServerProcess(repo, { workers: 1 })
  const paths = resolveModelPaths()
  localDet = await createLocalBackend(paths.det, { device: 'cpu', threads: 1 })
  localCls = await createLocalBackend(paths.cls, { device: 'cpu', threads: 1 })
  localRec = await createLocalBackend(paths.rec, { device: 'cpu', threads: 1 })
  charset = ctcCharset(readDictionary(readFileSync(paths.keys, 'utf8')), true)
  det = await detTensor(join(REAL_DIR, 'images/page/cnocr_multi-line_cn2.png'), 576, 256)
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await server?.stop()
  await localDet?.dispose()
  await localCls?.dispose()
  await localRec?.dispose()
  if (repo) await rm(repo, { recursive: true, force: true })
})

function settings(protocol: RemoteProtocol, extra: Record<string, unknown> = {}) {
  const url = protocol === 'kserve-grpc' ? `127.0.0.1:${server.grpcPort}` : server.http
  return RemoteSettingsSchema.parse({ url, protocol, timeoutMs: 60_000, ...extra })
}

function clientFor(protocol: RemoteProtocol, extra: Record<string, unknown> = {}): { client: RemoteClient; remote: ReturnType<typeof settings> } {
  const remote = settings(protocol, extra)
  const client = createRemoteClient(remote)
  clients.push(client)
  return { client, remote }
}

/** Two line-like rec inputs (3×48×320): stripes, so that the recogniser's outputs vary per step. */
function recTensor(): Tensor & { data: Float32Array } {
  const W = 320
  const data = new Float32Array(2 * 3 * 48 * W)
  for (let i = 0; i < data.length; i++) data[i] = Math.sign(Math.sin((i % W) * 0.35 + Math.floor(i / (3 * 48 * W)))) * 0.8
  return { type: 'float32', dims: [2, 3, 48, W], data }
}

function clsTensor(seed: number): Tensor & { data: Float32Array } {
  const data = new Float32Array(3 * 48 * 192)
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.013 + seed) * 0.9
  return { type: 'float32', dims: [1, 3, 48, 192], data }
}

describe('model server over each protocol', () => {
  const cases: Array<[string, RemoteProtocol, Record<string, unknown>]> = [
    ['kserve-http (binary extension)', 'kserve-http', {}],
    ['kserve-http (JSON)', 'kserve-http', { binary: false }],
    ['kserve-grpc', 'kserve-grpc', {}],
    ['tfserving', 'tfserving', {}],
  ]

  it.each(cases)('%s: ready, metadata, and a real det tensor equal to local ONNX Runtime', async (_name, protocol, extra) => {
    const { client, remote } = clientFor(protocol, extra)
    expect(await remoteReady(client, Object.values(remote.models))).toBe(true)
    const meta = await client.modelMetadata('ocr_det')
    expect(meta.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }])
    expect(meta.outputs).toEqual([{ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [-1, 1, -1, -1] }])
    const backend = await createRemoteBackend(client, 'ocr_det', remote)
    const remoteOut = (await backend.run({ x: det }))['sigmoid_0.tmp_0']!
    const localOut = (await localDet.run({ x: det }))['sigmoid_0.tmp_0']!
    expect(remoteOut.dims).toEqual([1, 1, 256, 576])
    expect(maxAbsDiff(remoteOut, localOut)).toBeLessThanOrEqual(1e-4)
    // the map is not trivially empty: the page has several lines of text
    const textPixels = remoteOut.data.filter((p) => p > 0.3).length
    expect(textPixels).toBeGreaterThan(0.05 * 256 * 576)
  })

  it.each(cases)('%s: the recogniser sends only argmax/maxprob when asked, decoding as the local softmax does', async (_name, protocol, extra) => {
    const { client, remote } = clientFor(protocol, extra)
    const backend = await createRemoteBackend(client, 'ocr_rec', remote)
    expect(hasReducedRecOutputs(backend.outputNames)).toBe(true)
    const x = recTensor()
    const out = await backend.run({ x }, { outputs: [REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT] })
    expect(Object.keys(out).sort()).toEqual([REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT])
    const soft = (await localRec.run({ x }))['softmax_11.tmp_0']!
    const [n, steps, classes] = soft.dims as [number, number, number]
    expect(out[REC_ARGMAX_OUTPUT]!.dims).toEqual([n, steps])
    expect(out[REC_ARGMAX_OUTPUT]!.type).toBe('int64')
    for (let j = 0; j < n; j++) {
      const local = ctcDecode(soft.data as Float32Array, steps, classes, j, charset)
      const got = ctcDecodeBest(out[REC_ARGMAX_OUTPUT]!.data as BigInt64Array, out[REC_MAXPROB_OUTPUT]!.data as Float32Array, steps, j, charset)
      expect(got.text).toBe(local.text)
      expect(Math.abs(got.score - local.score)).toBeLessThanOrEqual(1e-5)
    }
  })

  it('batches concurrent requests and hands each its own result', async () => {
    const { client } = clientFor('kserve-http')
    const inputs = Array.from({ length: 12 }, (_, i) => clsTensor(i))
    const remote = await Promise.all(inputs.map((x) => client.infer('ocr_cls', { x }, ['softmax_0.tmp_0'])))
    for (const [i, x] of inputs.entries()) {
      const local = (await localCls.run({ x }))['softmax_0.tmp_0']!
      expect(remote[i]!['softmax_0.tmp_0']!.dims).toEqual([1, 2])
      expect(maxAbsDiff(remote[i]!['softmax_0.tmp_0']!, local)).toBeLessThanOrEqual(1e-4)
    }
    const metrics = await (await fetch(`${server.http}/metrics`)).text()
    const rows = /ocrserve_model_batch_size_sum\{model="ocr_cls"\} (\d+)/.exec(metrics)
    const executions = /ocrserve_model_batch_size_count\{model="ocr_cls"\} (\d+)/.exec(metrics)
    expect(Number(rows?.[1])).toBeGreaterThanOrEqual(12)
    // 12 concurrent requests with a 1 ms queue delay: fewer executions than requests
    expect(Number(executions?.[1])).toBeLessThan(Number(rows?.[1]))
    expect(metrics).toMatch(/ocrserve_model_requests_total\{protocol="kserve-http",model="ocr_cls",outcome="ok"\} \d+/)
    expect(metrics).toMatch(/ocrserve_model_queue_depth\{model="ocr_cls"\} 0/)
  })

  it('answers TF Serving row-format (instances) predict requests with predictions', async () => {
    const rows = [clsTensor(1), clsTensor(2)]
    const nested = rows.map((t) => Array.from({ length: 3 }, (_, c) => Array.from({ length: 48 }, (_, y) => Array.from(t.data.subarray(c * 48 * 192 + y * 192, c * 48 * 192 + (y + 1) * 192)))))
    const res = await fetch(`${server.http}/v1/models/ocr_cls/versions/1:predict`, { method: 'POST', body: JSON.stringify({ instances: nested }) })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { predictions: number[][] }
    expect(body.predictions).toHaveLength(2)
    for (const [i, t] of rows.entries()) {
      const local = (await localCls.run({ x: t }))['softmax_0.tmp_0']!
      expect(Math.abs(body.predictions[i]![0]! - Number(local.data[0]))).toBeLessThanOrEqual(1e-4)
    }
  })

  it('serves server metadata, health and TF model status', async () => {
    expect((await fetch(`${server.http}/v2/health/live`)).status).toBe(200)
    const meta = (await (await fetch(`${server.http}/v2`)).json()) as { extensions: string[] }
    expect(meta.extensions).toContain('binary_tensor_data')
    expect((await fetch(`${server.http}/v2/models/ocr_rec/versions/1/ready`)).status).toBe(200)
    const status = await (await fetch(`${server.http}/v1/models/ocr_rec`)).json()
    expect(status).toEqual({ model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] })
  })

  it('reports errors as the specs do', async () => {
    const unknown = await fetch(`${server.http}/v2/models/nope/infer`, { method: 'POST', body: '{"inputs":[]}' })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual({ error: 'unknown model "nope"' })
    const badShape = await fetch(`${server.http}/v2/models/ocr_cls/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }),
    })
    expect(badShape.status).toBe(400)
    expect(((await badShape.json()) as { error: string }).error).toMatch(/shape \[1, 2\] does not match/)
    const badBinary = await fetch(`${server.http}/v2/models/ocr_cls/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': '5000' },
      body: '{"inputs":[]}',
    })
    expect(badBinary.status).toBe(400)
    const tfUnknown = await fetch(`${server.http}/v1/models/nope:predict`, { method: 'POST', body: '{"instances":[1]}' })
    expect(tfUnknown.status).toBe(404)
    expect(((await tfUnknown.json()) as { error: string }).error).toContain('nope')
    const { client } = clientFor('kserve-grpc')
    await expect(client.infer('nope', { x: clsTensor(0) }, ['y'])).rejects.toMatchObject({ code: 'MODEL_ERROR', message: expect.stringContaining('NOT_FOUND') })
    await expect(client.modelReady('nope')).resolves.toBe(false)
  })

  it('gives a gRPC client wide HTTP/2 receive windows, so a detector input does not stop every 64 KB', async () => {
    const session = http2.connect(`http://127.0.0.1:${server.grpcPort}`)
    try {
      // the server's SETTINGS and its connection WINDOW_UPDATE follow its first SETTINGS frame
      session.on('error', () => {})
      await waitFor(
        "the server's wide windows",
        async () => session.remoteSettings?.initialWindowSize === GRPC_RECEIVE_WINDOW_BYTES && session.state.remoteWindowSize === GRPC_RECEIVE_WINDOW_BYTES,
        5_000,
      )
      expect(session.state.remoteWindowSize).toBe(GRPC_RECEIVE_WINDOW_BYTES)
    } finally {
      session.destroy()
    }
  })
})
