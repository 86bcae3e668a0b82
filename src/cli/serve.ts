/**
 * `ocrserve serve` (= `npm start`): the HTTP service. Every environment variable has a flag
 * (OCR_MAX_QUEUE → --max-queue, PORT → --port); a flag only sets its variable before
 * loadServiceConfig() runs, so validation and defaults have one source of truth (config.ts SETTINGS).
 *
 * Stopping: SIGTERM or SIGINT drains (no new connections, in-flight requests finish, async jobs are
 * cancelled, workers stop) and exits 0; during start-up (models loading) it exits 0 at once. Signals
 * after the first change nothing: npm forwards a terminal's Ctrl-C that this process has already
 * received. Started through npm or npx, a lost parent counts as the signal (see watchParent).
 */
import type { Command } from 'commander'
import { loadServiceConfig, type ServiceConfig } from '../config.js'
import { OcrError } from '../errors.js'
import type { Service } from '../server/index.js'
import { EXIT_USAGE } from './exit-codes.js'
import { addServeFlags, setEnvFromServeFlags } from './setting-flags.js'

/** Start-up configuration errors (a bad setting, a port in use): one line on stderr, exit code 2. */
function exitBadConfig(err: OcrError): never {
  process.stderr.write(`ocrserve serve: ${err.message}\n`)
  process.exit(EXIT_USAGE)
}

/** How often the parent process is checked (watchParent). */
const PARENT_CHECK_MS = 500

/**
 * npm runs `npm start`'s script and `npx ocrserve serve` through `sh -c`. On SIGTERM npm passes
 * the signal to its child; where that child is the shell (npx), the shell dies of it without
 * passing it on, and this process would go on serving with no parent. Started by npm (it sets
 * npm_lifecycle_event), we therefore treat the loss of our parent as the stop signal. (`npm start`
 * execs node, so there npm signals this process itself and waits for it.) An npm script that puts
 * the service in the background and ends (`"x": "ocrserve serve &"`) stops it too: run it under a
 * supervisor, or with node bin/ocrserve.js outside npm.
 */
function watchParent(stop: (reason: string) => void): void {
  if (process.env.npm_lifecycle_event === undefined) return
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    stop('parent process exited')
  }, PARENT_CHECK_MS)
  timer.unref()
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
  const { createLogger, startService } = await import('../server/index.js')
  const logger = createLogger(config.logLevel)
  let service: Service | null = null
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    if (!service) {
      // nothing is served yet: the workers loading models end with the process
      logger.info({ signal }, 'stopped during start-up (models were loading)')
      process.exit(0)
    }
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
  // from the start: a supervisor may stop the service while its models load
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  watchParent(stop)
  try {
    service = await startService(config, logger)
  } catch (err) {
    // a port in use, and settings only the engine can check (a remote URL's shape, the device)
    if (err instanceof OcrError && err.code === 'INVALID_CONFIG') exitBadConfig(err)
    throw err
  }
  const { host, port } = service.listening
  logger.info(
    { url: service.url, host, port, mode: config.mode, remote: config.engine.remote?.url },
    `ocrserve listening on ${host}:${port}: web page at ${service.url}/, API docs at ${service.url}/docs`,
  )
}
