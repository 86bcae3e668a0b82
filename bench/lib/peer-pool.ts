/**
 * Guten OCR (@gutenye/ocr-node) in worker threads: N workers, each with its own instance and T
 * ONNX Runtime intra-op threads, reading a list of images as a pool (bench/lib/guten-worker.mjs).
 * Guten's own run() blocks the thread it runs on, so worker threads are how it can use several
 * cores for several images; used by bench/guten-config.ts and by `npm run bench` (Guten's best
 * throughput configuration).
 */
import { Worker } from 'node:worker_threads'

const WORKER = new URL('./guten-worker.mjs', import.meta.url)

export interface ModelTimes {
  det: number
  rec: number
  detCalls: number
  recCalls: number
}

export interface Pool {
  name: string
  workers: Worker[]
  /** images/s, and per-image answers (lines, ms, ONNX Runtime time per network) by path. */
  run(paths: readonly string[]): Promise<number>
  last: Map<string, { lines: number; ms: number; model: ModelTimes }>
  close(): Promise<void>
}

export async function createPool(n: number, threads: number): Promise<Pool> {
  const onnxOptions = threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}
  const workers = await Promise.all(
    Array.from({ length: n }, async () => {
      const w = new Worker(WORKER, { workerData: { onnxOptions } })
      await new Promise<void>((ok, fail) => {
        w.once('message', () => ok())
        w.once('error', fail)
      })
      return w
    }),
  )
  const last = new Map<string, { lines: number; ms: number; model: ModelTimes }>()
  const readOn = (w: Worker, path: string): Promise<void> =>
    new Promise((ok, fail) => {
      // one listener pair per read, both removed when it ends (no listeners pile up on the worker)
      const onError = (err: Error): void => {
        w.off('message', onMessage)
        fail(err)
      }
      const onMessage = (m: { lines: number; ms: number; model: ModelTimes }): void => {
        w.off('error', onError)
        last.set(path, m)
        ok()
      }
      w.once('message', onMessage)
      w.once('error', onError)
      w.postMessage(path)
    })
  return {
    name: `${n} × ${threads || 'default'}`,
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

