/**
 * The built-in model server: a Triton-layout repository served over KServe v2 HTTP + gRPC and TF
 * Serving REST, inference on worker threads behind per-model dynamic batchers.
 *
 * Start-up: the repository is read and validated first (a bad config fails at once); then both
 * ports listen (live, not ready) while the workers load the sessions; once every worker has loaded
 * every model and the configs match the sessions' tensor names, the server is ready.
 */
import type { AddressInfo } from 'node:net'
import type * as grpc from '@grpc/grpc-js'
import type { Device } from '../config.js'
import { silentLogger, type Logger } from '../logger.js'
import { VERSION } from '../version.js'
import { bindGrpc, createGrpcServer } from './grpc.js'
import { createHttpApp } from './http.js'
import { ModelServerMetrics } from './metrics.js'
import { WorkerPool } from './pool.js'
import { ModelStore, checkAgainstSessions, scanRepository, versionKey } from './repository.js'

export interface ModelServerOptions {
  repository: string
  host: string
  /** 0 = any free port. */
  httpPort: number
  /** 0 = any free port; -1 = no gRPC. */
  grpcPort: number
  workers: number
  threadsPerWorker: number
  device: Device
  /** Waiting requests per model version beyond which requests get 503. */
  maxQueue: number
  maxBodyBytes: number
  logger?: Logger
}

export interface ModelServer {
  readonly httpPort: number
  /** -1 when gRPC is off. */
  readonly grpcPort: number
  readonly models: string[]
  /** Resolves when every model is loaded on every worker; rejects if loading fails. */
  readonly loaded: Promise<void>
  close(): Promise<void>
}

export const SERVER_NAME = 'ocrserve-model-server'

export async function startModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const logger = options.logger ?? silentLogger
  const models = await scanRepository(options.repository)
  for (const m of models) {
    if (m.config.ignored.length) logger.info({ model: m.config.name, fields: m.config.ignored }, 'config fields not used by this server')
  }
  // the queue-depth gauge reads the store, which in turn reports into the metrics
  const depths = { of: (): Array<{ model: string; queued: number }> => [] }
  const metrics = new ModelServerMetrics(() => depths.of())
  const store = new ModelStore(models, { maxQueue: options.maxQueue, workers: options.workers, logger, metrics })
  depths.of = () => store.queueDepths()

  const http = await createHttpApp(store, metrics, { maxBodyBytes: options.maxBodyBytes, logger, serverName: SERVER_NAME, serverVersion: VERSION })
  await http.listen({ port: options.httpPort, host: options.host })
  const httpPort = (http.server.address() as AddressInfo).port

  let grpcServer: grpc.Server | undefined
  let grpcPort = -1
  if (options.grpcPort >= 0) {
    grpcServer = createGrpcServer(store, metrics, { logger, serverName: SERVER_NAME, serverVersion: VERSION })
    try {
      grpcPort = await bindGrpc(grpcServer, options.host, options.grpcPort)
    } catch (err) {
      await http.close()
      throw err
    }
  }
  logger.info({ httpPort, grpcPort, repository: options.repository, models: store.modelNames() }, 'model server listening; loading models')

  const pool = new WorkerPool({
    size: options.workers,
    models: models.flatMap((m) => m.versions.map((v) => ({ key: versionKey(m.config.name, v.version), path: v.path }))),
    device: options.device,
    threads: options.threadsPerWorker,
    logger,
  })
  let closed = false
  const started = performance.now()
  const loaded = pool.start().then((io) => {
    checkAgainstSessions(models, io)
    if (closed) return
    store.attach(pool)
    logger.info({ ms: Math.round(performance.now() - started), workers: options.workers, models: store.modelNames() }, 'model server ready')
  })
  // Logged here at once (the caller may attach its own handler only later).
  loaded.catch((err: unknown) => logger.error({ err }, 'model server failed to load its models'))

  return {
    httpPort,
    grpcPort,
    models: store.modelNames(),
    loaded,
    async close(): Promise<void> {
      if (closed) return
      closed = true
      store.close()
      await Promise.all([
        http.close(),
        grpcServer ? new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve())) : Promise.resolve(),
      ])
      await pool.close()
    },
  }
}
