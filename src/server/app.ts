/**
 * The HTTP service: fastify with schema-first routes, one error shape, API-key auth, metrics,
 * OpenAPI + Swagger UI, and the web page. Built around an Ocr engine it does not own.
 */
import multipart from '@fastify/multipart'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger as PinoLogger } from 'pino'
import type { ServiceConfig } from '../config.js'
import type { Ocr } from '../engine.js'
import type { JobStore } from '../jobs/store.js'
import { OcrError } from '../errors.js'
import { VERSION } from '../version.js'
import { errorBody, errorSchema, payloadTooLarge, retryAfterSec, schemaError, toHttpError, type BodyLimit } from './errors.js'
import { requestIdOptions, sendClientError, trackRequestId } from './request-id.js'
import { createMetrics, registerJobMetrics } from './metrics.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerJobRoutes } from './routes/jobs.js'
import { registerModelsRoute } from './routes/models.js'
import { registerOcrRoute } from './routes/ocr.js'
import { registerPreviewRoute } from './routes/preview.js'
import { registerWebRoutes } from './routes/web.js'
import { jobStatusSchema, ocrQuerySchema, ocrResultSchema } from './schemas.js'
import { DOCS_CSP, registerSecurity } from './security.js'

export interface BuildServerOptions {
  config: ServiceConfig
  ocr: Ocr
  /** The async-job store the /v1/jobs routes serve (its owner closes it). */
  jobs: JobStore
  logger: PinoLogger
}

/** The non-JSON request bodies of POST /v1/ocr and POST /v1/jobs, for the OpenAPI document. */
function rawBodyDoc(withFormat: boolean): Record<string, unknown> {
  const { format, ...options } = ocrQuerySchema.properties
  return {
    'image/*': { schema: { type: 'string', format: 'binary' } },
    'application/pdf': { schema: { type: 'string', format: 'binary' } },
    'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: ['image'],
        properties: { image: { type: 'string', format: 'binary' }, ...options, ...(withFormat ? { format } : {}) },
      },
    },
  }
}
const RAW_BODY_DOC: Record<string, Record<string, unknown>> = { '/v1/ocr': rawBodyDoc(true), '/v1/jobs': rawBodyDoc(false) }

/** The methods a 405's Allow header may list (those fastify routes here use, and HEAD for GET). */
const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's body limit as its 413 states it (routes without one: OCR_MAX_BODY_BYTES). */
    bodyLimit?: BodyLimit
  }
}

