/**
 * The worker host: a fixed set of worker threads started from one script, kept alive. Both of
 * ocrserve's pools run on it: the engine's scheduler (pipeline workers running whole jobs) and the
 * model server's pool (ONNX sessions running batches). The host
 * - makes each thread through a factory (real threads by default, tests inject in-thread fakes)
 *   and waits until it reports ready;
 * - writes the threads' log records to the logger;
 * - tells the owner when a ready thread exits, so it fails the work that thread held, and starts a
 *   replacement;
 * - on close asks every thread to release what it holds and terminates one that does not answer
 *   in time.
 * What the threads do, and the messages that carry it, are the owner's: the host hands it every
 * message but its own (HostNotice). The thread side of this protocol is ./hosted.ts.
 *
 * It sits below everything that runs threads (pipeline/, model-server/) and imports nothing of
 * them, so both can use it without one importing the other.
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker, type TransferListItem } from 'node:worker_threads'
import { OcrError, type ErrorCode, type SerializedError } from '../errors.js'
import type { Logger } from '../logger.js'
import { widenWorkerHeaps, workerHeapsWidenedTo } from './heap.js'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** What a hosted thread tells the host; its owner's messages travel beside these. */
export type HostNotice<Ready> =
  /** Started: `info` goes to the owner (e.g. the models' input and output names). */
  | { type: 'ready'; info: Ready }
  | { type: 'init-error'; error: SerializedError }
  | { type: 'log'; level: LogLevel; obj: object; msg?: string | undefined }
  /** Released everything after a close. */
  | { type: 'closed' }

/** The host's one message to a thread: release everything, answer 'closed'. */
export interface CloseNotice {
  type: 'close'
}

/** The part of a worker_threads Worker the host uses (tests implement it in this thread). */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: readonly TransferListItem[]): void
  /** 'message' gives a message, 'error' an Error, 'exit' the exit code. */
  on(event: 'message' | 'error' | 'exit', listener: (value: any) => void): unknown
  terminate(): Promise<unknown>
}

/** Makes thread `index` with the init data it starts from. */
export type WorkerFactory<Init> = (init: Init, index: number) => WorkerLike

/** A ready thread as its owner sees it. A replacement is another object with the same index. */
export interface HostedWorker<In> {
  readonly index: number
  post(message: In, transfer?: readonly TransferListItem[]): void
}

export interface HostOptions<Init, In, Out, Ready> {
  /** What the threads are, for log records and errors ("pipeline worker"). */
  name: string
  size: number
  init: (index: number) => Init
  factory: WorkerFactory<Init>
  logger: Logger
  /** The code of the error start() rejects with when a thread cannot start. */
  startError: ErrorCode
  /** A thread (first or replacement) is ready for work. */
  onReady(worker: HostedWorker<In>, info: Ready): void
  /** One of the owner's messages from a ready thread. */
  onMessage(worker: HostedWorker<In>, message: Out): void
  /** A ready thread exited: fail the work it held. Unless the host is closing, a replacement starts next. */
  onExit(worker: HostedWorker<In>, code: number): void
  /** How long close() waits for a thread to release its resources before terminating it (default 5 s). */
  closeTimeoutMs?: number
}

interface Thread {
  worker: WorkerLike
  ready: boolean
  /** Set by close(): the thread answered 'closed'. */
  onClosed?: () => void
  /** Set by close(): the thread is gone. */
  onGone?: () => void
}

export class WorkerHost<Init, In, Out extends { type: string }, Ready = undefined> {
  readonly #o: HostOptions<Init, In, Out, Ready>
  /** Every thread not yet exited, starting or ready. */
  readonly #threads = new Set<Thread>()
  #closing: Promise<void> | null = null

  constructor(options: HostOptions<Init, In, Out, Ready>) {
    if (options.size < 1) throw new RangeError(`${options.name}s: size must be ≥ 1`)
    this.#o = options
  }

