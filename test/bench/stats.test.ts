import { describe, expect, it } from 'vitest'
import type { Tensor } from '../../src/inference/backend.js'
import { rightPadding } from '../../bench/lib/recording.js'
import { cpuPerImage, pooled, throughputRounds, type Contestant } from '../../bench/lib/rounds.js'
import { fmt, fmtSpread, markdownTable, mean, median, pairedRatios, percentile, percentileSorted, ratio, relativeRange, rotation, round, spread, spreadJson, sum, summarize } from '../../bench/lib/stats.js'

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

describe('spreads of repeated measures', () => {
  it('spread gives the count, least, median and largest value, leaving out missing rounds', () => {
    expect(spread([2.1, 1.9, 2.5])).toEqual({ n: 3, min: 1.9, median: 2.1, max: 2.5 })
    expect(spread([4, null, 2, Number.NaN, undefined, 3, 5])).toEqual({ n: 4, min: 2, median: 3.5, max: 5 })
    expect(spread([7])).toEqual({ n: 1, min: 7, median: 7, max: 7 })
    expect(spread([])).toBeNull()
    expect(spread([null, Number.POSITIVE_INFINITY])).toBeNull()
  })

  it('relativeRange is (max − min) / median', () => {
    expect(relativeRange({ n: 3, min: 0.9, median: 1, max: 1.2 })).toBeCloseTo(0.3, 12)
    expect(relativeRange(spread([5, 5]))).toBe(0)
    expect(relativeRange(null)).toBeNull()
    expect(relativeRange({ n: 2, min: -1, median: 0, max: 1 })).toBeNull()
  })

  it('pairedRatios divides round by round and skips rounds where a ratio cannot be formed', () => {
    expect(pairedRatios([4, 6, 9], [2, 3, 3])).toEqual([2, 2, 3])
    expect(pairedRatios([4, null, 9, 1], [2, 3, 0, 4])).toEqual([2, 0.25])
    // a round one side lacks (fewer rounds) is left out
    expect(pairedRatios([1, 2, 3], [1, 1])).toEqual([1, 2])
  })

  it('the spread of the ratios is not the ratio of the spreads', () => {
    // ocrserve and a peer both slowed down in round 2 (a busy machine): per-round ratios stay close
    const ocr = [4, 2, 4.2]
    const peer = [2, 1, 2]
    expect(spread(pairedRatios(ocr, peer))).toEqual({ n: 3, min: 2, median: 2, max: 2.1 })
    expect(spread(ocr)!.max / spread(peer)!.min).toBe(4.2)
  })

  it('fmtSpread prints median (min–max), a lone value alone, a dash for none', () => {
    expect(fmtSpread(spread([1.234, 1.1, 1.31]), 2)).toBe('1.23 (1.10–1.31)')
    expect(fmtSpread(spread([0.5]), 3)).toBe('0.500')
    expect(fmtSpread(null)).toBe('–')
  })

  it('spreadJson rounds and keeps the round count', () => {
    expect(spreadJson(spread([1.23456, 1.1, 1.4]), 2)).toEqual({ median: 1.23, min: 1.1, max: 1.4, n: 3 })
    expect(spreadJson(null)).toBeNull()
  })

  it('rotation lets each contestant go first once every n rounds', () => {
    expect(rotation(3, 0)).toEqual([0, 1, 2])
    expect(rotation(3, 1)).toEqual([1, 2, 0])
    expect(rotation(3, 2)).toEqual([2, 0, 1])
    expect(rotation(3, 3)).toEqual([0, 1, 2])
    expect(rotation(0, 5)).toEqual([])
    for (let n = 1; n <= 5; n++) {
      const firsts = Array.from({ length: n }, (_, r) => rotation(n, r)[0])
      expect(new Set(firsts).size).toBe(n)
    }
    expect(() => rotation(-1, 0)).toThrow(RangeError)
  })
})

