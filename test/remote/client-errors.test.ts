/**
 * The remote clients' failure handling against small fake servers on loopback: connection
 * failures are retried with backoff then reported as NOT_READY (Retry-After 1), server-reported
 * errors are MODEL_ERROR carrying the server's text and are never retried, deadlines are TIMEOUT,
 * aborts are CANCELLED.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as grpc from '@grpc/grpc-js'
import { afterEach, describe, expect, it } from 'vitest'
import { RemoteSettingsSchema, type RemoteSettings } from '../../src/config.js'
import { OcrError } from '../../src/errors.js'
import { createRemoteBackend, createRemoteClient, remoteReady, type RemoteClient } from '../../src/inference/remote.js'
import { PROBE_TIMEOUT_MAX_MS } from '../../src/inference/remote-call.js'
import { loadInferenceService } from '../../src/protocols/kserve-grpc.js'
import { encodeBinaryMessage } from '../../src/protocols/kserve-rest.js'

const x = { type: 'float32' as const, dims: [1, 2], data: Float32Array.from([1, 2]) }

let servers: Array<() => Promise<void>> = []
let clients: RemoteClient[] = []
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await Promise.all(servers.map((s) => s()))
  servers = []
  clients = []
})

async function httpServer(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<{ url: string; count: () => number }> {
  let n = 0
  const server: Server = createServer((req, res) => {
    n++
    req.resume()
    req.on('end', () => handler(req, res, n))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  servers.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, count: () => n }
}

async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

function settings(over: Partial<RemoteSettings> & { url: string }): RemoteSettings {
  return RemoteSettingsSchema.parse({ retries: 2, retryBackoffMs: 40, timeoutMs: 5000, ...over })
}

function client(s: RemoteSettings): RemoteClient {
  const c = createRemoteClient(s)
  clients.push(c)
  return c
}

async function rejection(p: Promise<unknown>): Promise<OcrError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(OcrError)
    return err as OcrError
  }
  throw new Error('expected a rejection')
}

/** A valid binary-extension answer with output "y" = [1, 2] * 2. */
function okAnswer(res: ServerResponse): void {
  const data = Buffer.from(Float32Array.from([2, 4]).buffer)
  const { body, headerLength } = encodeBinaryMessage({ outputs: [{ name: 'y', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: 8 } }] }, [data])
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) })
  res.end(body)
}

describe('kserve-http client errors', () => {
  it('reports a server error body as MODEL_ERROR with its text, without retrying', async () => {
    const srv = await httpServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end('{"error":"unexpected shape for input \'x\'"}')
    })
    const err = await rejection(client(settings({ url: srv.url })).infer('m', { x }, ['y']))
    expect(err.code).toBe('MODEL_ERROR')
    expect(err.status).toBe(502)
    expect(err.message).toContain("unexpected shape for input 'x'")
    expect(srv.count()).toBe(1)
  })

  it('retries a connection dropped mid-request and then succeeds', async () => {
    const srv = await httpServer((req, res, n) => (n === 1 ? req.socket.destroy() : okAnswer(res)))
    const out = await client(settings({ url: srv.url })).infer('m', { x }, ['y'])
    expect([...out.y!.data]).toEqual([2, 4])
    expect(srv.count()).toBe(2)
  })

  it('gives up after the configured retries with NOT_READY and Retry-After 1', async () => {
    const srv = await httpServer((req) => req.socket.destroy())
    const err = await rejection(client(settings({ url: srv.url, retries: 3 })).infer('m', { x }, ['y']))
    expect(err.code).toBe('NOT_READY')
    expect(err.status).toBe(503)
    expect(err.retryAfterSec).toBe(1)
    expect(srv.count()).toBe(4)
  })

  it('backs off exponentially on connection refused', async () => {
    const port = await closedPort()
    const t0 = performance.now()
    const err = await rejection(client(settings({ url: `http://127.0.0.1:${port}`, retries: 2, retryBackoffMs: 60 })).infer('m', { x }, ['y']))
    expect(err.code).toBe('NOT_READY')
    expect(err.message).toMatch(/ECONNREFUSED/)
    // 60 + 120 ms of backoff
    expect(performance.now() - t0).toBeGreaterThanOrEqual(170)
  })

  it('turns the deadline into TIMEOUT and an abort into CANCELLED', async () => {
    const srv = await httpServer(() => {
      /* never answers */
    })
    const c = client(settings({ url: srv.url, timeoutMs: 150 }))
    const t0 = performance.now()
    expect((await rejection(c.infer('m', { x }, ['y']))).code).toBe('TIMEOUT')
    expect(performance.now() - t0).toBeLessThan(2000)
    const ac = new AbortController()
    const c2 = client(settings({ url: srv.url, timeoutMs: 10_000 }))
    const p = c2.infer('m', { x }, ['y'], { signal: ac.signal })
    setTimeout(() => ac.abort(), 50)
    expect((await rejection(p)).code).toBe('CANCELLED')
  })

  it('answers readiness false (no throw) when the server is down or says no', async () => {
    const port = await closedPort()
    const s = settings({ url: `http://127.0.0.1:${port}` })
    expect(await remoteReady(client(s), Object.values(s.models))).toBe(false)
    const srv = await httpServer((req, res) => {
      res.writeHead(req.url === '/v2/health/ready' ? 200 : 400)
      res.end()
    })
    const s2 = settings({ url: srv.url })
    const c = client(s2)
    expect(await c.serverReady()).toBe(true)
    expect(await c.modelReady('ocr_det')).toBe(false)
    expect(await remoteReady(c, Object.values(s2.models))).toBe(false)
  })

  it('caps the health probes\' deadline, so a hung server reads as not ready quickly', async () => {
    const srv = await httpServer(() => {
      /* never answers */
    })
    const t0 = performance.now()
    expect(await client(settings({ url: srv.url, timeoutMs: 60_000 })).serverReady()).toBe(false)
    const elapsed = performance.now() - t0
    expect(elapsed).toBeGreaterThanOrEqual(PROBE_TIMEOUT_MAX_MS - 100)
    expect(elapsed).toBeLessThan(PROBE_TIMEOUT_MAX_MS + 3000)
  })

  it('flags answers that lack the requested output', async () => {
    const srv = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ outputs: [{ name: 'other', shape: [1], datatype: 'FP32', data: [1] }] }))
    })
    const err = await rejection(client(settings({ url: srv.url })).infer('m', { x }, ['y']))
    expect(err.code).toBe('MODEL_ERROR')
    expect(err.message).toMatch(/lacks output "y"/)
  })
})