  /**
   * Starts every thread; resolves with their ready infos in index order once all are ready. If one
   * cannot start, the others are closed and start() rejects with that thread's error.
   */
  async start(): Promise<Ready[]> {
    const results = await Promise.allSettled(Array.from({ length: this.#o.size }, (_, i) => this.#spawn(i)))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) {
      await this.close()
      throw failed.reason
    }
    return results.map((r) => (r as PromiseFulfilledResult<Ready>).value)
  }

  #spawn(index: number): Promise<Ready> {
    const o = this.#o
    const worker = o.factory(o.init(index), index)
    const hosted: HostedWorker<In> = { index, post: (message, transfer) => worker.postMessage(message, transfer) }
    const thread: Thread = { worker, ready: false }
    this.#threads.add(thread)
    return new Promise<Ready>((resolve, reject) => {
      let started = false
      const failStart = (err: OcrError): void => {
        if (started) return
        started = true
        reject(err)
      }
      worker.on('message', (msg: HostNotice<Ready> | Out) => {
        switch (msg.type) {
          case 'ready': {
            const { info } = msg as Extract<HostNotice<Ready>, { type: 'ready' }>
            started = true
            thread.ready = true
            o.onReady(hosted, info)
            resolve(info)
            return
          }
          case 'init-error':
            failStart(OcrError.fromJSON((msg as Extract<HostNotice<Ready>, { type: 'init-error' }>).error))
            void worker.terminate()
            return
          case 'log': {
            const { level, obj, msg: text } = msg as Extract<HostNotice<Ready>, { type: 'log' }>
            o.logger[level]({ worker: index, ...obj }, text)
            return
          }
          case 'closed':
            thread.onClosed?.()
            return
          default:
            if (thread.ready) o.onMessage(hosted, msg as Out)
        }
      })
      worker.on('error', (err: Error) => {
        o.logger.error({ worker: index, err }, `${o.name} crashed`)
        failStart(new OcrError(o.startError, `${o.name} ${index} failed to start: ${err.message}`, { cause: err }))
      })
      worker.on('exit', (code: number) => {
        this.#threads.delete(thread)
        thread.onGone?.()
        failStart(new OcrError(o.startError, `${o.name} ${index} exited (code ${code}) while starting`))
        if (!thread.ready) return
        thread.ready = false
        o.onExit(hosted, code)
        if (this.#closing) return
        o.logger.warn({ worker: index, code }, `${o.name} exited; starting a replacement`)
        this.#spawn(index).catch((err: unknown) => o.logger.error({ worker: index, err }, `cannot replace ${o.name}`))
      })
    })
  }

  /**
   * Starts no more threads (no replacements either); asks every thread to release what it holds
   * and ends it when it has, or after closeTimeoutMs. Resolves when every thread has exited.
   */
  close(): Promise<void> {
    this.#closing ??= Promise.all(
      [...this.#threads].map(
        (t) =>
          new Promise<void>((resolve) => {
            const end = (): void => {
              clearTimeout(timer)
              void t.worker.terminate()
            }
            const timer = setTimeout(end, this.#o.closeTimeoutMs ?? 5000)
            t.onClosed = end
            t.onGone = () => {
              clearTimeout(timer)
              resolve()
            }
            t.worker.postMessage({ type: 'close' } satisfies CloseNotice)
          }),
      ),
    ).then(() => undefined)
    return this.#closing
  }
}

/**
 * Real worker threads running `script`: compiled JavaScript as it is; a TypeScript source (tests,
 * tsx) through a bootstrap that registers tsx inside the thread first. Threads start with a wider
 * initial V8 old generation (./heap.ts: fewer full collections of the buffers they turn over).
 */
export function threadsRunning<Init>(script: URL, name: string): WorkerFactory<Init> {
  return (workerData, index) => {
    if (workerHeapsWidenedTo() === null) widenWorkerHeaps()
    const options = { workerData, name: `${name}-${index}` }
    if (!script.pathname.endsWith('.ts')) return new Worker(script, options)
    // the package's ESM entry (require.resolve gives the CJS twin, which cannot register ESM hooks here)
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href
    const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(script.href)}) })`
    return new Worker(code, { ...options, eval: true })
  }
}

/** The script `name` beside the module at `moduleUrl`: `name.ts` beside a TypeScript source, `name.js` when compiled. */
export function scriptBeside(moduleUrl: string, name: string): URL {
  return new URL(`./${name}${moduleUrl.endsWith('.ts') ? '.ts' : '.js'}`, moduleUrl)
}
