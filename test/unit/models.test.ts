import { describe, expect, it } from 'vitest'
import { classDecode, clsDecode } from '../../src/models/cls.js'
import { dbPostprocess, detInputSize, filterBox } from '../../src/models/det-db.js'
import { ctcDecode, ratioBatches } from '../../src/models/rec-ctc.js'
import { ctcCharset, readDictionary } from '../../src/packs/spec.js'
import { detPadding } from '../../src/pipeline/pipeline.js'

describe('detInputSize (DetResizeForTest, limit_type max 960)', () => {
  it.each([
    [[1280, 720], [960, 544]], // 960×540 → 544
    [[300, 187], [288, 192]], // no upscaling; 187 → 192
    [[10, 10], [32, 32]], // min 32
    [[4000, 3000], [960, 704]], // 720 → 704 (round half even of 22.5 = 22)
    [[960, 960], [960, 960]],
  ])('%j → %j', ([w, h], [ew, eh]) => expect(detInputSize(w!, h!, 960, 'max')).toEqual({ width: ew, height: eh }))
  it('limit_type min raises the shorter side', () => expect(detInputSize(100, 50, 736, 'min')).toEqual({ width: 1472, height: 736 }))
  it('minSideLen scales thin line crops up instead of squashing them', () => {
    expect(detInputSize(716, 46, 960, 'max', 64)).toEqual({ width: 992, height: 64 })
    expect(detInputSize(716, 46, 960, 'max', 0)).toEqual({ width: 704, height: 32 })
    // the raise stops where the long side reaches the cap: a 1×20000 strip is not made 64×1,280,000
    expect(detInputSize(716, 46, 960, 'max', 64, 2560)).toEqual({ width: 992, height: 64 })
    expect(detInputSize(1, 20000, 960, 'max', 64, 2560)).toEqual({ width: 32, height: 2560 })
    expect(detInputSize(30, 2000, 960, 'max', 64, 2560)).toEqual({ width: 32, height: 2560 })
  })
})

describe('detPadding', () => {
  it.each([
    [[1000, 700, -1], 32],
    [[100, 30, -1], 8],
    [[300, 150, -1], 15],
    [[300, 150, 0], 0],
    [[300, 150, 5], 5],
  ])('%j → %d', ([w, h, s], want) => expect(detPadding(w!, h!, s!)).toBe(want))
})

describe('dbPostprocess', () => {
  const params = { thresh: 0.3, boxThresh: 0.6, unclipRatio: 1.5, maxCandidates: 1000, minSize: 3 }
  function map(w: number, h: number, rects: [number, number, number, number, number][]): Float32Array {
    const m = new Float32Array(w * h)
    for (const [x0, y0, x1, y1, v] of rects) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[y * w + x] = v
    return m
  }
  it('finds one text region, unclips it and scales to the source image', () => {
    // region x 10..49, y 10..17 on a 64×32 map; source is twice the map size
    const boxes = dbPostprocess(map(64, 32, [[10, 10, 49, 17, 0.9]]), 64, 32, 128, 64, params)
    expect(boxes).toHaveLength(1)
    const [tl, tr, br, bl] = boxes[0]!
    // hull of pixel centres 39×7, offset d = 39·7·1.5/92 ≈ 4.45 → ~47.9 × 15.9 map px
    expect(tl[0]).toBeGreaterThanOrEqual(2 * (10 - 5))
    expect(tl[0]).toBeLessThanOrEqual(2 * (10 - 4))
    expect(tr[0]).toBeGreaterThanOrEqual(2 * (49 + 4))
    expect(tr[0]).toBeLessThanOrEqual(2 * (49 + 5))
    expect(tl[1]).toBeLessThan(2 * 10)
    expect(bl[1]).toBeGreaterThan(2 * 17)
    expect(br).toEqual([tr[0], bl[1]])
  })
  it('drops regions below box_thresh and tiny regions', () => {
    const m = map(64, 32, [
      [5, 5, 40, 12, 0.5], // above thresh 0.3 but mean 0.5 < box_thresh 0.6
      [50, 20, 51, 21, 0.99], // 2×2: short side 1 < min_size 3
    ])
    expect(dbPostprocess(m, 64, 32, 64, 32, params)).toEqual([])
  })
  it('keeps separate regions separate and respects max_candidates', () => {
    const m = map(64, 48, [
      [4, 4, 40, 10, 0.95],
      [4, 24, 40, 30, 0.95],
    ])
    expect(dbPostprocess(m, 64, 48, 64, 48, params)).toHaveLength(2)
    expect(dbPostprocess(m, 64, 48, 64, 48, { ...params, maxCandidates: 1 })).toHaveLength(1)
  })
  it('clips boxes to the image', () => {
    const boxes = dbPostprocess(map(32, 32, [[0, 0, 31, 6, 0.95]]), 32, 32, 32, 32, params)
    for (const [x, y] of boxes.flat()) {
      expect(x).toBeGreaterThanOrEqual(0)
      expect(x).toBeLessThanOrEqual(31)
      expect(y).toBeGreaterThanOrEqual(0)
      expect(y).toBeLessThanOrEqual(31)
    }
  })
})