describe('throughput rounds', () => {
  /** A contestant that records when it read, and reports `lines` lines per image. */
  function fake(key: string, log: string[], opts: { warmUp?: boolean; lines?: number } = {}): Contestant<string> {
    return {
      key,
      label: key.toUpperCase(),
      describe: `fake ${key}`,
      mode: 'at once',
      childProcesses: false,
      warmUp: opts.warmUp ?? true,
      async pass(images) {
        log.push(key)
        return { lines: images.map(() => opts.lines ?? 1), latency: images.map(() => 5) }
      },
      close: async () => {},
    }
  }

  it('warms up those that want it, then runs each contestant once per round in a rotating order', async () => {
    const log: string[] = []
    const turns: string[] = []
    const out = await throughputRounds([fake('a', log), fake('b', log, { warmUp: false }), fake('c', log, { lines: 3 })], ['x.png', 'y.png'], 3, (t) => turns.push(t))
    expect(log).toEqual(['a', 'c', 'a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b'])
    expect(turns[0]).toBe('A: warm-up pass')
    expect(turns).toContain('B: round 2 of 3')
    expect(out.map((r) => r.key)).toEqual(['a', 'b', 'c'])
    for (const r of out) {
      expect(r.imgPerSec).toHaveLength(3)
      expect(r.cpuPerImage).toHaveLength(3)
      expect(r.latency).toEqual([[5, 5], [5, 5], [5, 5]])
      for (const x of r.imgPerSec) expect(x).toBeGreaterThan(0)
    }
    expect(out[2]!.lines).toEqual([3, 3])
  })

  it('gives companions their turn in every round, in the same rotation, and no result row', async () => {
    const log: string[] = []
    const floor = { label: 'floor', round: async (r: number) => void log.push(`floor${r}`) }
    const out = await throughputRounds([fake('a', log, { warmUp: false }), fake('b', log, { warmUp: false })], ['x.png'], 3, () => {}, 1, [floor])
    expect(log).toEqual(['a', 'b', 'floor0', 'b', 'floor1', 'a', 'floor2', 'a', 'b'])
    expect(out.map((r) => r.key)).toEqual(['a', 'b'])
  })

  it('reads `copies` copies of the images at once, and keeps lines and latency per image', async () => {
    const seen: string[][] = []
    const c: Contestant<string> = {
      ...fake('x', []),
      async pass(images) {
        seen.push([...images])
        return { lines: images.map((_, i) => i), latency: images.map((_, i) => 10 * i) }
      },
    }
    const [r] = await throughputRounds([c], ['p', 'q', 'r'], 2, () => {}, 2)
    // the warm-up reads the set once, each round reads it twice at once
    expect(seen).toEqual([['p', 'q', 'r'], ['p', 'q', 'r', 'p', 'q', 'r'], ['p', 'q', 'r', 'p', 'q', 'r']])
    expect(r!.lines).toEqual([0, 1, 2])
    expect(r!.latency).toEqual([[0, 10, 20], [0, 10, 20]])
  })

  it('counts the CPU a pass burns, per image', async () => {
    let burned = 0
    const burner: Contestant<number> = {
      ...fake('burn', []),
      async pass(images) {
        const start = process.cpuUsage()
        let x = 0
        while (process.cpuUsage(start).user < 60_000) x += Math.sqrt(x + 1) // 60 ms of CPU
        const used = process.cpuUsage(start)
        burned = (used.user + used.system) / 1e6
        return { lines: images.map(() => (x > 0 ? 1 : 0)), latency: images.map(() => 0) }
      },
    }
    const [r] = await throughputRounds([burner], [1, 2, 3], 1)
    // all of the pass's CPU, shared among the 3 images (the process's other threads may add a little)
    expect(r!.cpuPerImage[0]! * 3).toBeGreaterThanOrEqual(burned)
    expect(r!.cpuPerImage[0]!).toBeLessThan(burned)
  })

  it('cpuPerImage adds the child processes, and gives null without them where they count', () => {
    expect(cpuPerImage({ self: 1, children: 10 }, { self: 3, children: 14 }, 3, true)).toBe(2)
    expect(cpuPerImage({ self: 1, children: 10 }, { self: 3, children: 10 }, 2, false)).toBe(1)
    expect(cpuPerImage({ self: 1, children: null }, { self: 3, children: null }, 2, false)).toBe(1)
    expect(cpuPerImage({ self: 1, children: null }, { self: 3, children: null }, 2, true)).toBeNull()
    expect(cpuPerImage({ self: 1, children: 0 }, { self: 3, children: 0 }, 0, false)).toBeNull()
  })

  it('pooled keeps at most `parallel` reads in flight and returns results in input order', async () => {
    let inFlight = 0
    let most = 0
    const read = async (n: number): Promise<number> => {
      inFlight++
      most = Math.max(most, inFlight)
      await new Promise((r) => setImmediate(r))
      inFlight--
      return n * 10
    }
    const out = await pooled(read, [1, 2, 3, 4, 5], 2)
    expect(most).toBe(2)
    expect(out.lines).toEqual([10, 20, 30, 40, 50])
    expect(out.latency).toHaveLength(5)
  })
})
