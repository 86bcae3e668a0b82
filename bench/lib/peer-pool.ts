/**
 * An in-process peer engine (bench/lib/engines.ts: guten or ppu) in worker threads: N workers,
 * each with its own instance and T ONNX Runtime intra-op threads, reading a list of images as a
 * pool (bench/lib/peer-worker.mjs). The peers' run() blocks the thread it runs on, so worker
 * threads are how they can use several cores for several images; used by bench/guten-config.ts
 * and by `npm run bench` (a peer's throughput layout: one instance per core, as ocrserve's
 * default).
 */
import { Worker } from 'node:worker_threads'
import type { EngineName } from './engines.js'

const WORKER = new URL('./peer-worker.mjs', import.meta.url)

export interface ModelTimes {
  det: number
  rec: number
  detCalls: number
  recCalls: number
}

export interface ReadStats {
  lines: number
  ms: number
  model: ModelTimes
}

type WorkerMessage = ReadStats | { error: { message: string; stack?: string } } | { ready: string }

export interface Pool {
  name: string
  /** The engine's own description (version, settings), from the first worker. */
  describe: string
  workers: Worker[]
  /** Reads every path once, `workers` at a time; resolves to images/s. */
  run(paths: readonly string[]): Promise<number>
  /** Per path, what its last read gave: lines, ms, ONNX Runtime time per network. */
  last: Map<string, ReadStats>
  close(): Promise<void>
}

/** `threads` 0: the engine's default ONNX Runtime threads. */
export async function createPool(engine: Exclude<EngineName, 'ocrserve' | 'tesseract'>, n: number, threads: number): Promise<Pool> {
  const workers = Array.from({ length: n }, () => new Worker(WORKER, { workerData: { engine, threads } }))
  let described: string[]
  try {
    described = await Promise.all(workers.map((w) => reply(w).then((m) => ('ready' in m ? m.ready : ''))))
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()))
    throw err
  }
  const last = new Map<string, ReadStats>()
  const readOn = async (w: Worker, path: string): Promise<void> => {
    const answer = reply(w)
    w.postMessage(path)
    const m = await answer
    if ('lines' in m) last.set(path, m)
  }
  return {
    name: `${n} × ${threads || 'default'}`,
    describe: described[0] ?? engine,
    workers,
    last,
    async run(paths) {
      const t0 = performance.now()
      let next = 0
      await Promise.all(
        workers.map(async (w) => {
          while (next < paths.length) await readOn(w, paths[next++]!)
        }),
      )
      return paths.length / ((performance.now() - t0) / 1000)
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()))
    },
  }
}

/** The worker's next message; a worker error, or an error it reports, rejects. */
function reply(w: Worker): Promise<WorkerMessage> {
  return new Promise((ok, fail) => {
    // one listener pair per message, both removed when it comes (no listeners pile up on the worker)
    const onError = (err: Error): void => {
      w.off('message', onMessage)
      fail(err)
    }
    const onMessage = (m: WorkerMessage): void => {
      w.off('error', onError)
      if ('error' in m) {
        const err = new Error(m.error.message)
        if (m.error.stack) err.stack = m.error.stack
        fail(err)
      } else ok(m)
    }
    w.once('message', onMessage)
    w.once('error', onError)
  })
}