describe('filterBox (filter_tag_det_res)', () => {
  it.each([
    ['keeps a normal box, ordered', [[50, 20], [10, 10], [50, 10], [10, 20]], [[10, 10], [50, 10], [50, 20], [10, 20]]],
    ['drops boxes 3 px or thinner', [[10, 10], [50, 10], [50, 13], [10, 13]], null],
    ['clips to the image', [[-5, 10], [120, 10], [120, 30], [-5, 30]], [[0, 10], [99, 10], [99, 30], [0, 30]]],
  ])('%s', (_, box, want) => expect(filterBox(box as [number, number][], 100, 50)).toEqual(want))
})

describe('ctcDecode', () => {
  // classes: 0 blank, 1 'a', 2 'b', 3 ' '
  const charset = ['', 'a', 'b', ' ']
  function probs(steps: [number, number][]): Float32Array {
    const C = 4
    const out = new Float32Array(steps.length * C)
    steps.forEach(([cls, p], t) => {
      for (let c = 0; c < C; c++) out[t * C + c] = (1 - p) / (C - 1)
      out[t * C + cls] = p
    })
    return out
  }
  it.each<[string, [number, number][], string, number]>([
    ['collapses repeats', [[1, 0.9], [1, 0.8], [2, 0.7]], 'ab', (0.9 + 0.7) / 2],
    ['a blank separates a real double letter', [[1, 0.9], [0, 0.99], [1, 0.7]], 'aa', (0.9 + 0.7) / 2],
    ['drops blanks', [[0, 0.9], [2, 0.6], [0, 0.9]], 'b', 0.6],
    ['all blank is empty with score 0', [[0, 0.9], [0, 0.9]], '', 0],
    ['space is the last class', [[1, 0.9], [3, 0.8], [2, 0.9]], 'a b', (0.9 + 0.8 + 0.9) / 3],
  ])('%s', (_, steps, text, score) => {
    const d = ctcDecode(probs(steps), steps.length, 4, 0, charset)
    expect(d.text).toBe(text)
    expect(d.score).toBeCloseTo(score, 5)
  })
  it.each<[string, [number, number][], [number, number, number, number][]]>([
    // [class, start, end, prob]: the run of steps each character's arg-max covers, its first step's probability
    ['a run of steps is one character', [[0, 0.9], [1, 0.6], [1, 0.95], [1, 0.8], [0, 0.9], [2, 0.7]], [[1, 1, 4, 0.6], [2, 5, 6, 0.7]]],
    ['a repeated character needs a blank between its runs', [[1, 0.9], [1, 0.9], [0, 0.99], [1, 0.7]], [[1, 0, 2, 0.9], [1, 3, 4, 0.7]]],
    ['characters may follow each other without a blank', [[1, 0.9], [2, 0.8], [2, 0.8]], [[1, 0, 1, 0.9], [2, 1, 3, 0.8]]],
    ['a space the model emitted is a character with its steps', [[1, 0.9], [0, 0.9], [3, 0.6], [3, 0.7], [0, 0.9], [2, 0.9]], [[1, 0, 1, 0.9], [3, 2, 4, 0.6], [2, 5, 6, 0.9]]],
    ['blank runs at both ends', [[0, 0.9], [0, 0.9], [2, 0.8], [0, 0.9], [0, 0.9]], [[2, 2, 3, 0.8]]],
  ])('character steps: %s', (_, steps, want) => {
    const d = ctcDecode(probs(steps), steps.length, 4, 0, charset)
    expect(d.steps).toBe(steps.length)
    expect(d.chars.map((c) => [c.cls, c.start, c.end, c.prob])).toEqual(want.map(([c, a, b, p]) => [c, a, b, expect.closeTo(p, 6)]))
    // the score is the mean of the characters' probabilities
    expect(d.score).toBeCloseTo(want.reduce((s, w) => s + w[3], 0) / want.length, 6)
  })
  it('reads the right sample of a batch', () => {
    const two = new Float32Array([...probs([[1, 0.9], [0, 0.9]]), ...probs([[2, 0.9], [0, 0.9]])])
    expect(ctcDecode(two, 2, 4, 1, charset).text).toBe('b')
  })
  it('stops a step at a class above 0.5 only when the rows are probabilities, and agrees with a full scan', () => {
    // 40 classes, 200 steps of softmax-like rows: a dominant class (p 0.3-0.99) among small ones
    const C = 40
    const T = 200
    const soft = new Float32Array(T * C)
    let seed = 7
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    for (let t = 0; t < T; t++) {
      const k = Math.floor(rnd() * C)
      const p = 0.3 + 0.69 * rnd()
      const rest = Array.from({ length: C }, () => rnd())
      const restSum = rest.reduce((a, b) => a + b, 0) - rest[k]!
      for (let c = 0; c < C; c++) soft[t * C + c] = c === k ? p : ((1 - p) * rest[c]!) / restSum
    }
    const big = ['', ...Array.from({ length: C - 1 }, (_, i) => String.fromCodePoint(0x4e00 + i))]
    // the reference: plain arg-max per step, collapse, drop blanks
    let want = ''
    let prev = -1
    for (let t = 0; t < T; t++) {
      let b = 0
      for (let c = 1; c < C; c++) if (soft[t * C + c]! > soft[t * C + b]!) b = c
      if (b !== 0 && b !== prev) want += big[b]
      prev = b
    }
    expect(ctcDecode(soft, T, C, 0, big).text).toBe(want)
    // logits: 0.6 early in the row is not the arg-max when 3.2 comes later, and nothing sums to 1
    const logits = new Float32Array([0.1, 0.6, 3.2, 0.2, 0.1, 0.6, 3.2, 0.2, 2.5, 0.9, 0.7, 0.1])
    expect(ctcDecode(logits, 3, 4, 0, charset).text).toBe('b')
  })
  it('ctcCharset: blank first, the dictionary, then the space when use_space_char', () => {
    expect(ctcCharset(readDictionary('x\ny\nz\n'), true)).toEqual(['', 'x', 'y', 'z', ' '])
    expect(ctcCharset(readDictionary('x\r\ny'), true)).toEqual(['', 'x', 'y', ' '])
    expect(ctcCharset(readDictionary('x\ny'), false)).toEqual(['', 'x', 'y'])
    // a dictionary line that is a space stays one (en_dict.txt has one)
    expect(readDictionary('a\n \nb\n')).toEqual(['a', ' ', 'b'])
  })
})

