/** Starting and stopping the whole service (engine + HTTP), for the CLI, tests and benchmarks. */
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import type { ServiceConfig } from '../config.js'
import type { Ocr } from '../engine.js'
import { createEngine, type EngineParts } from '../ocr.js'
import { buildServer } from './app.js'

export interface Service {
  app: FastifyInstance
  ocr: Ocr
  url: string
  /** Stop accepting, finish in-flight requests, stop the workers. */
  close(): Promise<void>
}

export function createLogger(level: ServiceConfig['logLevel']): Logger {
  return pino({ level, base: { service: 'ocrserve' } })
}

/** Starts the engine and the HTTP server; `parts` replaces parts of the engine (tests). */
export async function startService(config: ServiceConfig, logger: Logger = createLogger(config.logLevel), parts: EngineParts = {}): Promise<Service> {
  const ocr = await createEngine({ ...config.engine, logger }, parts)
  let app: FastifyInstance
  try {
    app = await buildServer({ config, ocr, logger })
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
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
    url,
    close() {
      closing ??= (async () => {
        await app.close()
        await ocr.close()
      })()
      return closing
    },
  }
}
