/**
 * The model server's HTTP face: one fastify app on one port, one route module per protocol —
 * KServe v2 REST (routes/kserve.ts), TF Serving REST (routes/tfserving.ts), Prometheus
 * (routes/metrics.ts). Bodies are read whatever their content type, up to maxBodyBytes, into one
 * buffer laid out so that binary tensors are read in place. Errors are `{"error": "message"}` (the
 * body both REST specs use) with the catalogue's status (src/errors.ts); 503s carry Retry-After.
 */
import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { OcrError, toOcrError } from '../errors.js'
import type { Logger } from '../logger.js'
import { INFERENCE_HEADER_CONTENT_LENGTH, gatherBody } from '../protocols/kserve-rest.js'
import { errorBody } from '../protocols/rest.js'
import type { ModelServerMetrics } from './metrics.js'
import type { ModelStore } from './repository.js'
import type { RouteContext } from './routes/common.js'
import { kserveRoutes } from './routes/kserve.js'
import { metricsRoutes } from './routes/metrics.js'
import { tfservingRoutes } from './routes/tfserving.js'

export interface HttpOptions {
  maxBodyBytes: number
  logger: Logger
  serverName: string
  serverVersion: string
}

/**
 * A request body, read raw. One over `limit` is PAYLOAD_TOO_LARGE (at once when Content-Length
 * says so; else the connection is dropped when the limit is passed); a client that leaves before
 * sending all of it is CANCELLED.
 */
function readBody(request: IncomingMessage, limit: number, done: (err: Error | null, body?: Buffer) => void): void {
  const declared = Number(request.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    request.resume()
    return done(new OcrError('PAYLOAD_TOO_LARGE', `request body of ${declared} bytes exceeds the ${limit}-byte limit`))
  }
  const chunks: Buffer[] = []
  let size = 0
  let settled = false
  const settle = (err: Error | null, body?: Buffer): void => {
    if (settled) return
    settled = true
    done(err, body)
  }
  request.on('data', (c: Buffer) => {
    size += c.length
    if (size > limit) {
      request.destroy()
      settle(new OcrError('PAYLOAD_TOO_LARGE', `request body exceeds the ${limit}-byte limit`))
      return
    }
    chunks.push(c)
  })
  // a KServe binary body is laid out so that its tensors can be read in place (one copy)
  request.on('end', () => settle(null, gatherBody(chunks, size, request.headers[INFERENCE_HEADER_CONTENT_LENGTH])))
  request.on('error', (err) => settle(err))
  request.on('close', () => {
    if (!request.complete) settle(new OcrError('CANCELLED', 'the client closed the connection before sending the whole body'))
  })
}

/** Any failure as a catalogue error; fastify's own client errors (a malformed URL, say) are BAD_REQUEST. */
function asOcrError(err: unknown): OcrError {
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode
  if (!(err instanceof OcrError) && typeof status === 'number' && status >= 400 && status < 500) {
    return new OcrError('BAD_REQUEST', (err as Error).message, { cause: err })
  }
  return toOcrError(err)
}

export async function createHttpApp(store: ModelStore, metrics: ModelServerMetrics, opts: HttpOptions): Promise<FastifyInstance> {
  const { logger } = opts
  const app = Fastify({
    // large tensors over slow links: no per-request timeout beyond the client's own deadline
    requestTimeout: 0,
    keepAliveTimeout: 65_000,
    bodyLimit: opts.maxBodyBytes,
    exposeHeadRoutes: false,
    // while closing, requests on open connections still get the store's own answers (NOT_READY
    // with Retry-After once it is closed) rather than fastify's 503 body
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1024 },
    frameworkErrors: (err, _request, reply) => {
      sendError(reply, err.code === 'FST_ERR_BAD_URL' ? new OcrError('BAD_REQUEST', 'malformed percent-encoding in the URL') : err)
    },
  })

  const sendError = (reply: FastifyReply, err: unknown): FastifyReply => {
    const e = asOcrError(err)
    if (e.status >= 500) logger.error({ err: e, code: e.code }, 'model-server request failed')
    else logger.debug({ code: e.code, msg: e.message }, 'model-server request rejected')
    if (e.status === 503) reply.header('retry-after', String(e.retryAfterSec ?? 1))
    return reply.code(e.status).type('application/json').send(JSON.stringify(errorBody(e.message)))
  }
  app.setErrorHandler((err, _request, reply) => sendError(reply, err))
  app.setNotFoundHandler((request: FastifyRequest, reply) => sendError(reply, new OcrError('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`)))

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (request, _payload, done) => readBody(request.raw, opts.maxBodyBytes, done))

  app.addHook('onResponse', (request, reply, done) => {
    logger.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'model-server request')
    done()
  })

  const ctx: RouteContext = { store, metrics, server: { name: opts.serverName, version: opts.serverVersion } }
  await app.register(kserveRoutes, ctx)
  await app.register(tfservingRoutes, ctx)
  await app.register(metricsRoutes, ctx)
  return app
}
