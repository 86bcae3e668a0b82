/**
 * The model server's dynamic batcher: concurrent requests merge along dim 0 (up to the maximum,
 * only when their other dims and requested outputs agree), each gets back exactly its own rows,
 * and the queue bound, delays, cancellation and failures behave.
 */
import { describe, expect, it } from 'vitest'
import type { Feeds, Tensor } from '../../src/inference/backend.js'
import { DynamicBatcher, batchKey, concatBatch, splitBatch, type BatcherOptions } from '../../src/model-server/batcher.js'

/** A request of `batch` rows of width `w`; row r holds the value `id * 1000 + r` everywhere. */
function request(id: number, batch: number, w = 4): Feeds {
  const data = new Float32Array(batch * w)
  for (let r = 0; r < batch; r++) data.fill(id * 1000 + r, r * w, (r + 1) * w)
  return { x: { type: 'float32', dims: [batch, w], data } }
}

/** A fake model: y = row sum of x (one value per row), recording each execution's batch size. */
function model(executions: number[], delayMs = 5): BatcherOptions['execute'] {
  return async (feeds) => {
    const x = feeds.x!
    const [n, w] = x.dims as [number, number]
    executions.push(n)
    await new Promise((r) => setTimeout(r, delayMs))
    const y = new Float32Array(n)
    for (let r = 0; r < n; r++) for (let c = 0; c < w; c++) y[r]! += x.data[r * w + c] as number
    return { y: { type: 'float32', dims: [n, 1], data: y } }
  }
}

function batcher(over: Partial<BatcherOptions> & Pick<BatcherOptions, 'execute'>): DynamicBatcher {
  return new DynamicBatcher({ maxBatchSize: 8, batching: true, maxQueueDelayMs: 5, preferredBatchSizes: [], concurrency: 1, maxQueue: 100, ...over })
}

