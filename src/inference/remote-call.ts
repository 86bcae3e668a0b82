/**
 * One call to a model server under a deadline and the caller's signal, and the retry policy:
 * failures to reach the server (refused, reset, DNS, socket closed) are retried with exponential
 * backoff and then reported as NOT_READY; server-reported errors, deadlines and cancellations are
 * final.
 */
import type { RemoteSettings } from '../config.js'
import { OcrError, isOcrError } from '../errors.js'
import type { Logger } from '../logger.js'

/** A failure to reach the server (refused, reset, DNS, socket closed): retried, then NOT_READY. */
export class ConnectionFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConnectionFailure'
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
])

/** Walks an error and its causes for a socket/DNS failure code. */
export function connectionErrorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 6; depth++) {
    const code = (cur as { code?: unknown }).code
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return code
    const errors = (cur as { errors?: unknown }).errors
    if (Array.isArray(errors)) {
      for (const inner of errors) {
        const c = connectionErrorCode(inner)
        if (c) return c
      }
    }
    cur = (cur as { cause?: unknown }).cause
  }
  return undefined
}

/** Health probes answer fast or count as "not ready": their deadline is capped at this. */
export const PROBE_TIMEOUT_MAX_MS = 5000

export function probeTimeoutMs(remote: RemoteSettings): number {
  return Math.min(remote.timeoutMs, PROBE_TIMEOUT_MAX_MS)
}

/** A deadline for one call, combined with the caller's signal. */
export class CallScope {
  readonly signal: AbortSignal
  readonly #deadline: AbortController
  readonly #timer: NodeJS.Timeout
  readonly #caller: AbortSignal | undefined
  readonly deadlineAt: number

  constructor(timeoutMs: number, caller?: AbortSignal) {
    this.#deadline = new AbortController()
    this.deadlineAt = Date.now() + timeoutMs
    this.#timer = setTimeout(() => this.#deadline.abort(new OcrError('TIMEOUT', `model server did not answer within ${timeoutMs} ms`)), timeoutMs)
    this.#timer.unref?.()
    this.#caller = caller
    this.signal = caller ? AbortSignal.any([caller, this.#deadline.signal]) : this.#deadline.signal
  }

  /** The error to report once `signal` has fired (CANCELLED for the caller, TIMEOUT for the deadline). */
  abortError(what: string): OcrError {
    if (this.#caller?.aborted) return new OcrError('CANCELLED', `${what}: cancelled`, { cause: this.#caller.reason })
    return new OcrError('TIMEOUT', `${what}: no answer from the model server within the deadline (OCR_REMOTE_TIMEOUT_MS)`)
  }

  /** Throws CANCELLED/TIMEOUT when the scope has already fired. */
  throwIfAborted(what: string): void {
    if (this.signal.aborted) throw this.abortError(what)
  }

  dispose(): void {
    clearTimeout(this.#timer)
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clearTimeout(t)
      reject(signal.reason)
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Runs `attempt` under one deadline (remote.timeoutMs) and the caller's signal. ConnectionFailure
 * is retried remote.retries times with exponential backoff, then reported as NOT_READY (503,
 * Retry-After 1). Any other error (server-reported, deadline, cancel) is final.
 */
export async function callWithRetries<T>(
  what: string,
  remote: RemoteSettings,
  logger: Logger,
  caller: AbortSignal | undefined,
  attempt: (signal: AbortSignal, scope: CallScope) => Promise<T>,
): Promise<T> {
  const scope = new CallScope(remote.timeoutMs, caller)
  try {
    for (let n = 0; ; n++) {
      scope.throwIfAborted(what)
      try {
        return await attempt(scope.signal, scope)
      } catch (err) {
        if (scope.signal.aborted && !isOcrError(err)) throw scope.abortError(what)
        if (!(err instanceof ConnectionFailure)) throw err
        if (n >= remote.retries) {
          throw new OcrError('NOT_READY', `${what}: model server ${remote.url} unreachable: ${err.message}`, { cause: err, retryAfterSec: 1 })
        }
        const delay = remote.retryBackoffMs * 2 ** n
        logger.debug({ what, attempt: n + 1, delayMs: delay, err: err.message }, 'model server unreachable; retrying')
        try {
          await sleep(delay, scope.signal)
        } catch {
          throw scope.abortError(what)
        }
      }
    }
  } finally {
    scope.dispose()
  }
}

/**
 * A health probe: `run` under the capped probe deadline. Any failure but the caller's cancel reads
 * as false ("not ready"); a cancel throws CANCELLED.
 */
export async function probe(what: string, remote: RemoteSettings, logger: Logger, caller: AbortSignal | undefined, run: (scope: CallScope) => Promise<boolean>): Promise<boolean> {
  const scope = new CallScope(probeTimeoutMs(remote), caller)
  try {
    return await run(scope)
  } catch (err) {
    if (caller?.aborted) throw scope.abortError(what)
    logger.debug({ what, err: (err as Error).message }, 'model server health probe failed')
    return false
  } finally {
    scope.dispose()
  }
}
