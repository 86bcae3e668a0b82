/**
 * The short soak for CI (the long one: `npm run soak -- --requests 10000`, figures in
 * docs/RELIABILITY.md): a few hundred mixed good and bad requests against `ocrserve serve`, RSS
 * and heap sampled along the way. Every good image is read, nothing is a 5xx or a dropped
 * connection, and memory is flat after the warm-up: measured per request from the first sample
 * after it to the last, RSS grows by less than 0.5 MiB (garbage collection and ONNX Runtime's
 * arenas move it by tens of MiB over the run; a leak of 1 MiB per request is twice the bound) and
 * the main thread's heap by less than 0.25 MiB (it swings about 15 MiB with garbage collection).
 */
import { describe, expect, it } from 'vitest'
import { runSoak } from '../../bench/soak.js'
import { buildOnce } from '../helpers/build.js'

describe('soak (short)', () => {
  it('160 requests: all answered as expected, memory flat after warm-up', async () => {
    await buildOnce()
    const report = await runSoak({ requests: 160, sampleEvery: 40, warmup: 40, concurrency: 4, env: { OCR_WORKERS: '1' }, log: () => {} })
    expect(report.exitedEarly).toBe(false)
    expect(report.networkErrors).toBe(0)
    expect(report.wrongReads).toBe(0)
    expect(Object.keys(report.statuses).sort()).toEqual(['200', '400', '415', '422'])
    expect(Object.values(report.statuses).reduce((a, b) => a + b, 0)).toBe(160)
    expect(report.samples.map((s) => s.requests)).toEqual([0, 40, 80, 120, 160])
    const afterWarmup = report.samples.find((s) => s.requests >= 40)!
    const end = report.samples.at(-1)!
    const perRequest = (from: number, to: number): number => (to - from) / (end.requests - afterWarmup.requests)
    expect(perRequest(afterWarmup.rssMiB, end.rssMiB)).toBeLessThan(0.5)
    expect(perRequest(afterWarmup.heapUsedMiB, end.heapUsedMiB)).toBeLessThan(0.25)
  }, 300_000)
})
