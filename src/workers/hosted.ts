/**
 * The thread side of the worker host (./host.ts): the init data the host started this thread with,
 * a logger whose records the host writes, post() for the owner's messages, and serve(), which
 * answers the host's start (ready / init-error) and close (release, then closed).
 */
import { parentPort, workerData, type TransferListItem } from 'node:worker_threads'
import { serializeError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { CloseNotice, HostNotice, LogLevel } from './host.js'

export interface ServeHandlers<In, Ready> {
  /** Loads what the thread needs; its result is the ready notice's info, its error the init-error. */
  load(): Promise<Ready>
  /** Every message but the host's close, from the moment serve() is called (also during load). */
  onMessage(message: In): void
  /** Releases what the thread holds (sessions, clients) when the host closes it. */
  release(): Promise<void>
}

export interface Hosted<Init, In, Out, Ready> {
  readonly init: Init
  readonly logger: Logger
  post(message: Out, transfer?: readonly TransferListItem[]): void
  serve(handlers: ServeHandlers<In, Ready>): void
}

export function hosted<Init, In, Out, Ready = undefined>(): Hosted<Init, In, Out, Ready> {
  const port = parentPort
  if (!port) throw new Error('this module runs in a worker thread started by the worker host')
  const notify = (notice: HostNotice<Ready>): void => port.postMessage(notice)
  const log =
    (level: LogLevel) =>
    (obj: object | string, msg?: string): void =>
      notify({ type: 'log', level, obj: typeof obj === 'string' ? { msg: obj } : obj, ...(msg !== undefined ? { msg } : {}) })
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
  return {
    init: workerData as Init,
    logger,
    post: (message, transfer) => port.postMessage(message, transfer),
    serve({ load, onMessage, release }) {
      port.on('message', (msg: In | CloseNotice) => {
        if ((msg as CloseNotice).type !== 'close') return onMessage(msg as In)
        release()
          .catch((err: unknown) => logger.warn({ err: serializeError(err) }, 'could not release everything on close'))
          .finally(() => notify({ type: 'closed' }))
      })
      load().then(
        (info) => notify({ type: 'ready', info }),
        (err: unknown) => notify({ type: 'init-error', error: serializeError(err) }),
      )
    },
  }
}