describe('tfserving client', () => {
  it('reads an unnamed single output containing NaN / Infinity tokens, typed from metadata', async () => {
    const srv = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      if (req.url?.endsWith('/metadata')) {
        res.end(
          JSON.stringify({
            model_spec: { name: 'm', signature_name: '', version: '3' },
            metadata: {
              signature_def: {
                signature_def: {
                  serving_default: {
                    inputs: { images: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }, { size: '2' }] }, name: 'images:0' } },
                    outputs: { scores: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }, { size: '3' }] }, name: 'scores:0' } },
                  },
                },
              },
            },
          }),
        )
      } else {
        res.end('{\n  "outputs": [[0.5, NaN, -Infinity]]\n}')
      }
    })
    const s = settings({ url: srv.url, protocol: 'tfserving' })
    const c = client(s)
    const backend = await createRemoteBackend(c, 'm', s)
    expect(backend.inputNames).toEqual(['images'])
    expect(backend.outputNames).toEqual(['scores'])
    // the stage's {x} feed goes to the signature's only input
    const out = await backend.run({ x })
    const scores = out.scores!
    expect(scores.dims).toEqual([1, 3])
    expect(scores.data[0]).toBe(0.5)
    expect(Number.isNaN(scores.data[1])).toBe(true)
    expect(scores.data[2]).toBe(-Infinity)
  })

  it('reports TF Serving error bodies as MODEL_ERROR', async () => {
    const srv = await httpServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end('{ "error": "Servable not found for request: Latest(half)" }')
    })
    const err = await rejection(client(settings({ url: srv.url, protocol: 'tfserving' })).infer('half', { x }, ['y']))
    expect(err.code).toBe('MODEL_ERROR')
    expect(err.message).toContain('Servable not found for request: Latest(half)')
    expect(srv.count()).toBe(1)
  })
})

describe('kserve-grpc client errors', () => {
  async function grpcServer(impl: Record<string, grpc.handleUnaryCall<unknown, unknown>>): Promise<string> {
    const server = new grpc.Server()
    server.addService(loadInferenceService().service, impl as grpc.UntypedServiceImplementation)
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    )
    servers.push(() => new Promise((r) => server.tryShutdown(() => r())))
    return `127.0.0.1:${port}`
  }

  it('maps a gRPC status to MODEL_ERROR with its details, without retrying', async () => {
    let calls = 0
    const url = await grpcServer({
      ModelInfer: (_call, cb) => {
        calls++
        cb({ code: grpc.status.INVALID_ARGUMENT, details: 'unexpected datatype FP64 for input x' })
      },
    })
    const err = await rejection(client(settings({ url, protocol: 'kserve-grpc' })).infer('m', { x }, ['y']))
    expect(err.code).toBe('MODEL_ERROR')
    expect(err.message).toContain('INVALID_ARGUMENT: unexpected datatype FP64 for input x')
    expect(calls).toBe(1)
  })

  it('reports an unreachable server as NOT_READY and a silent one as TIMEOUT', async () => {
    const port = await closedPort()
    const err = await rejection(client(settings({ url: `127.0.0.1:${port}`, protocol: 'kserve-grpc', retries: 1 })).infer('m', { x }, ['y']))
    expect(err.code).toBe('NOT_READY')
    expect(err.retryAfterSec).toBe(1)
    const url = await grpcServer({
      ModelInfer: () => {
        /* never answers */
      },
    })
    const t0 = performance.now()
    const slow = await rejection(client(settings({ url, protocol: 'kserve-grpc', timeoutMs: 200 })).infer('m', { x }, ['y']))
    expect(slow.code).toBe('TIMEOUT')
    expect(performance.now() - t0).toBeLessThan(2000)
  })

  it('reads raw output contents', async () => {
    const url = await grpcServer({
      ModelInfer: (call, cb) => {
        const req = call.request as { raw_input_contents: Buffer[] }
        const input = new Float32Array(new Uint8Array(req.raw_input_contents[0]!).buffer)
        const doubled = Float32Array.from(input, (v) => v * 2)
        cb(null, { model_name: 'm', outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2] }], raw_output_contents: [Buffer.from(doubled.buffer)] })
      },
    })
    const out = await client(settings({ url, protocol: 'kserve-grpc' })).infer('m', { x }, ['y'])
    expect([...out.y!.data]).toEqual([2, 4])
  })
})