export async function buildServer({ config, ocr, jobs, logger }: BuildServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // a child of the service's logger: its level can change without changing the engine's
    loggerInstance: logger.child({}) as FastifyBaseLogger,
    // fastify's own request lines are off: the onResponse hook below writes one line per request
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    ...requestIdOptions(),
    // slow-loris: the whole request (headers and body) must arrive within OCR_BODY_TIMEOUT_MS;
    // node checks every second (its default is every 30 s) and we answer 408 REQUEST_TIMEOUT
    requestTimeout: config.bodyTimeoutMs,
    http: { connectionsCheckingInterval: Math.min(1000, config.bodyTimeoutMs) },
    clientErrorHandler: (err, socket) => sendClientError(logger, err, socket),
    // we answer requests that arrive while closing ourselves, in the catalogue's shape
    return503OnClosing: false,
    // verbose: a failed keyword's schema and value, for the messages of schemaError
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, verbose: true } },
    schemaErrorFormatter: schemaError,
  })
  app.server.headersTimeout = Math.min(app.server.headersTimeout, config.bodyTimeoutMs)
  trackRequestId(app)
  const metrics = createMetrics(ocr)
  registerJobMetrics(metrics.registry, jobs)
  app.addSchema(errorSchema)
  app.addSchema(ocrResultSchema)
  app.addSchema(jobStatusSchema)

  // security headers, API keys, rate limits: before every route, /docs included
  await registerSecurity(app, config)

  // raw image bodies; anything else that is not JSON or multipart is 415
  app.removeContentTypeParser('text/plain')
  const rawBody = (_req: unknown, body: Buffer, done: (err: Error | null, body?: Buffer) => void): void => done(null, body)
  // (no parser-level bodyLimit: the server's applies, and a route's own bodyLimit overrides it)
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, rawBody)
  app.addContentTypeParser('application/pdf', { parseAs: 'buffer' }, rawBody)
  app.addContentTypeParser(/^image\/[\w.+-]+$/, { parseAs: 'buffer' }, rawBody)
  await app.register(multipart, { limits: { fileSize: config.maxBodyBytes, files: 1, fields: 5, parts: 7 }, throwFileSizeLimit: true })

  await app.register(swagger, {
    transform: ({ schema, url }) => {
      const raw = RAW_BODY_DOC[url]
      if (!raw || !schema?.body) return { schema, url }
      const body = schema.body as { content: Record<string, unknown> }
      return { schema: { ...schema, body: { ...body, content: { ...body.content, ...raw } } }, url }
    },
    openapi: {
      openapi: '3.0.3',
      info: { title: 'ocrserve', description: 'OCR service: PP-OCR detection, orientation and recognition', version: VERSION },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiHooks: {
      onRequest: (_request, reply, done) => {
        reply.header('content-security-policy', DOCS_CSP)
        done()
      },
    },
  })

  // requests that reach us on a kept-alive connection while we drain: 503 SHUTTING_DOWN, not queued
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onRequest', async () => {
    if (closing) throw new OcrError('SHUTTING_DOWN', 'the service is shutting down', { retryAfterSec: 5 })
  })

  const defaultBodyLimit: BodyLimit = { bytes: config.maxBodyBytes, setting: 'OCR_MAX_BODY_BYTES' }
  app.setErrorHandler((err, request, reply) => {
    let e = toHttpError(err)
    // fastify's and multipart's 413s say only "too large": state the route's limit instead
    if (e.code === 'PAYLOAD_TOO_LARGE' && !(err instanceof OcrError)) {
      const json = (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')
      e = payloadTooLarge(request.routeOptions.config.bodyLimit ?? defaultBodyLimit, json, err)
    }
    // a 5xx gets its own line with the stack; every error's code and message go on the request line
    if (e.status >= 500) request.log.error({ err, code: e.code }, e.message)
    request.failure = { code: e.code, message: e.message }
    const retryAfter = retryAfterSec(e)
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
    return reply.code(e.status).type('application/json; charset=utf-8').send(errorBody(e, request.id))
  })
  // a known path asked with another method is 405 + Allow, every other miss 404
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0]!
    const allowed = ROUTE_METHODS.filter((method) => app.findRoute({ method, url: path }) !== null)
    // a route that takes this method but has nothing here (a static file outside its allow-list) is a plain miss
    if (allowed.length === 0 || allowed.includes(request.method as (typeof ROUTE_METHODS)[number])) {
      throw new OcrError('NOT_FOUND', `no route ${request.method} ${path}`)
    }
    reply.header('allow', allowed.join(', '))
    throw new OcrError('METHOD_NOT_ALLOWED', `${path} does not take ${request.method}; it takes ${allowed.join(', ')}`)
  })

  // while shutting down, answer in-flight requests with Connection: close so their keep-alive
  // sockets do not hold the server open (idle ones are closed by fastify at close time)
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close')
    return payload
  })

  // one log line per request (never the body)
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const ms = reply.elapsedTime
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) })
    metrics.duration.observe({ route }, ms / 1000)
    const line = {
      method: request.method,
      path: request.url.split('?')[0],
      status: reply.statusCode,
      bytesIn: request.bytesIn ?? Number(request.headers['content-length'] ?? 0),
      ms: Math.round(ms * 10) / 10,
      ...(request.linesFound !== undefined ? { lines: request.linesFound } : {}),
      ...(request.failure ? { code: request.failure.code, error: request.failure.message } : {}),
    }
    if (reply.statusCode >= 500) request.log.error(line, 'request')
    else request.log.info(line, 'request')
  })

  registerHealthRoutes(app, { ocr, metrics, jobs: config.jobs.readiness ? jobs : null })
  registerOcrRoute(app, { ocr, metrics, maxBodyBytes: config.maxBodyBytes, jobsMaxBodyBytes: config.jobs.maxBodyBytes, syncMaxPages: config.syncMaxPages, urlFetch: config.urlFetch })
  registerJobRoutes(app, { store: jobs, jobs: config.jobs, urlFetch: config.urlFetch })
  registerModelsRoute(app, { ocr })
  registerPreviewRoute(app, { ocr, maxBodyBytes: Math.max(config.maxBodyBytes, config.jobs.maxBodyBytes) })
  await registerWebRoutes(app, config, ocr)
  return app
}
