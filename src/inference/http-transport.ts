/**
 * The HTTP transport of the REST clients (kserve-http and tfserving): one request on node:http
 * with keep-alive agents, its whole answer read, transport failures turned into ConnectionFailure
 * (retried by callWithRetries), and non-2xx answers into OcrError. Client-side only: the model
 * server answers through fastify.
 *
 * node:http rather than fetch(): fetch moves bodies through web streams, which copied every
 * multi-megabyte tensor twice more and cost ~100 ms of CPU per image in remote mode (profile in
 * docs/BENCHMARKS.md).
 */
import http from 'node:http'
import https from 'node:https'
import { OcrError } from '../errors.js'
import { INFERENCE_HEADER_CONTENT_LENGTH, gatherBody } from '../protocols/kserve-rest.js'
import { errorBodyText } from '../protocols/rest.js'
import { ConnectionFailure } from './remote-call.js'

export interface HttpAnswer {
  status: number
  headers: { get(name: string): string | null }
  body: Buffer
}

export interface HttpAgents {
  http: http.Agent
  https: https.Agent
}

/** Keep-alive agents for a client's calls (destroy them with destroyHttpAgents in close()). */
export function createHttpAgents(): HttpAgents {
  return { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }
}

export function destroyHttpAgents(agents: HttpAgents): void {
  agents.http.destroy()
  agents.https.destroy()
}

/** Writes `parts` to an HTTP request, one after the other (no copy into one body), and ends it. */
function endWithParts(out: http.ClientRequest, parts: readonly Uint8Array[]): void {
  for (const p of parts.slice(0, -1)) out.write(p)
  out.end(parts[parts.length - 1])
}

/**
 * One HTTP request with its whole answer read. Transport failures (refused, reset, socket closed
 * mid-answer) become ConnectionFailure; abort rejections pass through for callWithRetries to
 * classify. A body with binary tensor data is laid out so that its tensors can be read in place.
 */
export function httpCall(
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: Uint8Array | readonly Uint8Array[] },
  signal: AbortSignal,
  agents?: HttpAgents,
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

/** Maps a non-2xx answer to an OcrError: 503 → NOT_READY (server says "not now"), else MODEL_ERROR. */
export function httpServerError(status: number, body: string, what: string): OcrError {
  const text = errorBodyText(body)
  if (status === 503) return new OcrError('NOT_READY', `${what}: model server not ready (HTTP 503): ${text}`, { retryAfterSec: 1 })
  return new OcrError('MODEL_ERROR', `${what}: model server answered HTTP ${status}: ${text}`)
}

/** The answer's body as JSON (`parse` for a dialect such as TF Serving's), or MODEL_ERROR. */
export function answerJson(res: HttpAnswer, what: string, parse: (text: string) => unknown = JSON.parse): unknown {
  const text = res.body.toString('utf8')
  if (res.status !== 200) throw httpServerError(res.status, text, what)
  try {
    return parse(text)
  } catch {
    throw new OcrError('MODEL_ERROR', `${what}: the model server's answer is not JSON`)
  }
}