describe('DynamicBatcher', () => {
  it('merges concurrent requests and splits the results back to each request', async () => {
    const executions: number[] = []
    const b = batcher({ execute: model(executions), maxQueueDelayMs: 20 })
    const sizes = [1, 3, 2, 1, 2]
    const results = await Promise.all(sizes.map((n, id) => b.submit(request(id + 1, n), ['y'])))
    results.forEach((out, i) => {
      const y = out.y!
      expect(y.dims).toEqual([sizes[i], 1])
      // row r of request id has the sum 4 * (id * 1000 + r)
      expect([...y.data]).toEqual(Array.from({ length: sizes[i]! }, (_, r) => 4 * ((i + 1) * 1000 + r)))
    })
    // 9 rows, at most 8 per execution: fewer executions than requests, none over the limit
    expect(executions.length).toBeLessThan(sizes.length)
    expect(Math.max(...executions)).toBeLessThanOrEqual(8)
    expect(executions.reduce((a, b2) => a + b2, 0)).toBe(9)
  })

  it('keeps requests with different non-batch dims or outputs apart', async () => {
    const executions: number[] = []
    const b = batcher({ execute: model(executions), maxQueueDelayMs: 20 })
    const [a, c, d] = await Promise.all([b.submit(request(1, 1, 4), ['y']), b.submit(request(2, 1, 6), ['y']), b.submit(request(3, 1, 4), ['y'])])
    expect(a.y!.data[0]).toBe(4 * 1000)
    expect(c.y!.data[0]).toBe(6 * 2000)
    expect(d.y!.data[0]).toBe(4 * 3000)
    expect(executions.sort()).toEqual([1, 2]) // requests 1 and 3 together, request 2 alone
    expect(batchKey(request(1, 1, 4), ['y'])).not.toBe(batchKey(request(1, 1, 4), ['z']))
  })

  it('runs requests one by one when batching is off, within the concurrency limit', async () => {
    const executions: number[] = []
    let running = 0
    let peak = 0
    const inner = model(executions, 10)
    const b = batcher({
      batching: false,
      concurrency: 2,
      execute: async (f, o) => {
        peak = Math.max(peak, ++running)
        try {
          return await inner(f, o)
        } finally {
          running--
        }
      },
    })
    await Promise.all([1, 2, 3, 4, 5].map((id) => b.submit(request(id, 2), ['y'])))
    expect(executions).toEqual([2, 2, 2, 2, 2])
    expect(peak).toBe(2)
  })

  it('waits up to the queue delay for a fuller batch, and no longer', async () => {
    const executions: number[] = []
    const b = batcher({ execute: model(executions, 1), maxQueueDelayMs: 40 })
    const t0 = performance.now()
    const first = b.submit(request(1, 1), ['y'])
    await new Promise((r) => setTimeout(r, 10))
    const second = b.submit(request(2, 1), ['y'])
    await Promise.all([first, second])
    expect(executions).toEqual([2])
    const elapsed = performance.now() - t0
    expect(elapsed).toBeGreaterThanOrEqual(35)
    expect(elapsed).toBeLessThan(500)
  })

  it('dispatches at once when a preferred size or the maximum is reached', async () => {
    const executions: number[] = []
    const b = batcher({ execute: model(executions, 1), maxQueueDelayMs: 5_000, preferredBatchSizes: [2] })
    const t0 = performance.now()
    await Promise.all([b.submit(request(1, 1), ['y']), b.submit(request(2, 1), ['y'])])
    expect(executions).toEqual([2])
    expect(performance.now() - t0).toBeLessThan(1000)
    const b2 = batcher({ execute: model(executions, 1), maxQueueDelayMs: 5_000, maxBatchSize: 3 })
    const t1 = performance.now()
    await b2.submit(request(3, 3), ['y'])
    expect(performance.now() - t1).toBeLessThan(1000)
  })

  it('bounds the queue with OVERLOADED and cancels queued requests', async () => {
    const b = batcher({ execute: model([], 30), batching: false, maxQueue: 2 })
    const running = b.submit(request(1, 1), ['y']) // dispatched at once
    const q1 = b.submit(request(2, 1), ['y'])
    const ac = new AbortController()
    const q2 = b.submit(request(3, 1), ['y'], ac.signal)
    await expect(b.submit(request(4, 1), ['y'])).rejects.toMatchObject({ code: 'OVERLOADED', retryAfterSec: 1 })
    ac.abort()
    await expect(q2).rejects.toMatchObject({ code: 'CANCELLED' })
    expect(b.queued).toBe(1)
    await Promise.all([running, q1])
    expect(b.queued).toBe(0)
  })

  it('fails every request of a failed batch, and of an output that cannot be split', async () => {
    const b = batcher({ execute: async () => Promise.reject(new Error('session exploded')), maxQueueDelayMs: 20 })
    const all = await Promise.allSettled([b.submit(request(1, 1), ['y']), b.submit(request(2, 1), ['y'])])
    expect(all.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    const bad = batcher({ execute: async () => ({ y: { type: 'float32', dims: [1], data: new Float32Array(1) } as Tensor }), maxQueueDelayMs: 20 })
    const split = await Promise.allSettled([bad.submit(request(1, 1), ['y']), bad.submit(request(2, 1), ['y'])])
    for (const r of split) expect(r.status === 'rejected' && (r.reason as { code: string }).code).toBe('MODEL_ERROR')
  })

  it('rejects what is still queued on close', async () => {
    const b = batcher({ execute: model([], 20), batching: false })
    const first = b.submit(request(1, 1), ['y'])
    const queued = b.submit(request(2, 1), ['y'])
    b.close()
    await expect(queued).rejects.toMatchObject({ code: 'SHUTTING_DOWN' })
    await expect(first).resolves.toBeDefined()
    await expect(b.submit(request(3, 1), ['y'])).rejects.toMatchObject({ code: 'SHUTTING_DOWN' })
  })
})

describe('concatBatch / splitBatch', () => {
  it('are inverse along dim 0', () => {
    const parts = [request(1, 2, 3), request(2, 1, 3)]
    const merged = concatBatch(parts)
    expect(merged.x!.dims).toEqual([3, 3])
    expect([...merged.x!.data]).toEqual([1000, 1000, 1000, 1001, 1001, 1001, 2000, 2000, 2000])
    const back = splitBatch(merged, [2, 1])
    expect([...back[0]!.x!.data]).toEqual([...parts[0]!.x!.data])
    expect([...back[1]!.x!.data]).toEqual([...parts[1]!.x!.data])
  })
})
