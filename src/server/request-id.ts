/**
 * Request ids: every request gets one (the client's X-Request-Id when it is a sane token, else a
 * UUID). It is on every log line of the request (pino's `reqId`), in the X-Request-Id response
 * header and in every error body (`request_id`). Errors node raises before fastify has a request
 * (a slow-loris upload cut off by OCR_BODY_TIMEOUT_MS, oversized headers) are answered here in the
 * same shape, with the id of the request the connection was carrying.
 */
import { randomUUID } from 'node:crypto'
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { OcrError, type ErrorCode } from '../errors.js'
import { errorBody } from './errors.js'

/** A client-chosen id is kept only if it cannot forge log lines or headers. */
const CLIENT_ID = /^[\w.:@/+=-]{1,128}$/

/** fastify's request-id options (its log label stays the default, `reqId`). */
export function requestIdOptions(): { requestIdHeader: false; genReqId: (req: IncomingMessage) => string } {
  return {
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID()
    },
  }
}

/** The id of the request each connection is busy with (for errors raised on the socket). */
const socketRequest = new WeakMap<Socket, string>()

export function trackRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
    if (request.raw.socket) socketRequest.set(request.raw.socket, request.id)
  })
  app.addHook('onResponse', async (request) => {
    if (request.raw.socket) socketRequest.delete(request.raw.socket)
  })
}

const CLIENT_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time (OCR_BODY_TIMEOUT_MS); the connection is closed' },
  HPE_HEADER_OVERFLOW: { code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' },
}

/** fastify's clientErrorHandler: a catalogue error body, then the connection is closed. */
export function sendClientError(logger: Logger, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const known = err.code ? CLIENT_ERRORS[err.code] : undefined
  const e = new OcrError(known?.code ?? 'BAD_REQUEST', known?.message ?? `malformed HTTP request (${err.code ?? err.message})`)
  const reqId = socketRequest.get(socket) ?? randomUUID()
  logger.info({ reqId, status: e.status, code: e.code, error: e.message }, 'request')
  if (socket.writable) {
    const body = JSON.stringify(errorBody(e, reqId))
    socket.write(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${reqId}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}
