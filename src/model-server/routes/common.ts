/** What the model server's route modules share: their context, method routing with 405, replies. */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import { OcrError } from '../../errors.js'
import type { EncodedMessage } from '../../protocols/kserve-rest.js'
import type { ModelServerMetrics } from '../metrics.js'
import type { ModelStore } from '../repository.js'

export interface RouteContext {
  store: ModelStore
  metrics: ModelServerMetrics
  server: { name: string; version: string }
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => unknown
type Method = 'GET' | 'POST'

/** METHOD_NOT_ALLOWED for `request`, with the Allow header set on `reply`. */
export function methodNotAllowed(request: FastifyRequest, reply: FastifyReply, allow: readonly Method[]): OcrError {
  reply.header('allow', allow.join(', '))
  return new OcrError('METHOD_NOT_ALLOWED', `method ${request.method} not allowed here (use ${allow.join(' or ')})`)
}

/** Routes `url` by method; any other method is 405 with Allow. */
export function resource(app: FastifyInstance, url: string, handlers: Partial<Record<Method, Handler>>): void {
  const allow = Object.keys(handlers) as Method[]
  for (const method of allow) app.route({ method, url, handler: handlers[method]! })
  const others = app.supportedMethods.filter((m) => !(allow as string[]).includes(m)) as HTTPMethods[]
  app.route({
    method: others,
    url,
    handler: (request, reply) => {
      throw methodNotAllowed(request, reply, allow)
    },
  })
}

/** The request body as read by the server's body reader; empty when fastify read none (no body, no content type). */
export function requestBody(request: FastifyRequest): Buffer {
  return (request.body as Buffer | undefined) ?? Buffer.alloc(0)
}

/** A JSON answer; `body` as an object, or already-written JSON text. */
export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send(typeof body === 'string' ? body : JSON.stringify(body))
}

/** An answer with no body (the health and readiness routes). */
export function sendEmpty(reply: FastifyReply, status: number): FastifyReply {
  return reply.code(status).header('content-length', 0).send()
}

/**
 * An encoded message, its parts written to the socket one after the other: tensor bytes are not
 * copied into one body, and no stream is set up (sending the parts as a stream through fastify
 * cost ~0.1 ms more CPU per small call on the 2-core machine).
 */
export function sendMessage(reply: FastifyReply, message: EncodedMessage): void {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, { ...message.headers, 'content-length': message.byteLength })
  for (const p of message.parts.slice(0, -1)) res.write(p)
  res.end(message.parts[message.parts.length - 1])
}

/** Aborts when the client goes away before the answer is written. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController()
  const res = reply.raw
  if (res.destroyed) ac.abort()
  else res.on('close', () => {
    if (!res.writableFinished) ac.abort()
  })
  return ac.signal
}
