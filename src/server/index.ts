/** Starting and stopping the whole service (engine + HTTP), for the CLI, tests and benchmarks. */
import { createServer } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import type { ServiceConfig } from '../config.js'
import type { Ocr } from '../engine.js'
import { OcrError } from '../errors.js'
import { createJobStore } from '../jobs/index.js'
import type { JobStore } from '../jobs/store.js'
import { createEngine, type EngineParts } from '../ocr.js'
import { buildServer } from './app.js'

export interface Service {
  app: FastifyInstance
  ocr: Ocr
  jobs: JobStore
  /** Where to reach the service from this machine (a wildcard HOST reads as 127.0.0.1). */
  url: string
  /** What it listens on: HOST and the port. */
  listening: { host: string; port: number }
  /** Stop accepting, finish in-flight requests, stop the workers. */
  close(): Promise<void>
}

/** How long start-up waits for the job store (Redis) before listening anyway. */
const STORE_WAIT_MS = 5000

export function createLogger(level: ServiceConfig['logLevel']): Logger {
  return pino({ level, base: { service: 'ocrserve' } })
}

/** A listen failure as a start-up error that says what to change. */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number): OcrError {
  const hints: Record<string, string> = {
    EADDRINUSE: `PORT ${port} is already in use on HOST ${host} (another ocrserve?): stop that process or choose another PORT (--port)`,
    EACCES: `not permitted to listen on PORT ${port} (ports below 1024 need privileges): choose another PORT (--port)`,
    EADDRNOTAVAIL: `HOST ${host} is not an address of this machine: use 0.0.0.0 (every interface) or 127.0.0.1 (--host)`,
    ENOTFOUND: `HOST ${host} does not resolve to an address: use 0.0.0.0 (every interface) or 127.0.0.1 (--host)`,
  }
  return new OcrError('INVALID_CONFIG', hints[err.code ?? ''] ?? `cannot listen on ${host}:${port}: ${err.message}`, { cause: err })
}

/**
 * Fails with INVALID_CONFIG when HOST:PORT cannot be listened on, before any model is loaded (a
 * port in use is found at once, not after the start-up's seconds of model loading).
 */
export async function checkListenAddress(host: string, port: number): Promise<void> {
  if (port === 0) return
  const probe = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject)
      probe.listen({ host, port, exclusive: true }, resolve)
    })
  } catch (err) {
    throw listenError(err as NodeJS.ErrnoException, host, port)
  } finally {
    await new Promise<void>((resolve) => (probe.listening ? probe.close(() => resolve()) : resolve()))
  }
}

/** Starts the engine and the HTTP server; `parts` replaces parts of the engine (tests). */
export async function startService(config: ServiceConfig, logger: Logger = createLogger(config.logLevel), parts: EngineParts = {}): Promise<Service> {
  await checkListenAddress(config.host, config.port)
  logger.info({ mode: config.mode, host: config.host, port: config.port }, 'starting: loading the models')
  const ocr = await createEngine({ ...config.engine, logger }, parts)
  let app: FastifyInstance
  let jobs: JobStore | null = null
  try {
    jobs = createJobStore(config.jobs, ocr, logger)
    // a store that cannot be reached yet does not hold the start: /v1/ocr works without it
    if (!(await jobs.whenReachable(STORE_WAIT_MS))) logger.error({ store: jobs.kind }, 'job store not reachable yet: /v1/jobs answers 503 until it is')
    app = await buildServer({ config, ocr, jobs, logger })
    // fastify logs a "Server listening at" line per interface; the caller logs one line of its own
    const level = app.log.level
    app.log.level = 'warn'
    try {
      await app.listen({ port: config.port, host: config.host })
    } catch (err) {
      throw listenError(err as NodeJS.ErrnoException, config.host, config.port)
    } finally {
      app.log.level = level
    }
  } catch (err) {
    await jobs?.close()
    await ocr.close()
    throw err
  }
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : config.port
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  let closing: Promise<void> | null = null
  return {
    app,
    ocr,
    jobs,
    url,
    listening: { host: config.host, port },
    close() {
      // HTTP first (in-flight requests finish), then the jobs (memory: cancelled; Redis: handed
      // back for other replicas), then the engine
      closing ??= (async () => {
        await app.close()
        await jobs.close()
        await ocr.close()
      })()
      return closing
    },
  }
}
