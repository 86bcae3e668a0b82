/** `ocrserve serve` (= `npm start`): the HTTP service. Flags mirror the environment variables. */
import { Command } from 'commander'
import { loadServiceConfig, type EnvVarName } from '../config.js'
import { OcrError } from '../errors.js'
import { createLogger, startService } from '../server/index.js'

/** Flag → environment variable: a flag only sets its variable, so validation has one source of truth. */
const FLAGS: [flag: string, env: EnvVarName, help: string][] = [
  ['--port <n>', 'PORT', 'HTTP port (PORT, default 8080)'],
  ['--host <addr>', 'HOST', 'listen address (HOST, default 0.0.0.0)'],
  ['--mode <mode>', 'OCR_MODE', 'single | remote (OCR_MODE)'],
  ['--device <device>', 'OCR_DEVICE', 'cpu | cuda (OCR_DEVICE)'],
  ['--workers <n>', 'OCR_WORKERS', 'pipeline worker threads (OCR_WORKERS)'],
  ['--threads-per-worker <n>', 'OCR_THREADS_PER_WORKER', 'ONNX Runtime threads per worker (OCR_THREADS_PER_WORKER)'],
  ['--max-body-bytes <n>', 'OCR_MAX_BODY_BYTES', 'largest request body (OCR_MAX_BODY_BYTES)'],
  ['--max-pixels <n>', 'OCR_MAX_PIXELS', 'largest image in pixels (OCR_MAX_PIXELS)'],
  ['--request-timeout-ms <n>', 'OCR_REQUEST_TIMEOUT_MS', 'per-request time limit (OCR_REQUEST_TIMEOUT_MS)'],
  ['--max-queue <n>', 'OCR_MAX_QUEUE', 'waiting jobs before 503 (OCR_MAX_QUEUE)'],
  ['--api-keys <keys>', 'OCR_API_KEYS', 'comma-separated API keys (OCR_API_KEYS)'],
  ['--remote-url <url>', 'OCR_REMOTE_URL', 'model server address (OCR_REMOTE_URL)'],
  ['--remote-protocol <p>', 'OCR_REMOTE_PROTOCOL', 'kserve-http | kserve-grpc | tfserving (OCR_REMOTE_PROTOCOL)'],
  ['--remote-models <det,cls,rec>', 'OCR_REMOTE_MODELS', 'model names on the server (OCR_REMOTE_MODELS)'],
  ['--log-level <level>', 'LOG_LEVEL', 'fatal | error | warn | info | debug | trace | silent (LOG_LEVEL)'],
]

function optionKey(flag: string): string {
  return flag
    .replace(/^--/, '')
    .replace(/ .*$/, '')
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
}

export function register(program: Command): void {
  const cmd = program.command('serve').description('start the HTTP service (same as npm start); flags override environment variables')
  for (const [flag, , help] of FLAGS) cmd.option(flag, help)
  cmd.action(async (opts: Record<string, string | undefined>) => {
    for (const [flag, env] of FLAGS) {
      const v = opts[optionKey(flag)]
      if (v !== undefined) process.env[env] = v
    }
    await serve()
  })
}

async function serve(): Promise<void> {
  let config
  try {
    config = loadServiceConfig(process.env)
  } catch (err) {
    if (err instanceof OcrError && err.code === 'INVALID_CONFIG') {
      process.stderr.write(`ocrserve serve: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const logger = createLogger(config.logLevel)
  const service = await startService(config, logger)
  logger.info({ url: service.url, mode: config.mode, remote: config.engine.remote?.url }, `ocrserve listening on ${service.url}`)
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: finishing in-flight requests')
    // in-flight requests are bounded by the request timeout; never hang past it
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting')
      process.exit(1)
    }, config.engine.timeoutMs + 5000)
    force.unref()
    service.close().then(
      () => {
        logger.info('stopped')
        process.exit(0)
      },
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
}
