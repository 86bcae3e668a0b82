import { describe, expect, it } from 'vitest'
import type { Tensor } from '../src/inference/backend.js'
import { rightPadding } from '../bench/lib/recording.js'
import { fmt, markdownTable, mean, median, percentile, percentileSorted, ratio, round, sum, summarize } from '../bench/lib/stats.js'

describe('percentile (linear interpolation between closest ranks)', () => {
  const cases: [values: number[], p: number, expected: number][] = [
    [[5], 0, 5],
    [[5], 99, 5],
    [[1, 2, 3, 4], 0, 1],
    [[1, 2, 3, 4], 100, 4],
    [[1, 2, 3, 4], 50, 2.5],
    [[4, 1, 3, 2], 50, 2.5], // unsorted input
    [[1, 2, 3, 4, 5], 50, 3],
    [[1, 2, 3, 4, 5], 25, 2],
    [[10, 20], 95, 19.5],
    // numpy.percentile(range(1, 101), 99) = 99.01
    [Array.from({ length: 100 }, (_, i) => i + 1), 99, 99.01],
    [Array.from({ length: 100 }, (_, i) => i + 1), 95, 95.05],
  ]
  it.each(cases)('percentile(%j, %d) = %d', (values, p, expected) => {
    expect(percentile(values, p)).toBeCloseTo(expected, 10)
  })

  it('does not reorder its input', () => {
    const values = [3, 1, 2]
    percentile(values, 50)
    expect(values).toEqual([3, 1, 2])
  })

  it('is NaN for an empty sample and rejects p outside [0, 100]', () => {
    expect(percentile([], 50)).toBeNaN()
    expect(() => percentile([1], -1)).toThrow(RangeError)
    expect(() => percentile([1], 101)).toThrow(RangeError)
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError)
  })

  it('percentileSorted agrees with percentile on sorted input', () => {
    const sorted = [1, 1, 2, 3, 5, 8, 13, 21]
    for (const p of [0, 10, 33, 50, 90, 99, 100]) expect(percentileSorted(sorted, p)).toBe(percentile(sorted, p))
  })
})

describe('summaries', () => {
  it('summarize gives n, mean, min, max and percentiles', () => {
    const s = summarize([4, 2, 8, 6])
    expect(s.n).toBe(4)
    expect(s.mean).toBe(5)
    expect(s.min).toBe(2)
    expect(s.max).toBe(8)
    expect(s.p50).toBe(5)
    expect(s.p95).toBeCloseTo(7.7, 10)
    expect(s.p99).toBeCloseTo(7.94, 10)
  })

  it('summarize of nothing is all NaN, n = 0', () => {
    const s = summarize([])
    expect(s.n).toBe(0)
    for (const k of ['mean', 'min', 'max', 'p50', 'p95', 'p99'] as const) expect(s[k]).toBeNaN()
  })

  it('sum, mean and median', () => {
    expect(sum([])).toBe(0)
    expect(sum([1.5, 2.5])).toBe(4)
    expect(mean([])).toBeNaN()
    expect(mean([1, 2, 6])).toBe(3)
    expect(median([7, 1, 3])).toBe(3)
  })
})

describe('ratio, round, fmt', () => {
  it('ratio is null when it cannot be formed', () => {
    expect(ratio(3, 2)).toBe(1.5)
    expect(ratio(0, 2)).toBe(0)
    expect(ratio(3, 0)).toBeNull()
    expect(ratio(3, -1)).toBeNull()
    expect(ratio(null, 2)).toBeNull()
    expect(ratio(2, undefined)).toBeNull()
    expect(ratio(Number.NaN, 2)).toBeNull()
    expect(ratio(2, Number.POSITIVE_INFINITY)).toBeNull()
  })

  it('round keeps JSON free of NaN and Infinity', () => {
    expect(round(1.23456, 2)).toBe(1.23)
    expect(round(1.235, 0)).toBe(1)
    expect(round(Number.NaN)).toBeNull()
    expect(round(Number.POSITIVE_INFINITY)).toBeNull()
    expect(round(null)).toBeNull()
  })

  it('fmt prints a dash for missing values', () => {
    expect(fmt(1.26, 1)).toBe('1.3')
    expect(fmt(null)).toBe('–')
    expect(fmt(Number.NaN)).toBe('–')
  })
})

describe('markdownTable', () => {
  it('pads cells, right-aligns numbers by default and left-aligns the first column', () => {
    const t = markdownTable(['engine', 'ms'], [['ocrserve', '12'], ['x', '1234']])
    expect(t.split('\n')).toEqual([
      '| engine   |   ms |',
      '|:---------|-----:|',
      '| ocrserve |   12 |',
      '| x        | 1234 |',
    ])
  })

  it('measures width in code points (CJK and ×)', () => {
    const t = markdownTable(['名字', 'size'], [['中文', '2×3']], ['l', 'l'])
    expect(t.split('\n')[2]).toBe('| 中文  | 2×3  |')
  })

  it('rejects rows of the wrong length', () => {
    expect(() => markdownTable(['a', 'b'], [['1']])).toThrow(RangeError)
  })
})

describe('rightPadding (zero columns at the right of recogniser inputs)', () => {
  /** [n, c, h, w] tensor where sample s has `filled[s]` non-zero columns on the left. */
  function tensor(n: number, c: number, h: number, w: number, filled: number[]): Tensor {
    const data = new Float32Array(n * c * h * w)
    for (let s = 0; s < n; s++)
      for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < filled[s]!; x++) data[((s * c + ch) * h + y) * w + x] = -0.5
    return { type: 'float32', dims: [n, c, h, w], data }
  }

  it('counts trailing all-zero columns per sample', () => {
    expect(rightPadding(tensor(2, 3, 4, 10, [10, 4]))).toEqual({ columns: 20, paddedColumns: 6 })
    expect(rightPadding(tensor(1, 3, 2, 5, [0]))).toEqual({ columns: 5, paddedColumns: 5 })
  })

  it('a column with a single non-zero value in any channel is not padding', () => {
    const t = tensor(1, 3, 4, 6, [2])
    ;(t.data as Float32Array)[(2 * 4 + 3) * 6 + 4] = 0.25 // channel 2, row 3, column 4
    expect(rightPadding(t)).toEqual({ columns: 6, paddedColumns: 1 })
  })

  it('zero columns inside the text are not counted', () => {
    const t = tensor(1, 1, 1, 6, [6])
    ;(t.data as Float32Array)[2] = 0
    expect(rightPadding(t)).toEqual({ columns: 6, paddedColumns: 0 })
  })

  it('ignores tensors that are not 4-D float', () => {
    expect(rightPadding({ type: 'int32', dims: [1, 1, 1, 2], data: new Int32Array(2) })).toEqual({ columns: 0, paddedColumns: 0 })
    expect(rightPadding({ type: 'float32', dims: [4], data: new Float32Array(4) })).toEqual({ columns: 0, paddedColumns: 0 })
  })
})
