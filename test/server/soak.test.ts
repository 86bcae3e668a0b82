/**
 * The short soak for CI (the long one: `npm run soak -- --requests 10000`, figures in
 * docs/RELIABILITY.md): a few hundred mixed good and bad requests against `ocrserve serve`, RSS
 * and heap sampled along the way. Every good image is read, nothing is a 5xx or a dropped
 * connection, and RSS after the warm-up does not run away (a loose bound: a short run is noisy,
 * while a leak of even 1 MiB per request would double it).
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
    for (const s of report.samples) {
      expect(s.rssMiB).toBeGreaterThan(50)
      expect(s.heapUsedMiB).toBeGreaterThan(1)
    }
    expect(report.rssGrowth).toBeLessThan(0.5)
  }, 300_000)
})
