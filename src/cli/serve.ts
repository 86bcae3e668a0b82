/**
 * `ocrserve serve` (= `npm start`): the HTTP service. Every environment variable has a flag
 * (OCR_MAX_QUEUE → --max-queue, PORT → --port); a flag only sets its variable before
 * loadServiceConfig() runs, so validation and defaults have one source of truth (config.ts SETTINGS).
 */
import { Command } from 'commander'
import { loadServiceConfig, type ServiceConfig } from '../config.js'
import { OcrError } from '../errors.js'
import { createLogger, startService } from '../server/index.js'
import { addServeFlags, setEnvFromServeFlags } from './setting-flags.js'

/** Start-up configuration errors: the message on stderr, exit code 2. */
function exitBadConfig(err: OcrError): never {
  process.stderr.write(`ocrserve serve: ${err.message}\n`)
  process.exit(2)
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('start the HTTP service (same as npm start); each flag sets the environment variable named in its help')
  addServeFlags(cmd)
  cmd.action(async (opts: Record<string, unknown>) => {
    setEnvFromServeFlags(opts)
    await serve()
  })
}

async function serve(): Promise<void> {
  let config: ServiceConfig
  try {
    config = loadServiceConfig(process.env)
  } catch (err) {
    if (err instanceof OcrError && err.code === 'INVALID_CONFIG') exitBadConfig(err)
    throw err
  }
  const logger = createLogger(config.logLevel)
  let service: Awaited<ReturnType<typeof startService>>
  try {
    service = await startService(config, logger)
  } catch (err) {
    // settings only the engine can check (a remote URL's shape, the device) are config errors too
    if (err instanceof OcrError && err.code === 'INVALID_CONFIG') exitBadConfig(err)
    throw err
  }
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
