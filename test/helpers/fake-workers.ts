/**
 * Worker threads simulated in this thread, for the worker host's owners (the scheduler, the model
 * server's pool): a FakeWorker records every message it is sent and delivers what the test makes
 * it say after a turn of the event loop, as a thread's messages arrive. Nothing is cloned: tests
 * see the very objects the owner posted.
 */
import { EventEmitter } from 'node:events'
import type { WorkerFactory, WorkerLike } from '../../src/workers/host.js'

export interface Posted {
  type: string
  [field: string]: unknown
}

/** One turn of the event loop. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export class FakeWorker<Init = unknown> extends EventEmitter implements WorkerLike {
  /** Every message the owner posted to this worker, in order (also any posted after it exited). */
  readonly received: Posted[] = []
  exited = false

  constructor(
    readonly index: number,
    readonly init: Init,
  ) {
    super()
  }

  postMessage(message: unknown): void {
    this.received.push(message as Posted)
    if (!this.exited) this.emit('posted', message)
  }

  /** A message from the thread to the owner (delivered on the next turn, unless the thread has exited). */
  say(message: unknown): void {
    setImmediate(() => {
      if (!this.exited) this.emit('message', message)
    })
  }

  /** The thread ends with `code` (a crash: 1). */
  exit(code = 1): void {
    if (this.exited) return
    this.exited = true
    setImmediate(() => this.emit('exit', code))
  }

  terminate(): Promise<number> {
    this.exit(1)
    return Promise.resolve(1)
  }

  /** The messages of one type it was sent. */
  sent(type: string): Posted[] {
    return this.received.filter((m) => m.type === type)
  }
}

export interface FakeThreads<Init> {
  factory: WorkerFactory<Init>
  /** Every worker made, replacements included, in order. */
  made: FakeWorker<Init>[]
  /** The latest worker made for `index`. */
  at(index: number): FakeWorker<Init>
}

/**
 * A factory of fake workers; `behave` sets each one up as it is made (by default: ready at once,
 * and answering a close with closed, as a thread that releases its resources does).
 */
export function fakeThreads<Init>(behave: (w: FakeWorker<Init>) => void = readyAndCloses): FakeThreads<Init> {
  const made: FakeWorker<Init>[] = []
  return {
    made,
    factory: (init, index) => {
      const w = new FakeWorker(index, init)
      made.push(w)
      behave(w)
      return w
    },
    at: (index) => made.filter((w) => w.index === index).at(-1)!,
  }
}

/** A thread that starts at once and releases everything when closed. */
export function readyAndCloses(w: FakeWorker<unknown>, info?: unknown): void {
  w.say({ type: 'ready', info })
  w.on('posted', (m: Posted) => {
    if (m.type === 'close') w.say({ type: 'closed' })
  })
}

/** Waits (turns of the event loop, not time) until `test()` holds. */
export async function until(what: string, test: () => boolean, turns = 2000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (test()) return
    await turn()
  }
  throw new Error(`never happened: ${what}`)
}

/** A promise's outcome once it has settled: its value, or its error. */
export function settled<T>(p: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false }
  p.then(
    (value) => Object.assign(s, { done: true, value }),
    (error: unknown) => Object.assign(s, { done: true, error }),
  )
  return s
}
