/** Starting and stopping the whole service (engine + HTTP), for the CLI, tests and benchmarks. */
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import type { ServiceConfig } from '../config.js'
import type { Ocr } from '../engine.js'
import { createJobStore } from '../jobs/index.js'
import type { JobStore } from '../jobs/store.js'
import { createOcr } from '../ocr.js'
import { buildServer } from './app.js'

export interface Service {
  app: FastifyInstance
  ocr: Ocr
  jobs: JobStore
  url: string
  /** Stop accepting, finish in-flight requests, stop the workers. */
  close(): Promise<void>
}

/** How long start-up waits for the job store (Redis) before listening anyway. */
const STORE_WAIT_MS = 5000

export function createLogger(level: ServiceConfig['logLevel']): Logger {
  return pino({ level, base: { service: 'ocrserve' } })
}

export async function startService(config: ServiceConfig, logger: Logger = createLogger(config.logLevel)): Promise<Service> {
  const ocr = await createOcr({ ...config.engine, logger })
  let app: FastifyInstance
  let jobs: JobStore | null = null
  try {
    jobs = createJobStore(config.jobs, ocr, logger)
    // a store that cannot be reached yet does not hold the start: /v1/ocr works without it
    if (!(await jobs.whenReachable(STORE_WAIT_MS))) logger.error({ store: jobs.kind }, 'job store not reachable yet: /v1/jobs answers 503 until it is')
    app = await buildServer({ config, ocr, jobs, logger })
    await app.listen({ port: config.port, host: config.host })
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