describe('ratioBatches (predict_rec batching order)', () => {
  it('sorts by aspect ratio, cuts into batches, and every index appears once', () => {
    const ratios = [5, 1, 3, 9, 2, 7, 4]
    const batches = ratioBatches(ratios, 3)
    expect(batches).toEqual([[1, 4, 2], [6, 0, 5], [3]])
    expect(batches.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6])
  })
  it('restoring order: results written by index come back in input order', () => {
    const ratios = [3, 1, 2]
    const out: string[] = new Array(3)
    for (const b of ratioBatches(ratios, 2)) for (const i of b) out[i] = `r${ratios[i]}`
    expect(out).toEqual(['r3', 'r1', 'r2'])
  })
  it('maxPad: a crop that would pad the narrowest one by more than the fraction starts a new batch', () => {
    const ratios = [2, 2.2, 2.5, 4, 4.4, 9, 9.5, 30]
    // PaddleOCR (maxPad 1): full batches
    expect(ratioBatches(ratios, 3)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7]])
    // at most 25 % padding: width ≤ narrowest / 0.75
    expect(ratioBatches(ratios, 3, { maxPad: 0.25 })).toEqual([[0, 1, 2], [3, 4], [5, 6], [7]])
    // below the minimum width every crop is padded to it anyway: they batch together
    expect(ratioBatches(ratios, 6, { minRatio: 320 / 48, maxPad: 0.25 })).toEqual([[0, 1, 2, 3, 4], [5, 6], [7]])
    const batches = ratioBatches(ratios, 2, { maxPad: 0.1 })
    expect(batches.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(batches.every((b) => b.length <= 2)).toBe(true)
  })
})

describe('clsDecode', () => {
  it.each([
    [[0.8, 0.2], [0, 180], { label: '0', score: 0.8 }],
    [[0.05, 0.95], [0, 180], { label: '180', score: 0.95 }],
    // the pack's label_list decides what a class means
    [[0.05, 0.95], [180, 0], { label: '0', score: 0.95 }],
    // logits (rows that do not sum to 1) are softmaxed: softmax([2, 0])[0] = 1 / (1 + e^-2)
    [[2, 0], [0, 180], { label: '0', score: 1 / (1 + Math.exp(-2)) }],
    [[-1, 3], [0, 180], { label: '180', score: 1 / (1 + Math.exp(-4)) }],
  ] as const)('%j with labels %j', (p, angles, want) => {
    const d = clsDecode(new Float32Array(p), 0, angles)
    expect(d.label).toBe(want.label)
    expect(d.score).toBeCloseTo(want.score, 6)
  })
  it('classDecode reads row i of [n, classes]: the best class, the first on ties', () => {
    const scores = new Float32Array([0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.25, 0.25])
    expect(classDecode(scores, 4, 0)).toEqual({ index: 3, score: expect.closeTo(0.4, 6) })
    expect(classDecode(scores, 4, 1)).toEqual({ index: 0, score: 0.25 })
  })
})
