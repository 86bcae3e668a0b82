/**
 * The model server's worker pool (src/model-server/pool.ts) on fake workers: no threads, no ONNX.
 * A run goes to the ready worker with the fewest runs in flight; a worker that exits fails its
 * own runs (MODEL_ERROR) and is replaced while the others keep serving; start reports the models'
 * tensor names or the first load failure; a closing pool refuses runs.
 */
import { describe, expect, it } from 'vitest'
import type { Feeds } from '../../src/inference/backend.js'
import { silentLogger } from '../../src/logger.js'
import { WorkerPool } from '../../src/model-server/pool.js'
import type { WorkerInit } from '../../src/model-server/worker.js'
import { fakeThreads, readyAndCloses, settled, until, type FakeThreads, type FakeWorker } from '../helpers/fake-workers.js'

const IO = { 'ocr_rec/1': { inputNames: ['x'], outputNames: ['softmax'] } }

function pool(size: number, threads: FakeThreads<WorkerInit>): WorkerPool {
  return new WorkerPool({ size, models: [{ key: 'ocr_rec/1', path: '/models/ocr_rec/1/model.onnx' }], device: 'cpu', threads: 1, logger: silentLogger, workers: threads.factory })
}

const feeds = (v: number): Feeds => ({ x: { type: 'float32', dims: [1], data: new Float32Array([v]) } })
const runsOf = (w: FakeWorker<WorkerInit>) => w.sent('run')
/** The worker answers run `id` with y = 2x. */
function answer(w: FakeWorker<WorkerInit>, id: unknown): void {
  const run = runsOf(w).find((r) => r.id === id)!
  const x = ((run.feeds as Feeds).x!.data as Float32Array)[0]!
  w.say({ type: 'result', id, outputs: { y: { type: 'float32', dims: [1], data: new Float32Array([2 * x]) } } })
}

describe('model-server worker pool', () => {
  it("starts every worker with the models to load and resolves with their tensor names", async () => {
    const threads = fakeThreads<WorkerInit>((w) => readyAndCloses(w, IO))
    const p = pool(2, threads)
    expect(await p.start()).toEqual(IO)
    expect(threads.made.map((w) => w.init)).toEqual([
      { models: [{ key: 'ocr_rec/1', path: '/models/ocr_rec/1/model.onnx' }], device: 'cpu', threads: 1 },
      { models: [{ key: 'ocr_rec/1', path: '/models/ocr_rec/1/model.onnx' }], device: 'cpu', threads: 1 },
    ])
    expect(p.readyWorkers).toBe(2)
    await p.close()
  })

  it('a run goes to the worker with the fewest runs in flight; each result reaches its caller', async () => {
    const threads = fakeThreads<WorkerInit>((w) => readyAndCloses(w, IO))
    const p = pool(2, threads)
    await p.start()
    const [w0, w1] = threads.made
    const runs = [1, 2, 3].map((v) => p.run('ocr_rec/1', feeds(v), ['y']))
    // 1 → w0, 2 → w1 (w0 has one), 3 → w0 (a tie goes to the first)
    expect(runsOf(w0!).map((r) => r.key)).toEqual(['ocr_rec/1', 'ocr_rec/1'])
    expect(runsOf(w1!)).toHaveLength(1)
    answer(w1!, runsOf(w1!)[0]!.id)
    await runs[1]
    const fourth = p.run('ocr_rec/1', feeds(4), ['y'])
    expect(runsOf(w1!)).toHaveLength(2)
    for (const r of runsOf(w0!)) answer(w0!, r.id)
    answer(w1!, runsOf(w1!)[1]!.id)
    const values = await Promise.all([...runs, fourth])
    expect(values.map((o) => (o.y!.data as Float32Array)[0])).toEqual([2, 4, 6, 8])
    await p.close()
  })

  it("a worker's error answer rejects that run with the error's code", async () => {
    const threads = fakeThreads<WorkerInit>((w) => readyAndCloses(w, IO))
    const p = pool(1, threads)
    await p.start()
    const run = p.run('ocr_rec/1', feeds(1), ['y'])
    threads.at(0).say({ type: 'error', id: runsOf(threads.at(0))[0]!.id, error: { code: 'MODEL_ERROR', message: 'inference failed: bad shape' } })
    await expect(run).rejects.toMatchObject({ code: 'MODEL_ERROR', message: 'inference failed: bad shape' })
    await p.close()
  })

  it('a worker that exits fails its own runs (MODEL_ERROR) and is replaced; the other keeps serving', async () => {
    const threads = fakeThreads<WorkerInit>((w) => readyAndCloses(w, IO))
    const p = pool(2, threads)
    await p.start()
    const [w0, w1] = threads.made
    const lost = settled(p.run('ocr_rec/1', feeds(1), ['y']))
    const kept = p.run('ocr_rec/1', feeds(2), ['y'])
    w0!.exit(134)
    await until('the lost run to fail', () => lost.done)
    expect(lost.error).toMatchObject({ code: 'MODEL_ERROR', message: 'model-server worker 0 exited (code 134) during inference' })
    answer(w1!, runsOf(w1!)[0]!.id)
    expect((await kept).y!.data).toEqual(new Float32Array([4]))
    await until('the replacement', () => p.readyWorkers === 2)
    expect(threads.made).toHaveLength(3)
    const next = p.run('ocr_rec/1', feeds(3), ['y'])
    const replacement = threads.at(0)
    expect(runsOf(replacement)).toHaveLength(1)
    answer(replacement, runsOf(replacement)[0]!.id)
    expect((await next).y!.data).toEqual(new Float32Array([6]))
    await p.close()
  })

  it('a worker that cannot load its models fails start with that error; the other workers are stopped', async () => {
    const threads = fakeThreads<WorkerInit>((w) => {
      if (w.index === 1) w.say({ type: 'init-error', error: { code: 'MODEL_ERROR', message: 'cannot load model: truncated' } })
      else readyAndCloses(w, IO)
    })
    await expect(pool(2, threads).start()).rejects.toMatchObject({ code: 'MODEL_ERROR', message: 'cannot load model: truncated' })
    await until('every worker gone', () => threads.made.every((w) => w.exited))
  })

  it('no ready worker: NOT_READY; closing: SHUTTING_DOWN, and each worker is asked to release its sessions', async () => {
    const threads = fakeThreads<WorkerInit>((w) => readyAndCloses(w, IO))
    const p = pool(1, threads)
    await expect(p.run('ocr_rec/1', feeds(1), ['y'])).rejects.toMatchObject({ code: 'NOT_READY', retryAfterSec: 1 })
    await p.start()
    await p.close()
    await expect(p.run('ocr_rec/1', feeds(1), ['y'])).rejects.toMatchObject({ code: 'SHUTTING_DOWN' })
    expect(threads.at(0).sent('close')).toHaveLength(1)
    expect(threads.at(0).exited).toBe(true)
  })
})
