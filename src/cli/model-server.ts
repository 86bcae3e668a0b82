/**
 * `ocrserve model-server`: the built-in KServe v2 (HTTP + gRPC) and TF Serving REST model server
 * over a Triton-layout model repository. Triton's ports by default (8000 HTTP, 8001 gRPC).
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, InvalidArgumentError, Option } from 'commander'
import { DEVICES, LOG_LEVELS, resolveParallelism, type Device } from '../config.js'

/** The repository shipped with the package (configs; `ocrserve models-repo` adds the ONNX files). */
export const PACKAGE_REPOSITORY = fileURLToPath(new URL('../../deploy/triton/models', import.meta.url))

/** `deploy/triton/models` under the working directory when present, else the package's copy. */
export function defaultRepository(cwd = process.cwd()): string {
  const local = resolve(cwd, 'deploy/triton/models')
  return existsSync(local) ? local : PACKAGE_REPOSITORY
}

function port(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535; 0 = any free port)')
  return n
}

function positiveInt(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

interface Flags {
  repository?: string
  httpPort: number
  grpcPort: number
  grpc: boolean
  host: string
  workers?: number
  threadsPerWorker?: number
  device: Device
  maxQueue: number
  maxBodyBytes: number
  logLevel: (typeof LOG_LEVELS)[number]
}

export function register(program: Command): void {
  program
    .command('model-server')
    .description('serve a Triton-layout model repository over KServe v2 HTTP/gRPC and TF Serving REST (ONNX Runtime, dynamic batching)')
    .option('--repository <path>', 'model repository (default: ./deploy/triton/models, else the package copy)')
    .option('--http-port <port>', 'HTTP port: KServe v2, TF Serving REST, /metrics', port, 8000)
    .option('--grpc-port <port>', 'gRPC port: inference.GRPCInferenceService', port, 8001)
    .option('--no-grpc', 'do not serve gRPC')
    .option('--host <address>', 'listen address (127.0.0.1 for loopback only)', '0.0.0.0')
    .option('--workers <n>', 'worker threads, each with a session per model (default: one per core, at most 8)', positiveInt)
    .option('--threads-per-worker <n>', 'ONNX Runtime intra-op threads per worker (default: cores / workers)', positiveInt)
    .addOption(new Option('--device <device>', 'execution device').choices(DEVICES).default('cpu'))
    .option('--max-queue <n>', 'waiting requests per model beyond which requests get 503', positiveInt, 1024)
    .option('--max-body-bytes <n>', 'largest request body', positiveInt, 256 * 1024 * 1024)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action(async (flags: Flags) => {
      // loaded when this command runs, not by every `ocrserve` command
      const [{ pino }, { startModelServer }] = await Promise.all([import('pino'), import('../model-server/server.js')])
      const logger = pino({ level: flags.logLevel, base: { service: 'ocrserve-model-server' } })
      const { workers, threadsPerWorker } = resolveParallelism({ workers: flags.workers ?? 0, threadsPerWorker: flags.threadsPerWorker ?? 0 })
      const repository = resolve(flags.repository ?? defaultRepository())
      let server
      try {
        server = await startModelServer({
          repository,
          host: flags.host,
          httpPort: flags.httpPort,
          grpcPort: flags.grpc ? flags.grpcPort : -1,
          workers,
          threadsPerWorker,
          device: flags.device,
          maxQueue: flags.maxQueue,
          maxBodyBytes: flags.maxBodyBytes,
          logger,
        })
      } catch (err) {
        logger.fatal({ err }, 'model server could not start')
        process.exitCode = 1
        return
      }
      const running = server
      let stopping = false
      const stop = (signal: string): void => {
        if (stopping) return
        stopping = true
        logger.info({ signal }, 'model server shutting down')
        running.close().then(
          () => process.exit(process.exitCode ?? 0),
          (err: unknown) => {
            logger.error({ err }, 'model server shutdown failed')
            process.exit(1)
          },
        )
      }
      process.once('SIGINT', () => stop('SIGINT'))
      process.once('SIGTERM', () => stop('SIGTERM'))
      try {
        await running.loaded
      } catch {
        // already logged by the server with its cause
        process.exitCode = 1
        stop('load-failure')
      }
    })
}
