import { describe, expect, it } from 'vitest'
import {
  bestSubstringMatch,
  cjkSpaces,
  convexHull,
  editDistance,
  type GtRecord,
  matchLines,
  normalizeSpaced,
  normalizeText,
  orderByGt,
  type Polygon,
  polygonArea,
  type PredLine,
  quadIoU,
  scoreRecord,
  summarize,
  wordBoxIoUs,
  wordCounts,
  wordsOf,
} from '../../bench/lib/metrics.js'

/** Axis-aligned rectangle as a clockwise quad from its top-left corner. */
const rect = (x: number, y: number, w: number, h: number): Polygon => [
  [x, y],
  [x + w, y],
  [x + w, y + h],
  [x, y + h],
]

/** Square of side s centred at (cx, cy), turned by deg. */
const turned = (cx: number, cy: number, s: number, deg: number): Polygon => {
  const t = (deg * Math.PI) / 180
  return [
    [-1, -1],
    [1, -1],
    [1, 1],
    [-1, 1],
  ].map(([u, v]) => [cx + (s / 2) * (u * Math.cos(t) - v * Math.sin(t)), cy + (s / 2) * (u * Math.sin(t) + v * Math.cos(t))] as [number, number])
}

describe('polygonArea', () => {
  it.each([
    ['unit square', rect(0, 0, 1, 1), 1],
    ['10×4 rectangle', rect(5, 5, 10, 4), 40],
    ['counter-clockwise order', [[0, 0], [0, 4], [10, 4], [10, 0]] as Polygon, 40],
    ['self-intersecting order (bow tie) is read as its hull', [[0, 0], [10, 4], [10, 0], [0, 4]] as Polygon, 40],
    ['triangle', [[0, 0], [4, 0], [0, 3]] as Polygon, 6],
    ['degenerate line', [[0, 0], [5, 0], [10, 0], [2, 0]] as Polygon, 0],
    ['fractional coordinates', rect(0.5, 0.25, 2.5, 1.5), 3.75],
  ])('%s', (_name, poly, area) => {
    expect(polygonArea(poly)).toBeCloseTo(area, 3)
  })
})

describe('quadIoU', () => {
  it.each([
    ['identical', rect(0, 0, 10, 10), rect(0, 0, 10, 10), 1],
    ['disjoint', rect(0, 0, 10, 10), rect(20, 0, 10, 10), 0],
    ['touching edges', rect(0, 0, 10, 10), rect(10, 0, 10, 10), 0],
    ['half overlap horizontally', rect(0, 0, 10, 10), rect(5, 0, 10, 10), 50 / 150],
    ['contained', rect(0, 0, 10, 10), rect(0, 0, 5, 10), 0.5],
    ['quarter overlap', rect(0, 0, 10, 10), rect(5, 5, 10, 10), 25 / 175],
    ['point order does not matter', rect(0, 0, 10, 10), [[10, 10], [0, 0], [10, 0], [0, 10]] as Polygon, 1],
    // A square and itself turned 45°: intersection is a regular octagon of area 2(√2−1)s².
    ['square vs square turned 45°', turned(0, 0, 2, 0), turned(0, 0, 2, 45), (8 * (Math.SQRT2 - 1)) / (8 - 8 * (Math.SQRT2 - 1))],
    ['taller box around the same line', rect(0, 10, 100, 20), rect(-2, 6, 104, 28), 2000 / (104 * 28)],
  ])('%s', (_name, a, b, iou) => {
    expect(quadIoU(a, b)).toBeCloseTo(iou, 4)
    expect(quadIoU(b, a)).toBeCloseTo(iou, 4)
  })

  it('is 0 for a degenerate quad', () => {
    expect(quadIoU(rect(0, 0, 10, 10), [[1, 1], [1, 1], [1, 1], [1, 1]])).toBe(0)
  })
})

describe('convexHull', () => {
  it('keeps a convex quad and drops duplicate points', () => {
    expect(convexHull([[0, 0], [4, 0], [4, 2], [0, 2], [4, 2]])).toHaveLength(4)
  })
  it('drops interior points', () => {
    expect(convexHull([[0, 0], [4, 0], [2, 1], [4, 2], [0, 2]])).toHaveLength(4)
  })
})

describe('normalizeText', () => {
  it.each([
    ['full-width punctuation → ASCII', '合计：¥12．50', {}, '合计:¥12.50'],
    ['full-width letters and digits', 'ＡＢＣ１２３', {}, 'ABC123'],
    ['all whitespace removed', ' Hello\tworld \u3000ok\n', {}, 'Helloworldok'],
    ['case kept by default', 'Total', {}, 'Total'],
    ['case folded on request', 'TOTAL Due', { caseInsensitive: true }, 'totaldue'],
    ['ideographic full stop stays', '结束。', {}, '结束。'],
  ])('%s', (_name, input, options, expected) => {
    expect(normalizeText(input, options)).toBe(expected)
  })
})

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', '', 3],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
    ['flaw', 'lawn', 2],
    ['中国人', '中国', 1],
    ['中国人', '美国人', 1],
    // Code points, not UTF-16 units: one astral character is one edit.
    ['a😀b', 'ab', 1],
    ['𠀀𠀁', '𠀁𠀀', 2],
  ])('%s → %s = %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d)
    expect(editDistance(b, a)).toBe(d)
  })
})

describe('bestSubstringMatch', () => {
  it.each([
    ['exact inside', 'cde', 'abcdefg', 2, 0],
    ['at the start', 'abc', 'abcabc', 0, 0],
    ['one substitution', 'cXe', 'abcdefg', 2, 1],
    ['one deletion', 'ce', 'abcdefg', 2, 1],
    ['CJK', '中国', '我是中国人', 2, 0],
    ['empty needle', '', 'abc', 0, 0],
    ['no overlap costs the needle length', 'xyz', 'abc', 0, 3],
  ])('%s', (_name, needle, hay, start, cost) => {
    expect(bestSubstringMatch(needle, hay)).toEqual({ start, cost })
  })
})

describe('orderByGt', () => {
  it('places repeated text nearest to where the engine read it', () => {
    // "ab" occurs twice in the GT; each predicted copy stays with its neighbours.
    expect(orderByGt(['xx', 'ab', 'yy', 'ab'], 'xxabyyab')).toEqual(['xx', 'ab', 'yy', 'ab'])
    expect(bestSubstringMatch('ab', 'abxxab', 5)).toEqual({ start: 4, cost: 0 })
    expect(bestSubstringMatch('ab', 'abxxab', 1)).toEqual({ start: 0, cost: 0 })
  })

  it('puts predicted lines in GT order, stable for lines that match nowhere', () => {
    expect(orderByGt(['world', 'hello', 'big'], 'hellobigworld')).toEqual(['hello', 'big', 'world'])
    expect(orderByGt(['b', 'a', 'zz', 'qq'], 'ab')).toEqual(['a', 'zz', 'qq', 'b'])
  })
})

describe('matchLines', () => {
  const gt = [
    { text: 'A', box: rect(0, 0, 100, 20) },
    { text: 'B', box: rect(0, 40, 100, 20) },
    { text: '###', box: rect(0, 80, 100, 20), ignore: true },
  ]

  it('matches each GT line to its best prediction, one to one', () => {
    const preds: PredLine[] = [
      { text: 'b', box: rect(0, 41, 100, 20) },
      { text: 'a2', box: rect(10, 0, 100, 20) },
      { text: 'a', box: rect(1, 0, 100, 20) },
    ]
    const m = matchLines(gt, preds)
    expect(m.matches.map((x) => [x.gt, x.pred])).toEqual([
      [0, 2],
      [1, 0],
    ])
    expect(m.falsePositives).toEqual([1])
    expect(m.missedGt).toEqual([])
  })

  it('greedy by IoU: the best pair wins even if the other GT line then goes unmatched', () => {
    // One prediction between two GT lines; it overlaps the first more.
    const preds: PredLine[] = [{ text: 'x', box: rect(0, 3, 100, 20) }]
    const two = [
      { text: 'A', box: rect(0, 0, 100, 20) },
      { text: 'B', box: rect(0, 8, 100, 20) },
    ]
    const m = matchLines(two, preds)
    expect(m.matches).toHaveLength(1)
    expect(m.matches[0].gt).toBe(0)
    expect(m.missedGt).toEqual([1])
  })

  it('does not match below the IoU threshold', () => {
    const m = matchLines(gt.slice(0, 1), [{ text: 'A', box: rect(60, 0, 100, 20) }])
    expect(m.matches).toEqual([])
    expect(m.missedGt).toEqual([0])
    expect(m.falsePositives).toEqual([0])
  })

  it('drops unmatched predictions on ignore regions, never matches ignore lines', () => {
    const preds: PredLine[] = [
      { text: 'noise', box: rect(0, 80, 100, 20) },
      { text: 'part', box: rect(10, 82, 40, 10) },
      { text: 'elsewhere', box: rect(300, 300, 50, 20) },
    ]
    const m = matchLines(gt, preds)
    expect(m.matches).toEqual([])
    expect(m.ignoredPreds).toEqual([0, 1])
    expect(m.falsePositives).toEqual([2])
    expect(m.missedGt).toEqual([0, 1])
  })

  it('predictions without boxes never match', () => {
    const m = matchLines(gt.slice(0, 1), [{ text: 'A', box: null }])
    expect(m.matches).toEqual([])
    expect(m.falsePositives).toEqual([0])
  })
})

describe('scoreRecord', () => {
  const boxed: GtRecord = {
    image: 'x.png',
    gt_quality: 'exact',
    lines: [
      { text: '合计：12.50', box: rect(0, 0, 200, 30) },
      { text: 'Hello world', box: rect(0, 50, 200, 30) },
      { text: 'missed', box: rect(0, 100, 200, 30) },
    ],
  }

  it.each([
    {
      name: 'perfect',
      preds: [
        { text: '合计:12.50', box: rect(0, 0, 200, 30) },
        { text: 'Helloworld', box: rect(0, 50, 200, 30) },
        { text: 'missed', box: rect(0, 100, 200, 30) },
      ],
      expected: { tp: 3, fp: 0, fn: 0, charErrors: 0, gtChars: 8 + 10 + 6, exactLines: 3, exactEligible: 3 },
    },
    {
      name: 'one miss, one substitution, one false positive',
      preds: [
        { text: '合计:12.56', box: rect(2, 0, 200, 32) },
        { text: 'Helloworld', box: rect(0, 50, 200, 30) },
        { text: 'ghost', box: rect(400, 400, 50, 20) },
      ],
      expected: { tp: 2, fp: 1, fn: 1, charErrors: 1 + 6, gtChars: 24, exactLines: 1, exactEligible: 3 },
    },
    {
      name: 'garbage on a matched line is clamped at the GT length',
      preds: [
        { text: 'xxxxxxxxxxxxxxxxxxxxxxxxx', box: rect(0, 0, 200, 30) },
        { text: 'Helloworld', box: rect(0, 50, 200, 30) },
        { text: 'missed', box: rect(0, 100, 200, 30) },
      ],
      expected: { tp: 3, fp: 0, fn: 0, charErrors: 8, gtChars: 24, exactLines: 2, exactEligible: 3 },
    },
  ])('box mode: $name', ({ preds, expected }) => {
    const s = scoreRecord(boxed, preds)
    expect(s.mode).toBe('box')
    expect(s).toMatchObject(expected)
  })

  it('case_insensitive records fold case; exact ones do not', () => {
    const rec: GtRecord = { image: 'r.jpg', gt_quality: 'case_insensitive', lines: [{ text: 'TOTAL', box: rect(0, 0, 100, 20) }] }
    const pred = [{ text: 'Total', box: rect(0, 0, 100, 20) }]
    expect(scoreRecord(rec, pred)).toMatchObject({ charErrors: 0, exactLines: 1 })
    expect(scoreRecord({ ...rec, gt_quality: 'exact' }, pred)).toMatchObject({ charErrors: 4, exactLines: 0 })
  })

  it('exact_for_listed_lines does not count unlisted detections as false positives', () => {
    const rec: GtRecord = { image: 's.jpg', gt_quality: 'exact_for_listed_lines', lines: [{ text: '西', box: rect(0, 0, 20, 20) }] }
    const s = scoreRecord(rec, [
      { text: '西', box: rect(0, 0, 20, 20) },
      { text: 'background', box: rect(100, 100, 80, 20) },
    ])
    expect(s).toMatchObject({ tp: 1, fp: 0, fn: 0 })
  })

  it('ignore lines carry no characters and cost nothing when missed', () => {
    const rec: GtRecord = {
      image: 'i.jpg',
      lines: [
        { text: 'EXIT', box: rect(0, 0, 40, 20) },
        { text: '###', box: rect(0, 50, 40, 20), ignore: true },
      ],
    }
    expect(scoreRecord(rec, [{ text: 'EXIT', box: rect(0, 0, 40, 20) }])).toMatchObject({ tp: 1, fn: 0, fp: 0, gtChars: 4, charErrors: 0, exactEligible: 1 })
  })

  it('text mode: records without boxes use concatenated-text CER and bag-of-lines exact matches', () => {
    const rec: GtRecord = {
      image: 'p.png',
      gt_quality: 'exact',
      lines: [
        { text: '第一行', box: null },
        { text: 'second line', box: null },
      ],
    }
    const s = scoreRecord(rec, [
      { text: 'secondline', box: rect(0, 50, 10, 10) },
      { text: '第一行', box: rect(0, 0, 10, 10) },
    ])
    expect(s.mode).toBe('text')
    expect(s.tp + s.fp + s.fn).toBe(0)
    // The engine read the lines in another order: reading order is not scored.
    expect(s.gtChars).toBe(13)
    expect(s.charErrors).toBe(0)
    expect(s.exactLines).toBe(2)
  })

  it('text mode: repeated lines in the right order cost nothing', () => {
    const text = ['The quick brown dog jumped over the', 'lazy fox. The quick brown dog jumped', 'over the lazy fox. The quick brown dog', 'jumped over the lazy fox.']
    const rec: GtRecord = { image: 'r.png', lines: text.map((t) => ({ text: t, box: null })) }
    expect(scoreRecord(rec, text.map((t) => ({ text: t, box: null }))).charErrors).toBe(0)
  })

  it('text mode: lines split or merged differently from the GT cost nothing, misread characters do', () => {
    const rec: GtRecord = {
      image: 'q.png',
      lines: [
        { text: 'left column first line', box: null },
        { text: 'left column second line', box: null },
        { text: 'right column text', box: null },
      ],
    }
    // Row-major reading of two columns, with one misread character ("c0lumn").
    const s = scoreRecord(rec, [
      { text: 'left column first line', box: null },
      { text: 'right c0lumn text', box: null },
      { text: 'left column', box: null },
      { text: 'second line', box: null },
    ])
    expect(s.charErrors).toBe(1)
    expect(s.exactLines).toBe(1)
  })

  it('text mode: no prediction costs every character; approximate records skip exact lines', () => {
    const rec: GtRecord = { image: 'a.png', gt_quality: 'approximate', lines: [{ text: 'Hello world', box: null }] }
    expect(scoreRecord(rec, [])).toMatchObject({ charErrors: 10, gtChars: 10, exactLines: 0, exactEligible: 0 })
  })
})

describe('words', () => {
  it('wordsOf: runs of non-space characters after NFKC, case folded', () => {
    expect(wordsOf('  Total：ＲＭ 12.50\tCASH ')).toEqual(['total:rm', '12.50', 'cash'])
    expect(wordsOf('根你只平 BOARDING324')).toEqual(['根你只平', 'boarding324'])
    expect(wordsOf('')).toEqual([])
  })
  it('normalizeSpaced keeps one space between words', () => {
    expect(normalizeSpaced(' No.\u3000 68590580 ')).toBe('No. 68590580')
    expect(normalizeSpaced('ABC  def', { caseInsensitive: true })).toBe('abc def')
  })
  it('wordCounts: bag of words, each GT word claimed once', () => {
    // "the" twice in the GT, three times predicted: 2 TP; "glued" words match nothing
    expect(wordCounts(['the cat and the dog'], ['the cat', 'andthe dog the'])).toEqual({ tp: 4, pred: 5, gt: 5 })
    expect(wordCounts(['合计 Total 12.50'], ['合计 Total 12.50'], (w) => /[a-z]/.test(w))).toEqual({ tp: 1, pred: 1, gt: 1 })
  })
  it('cjkSpaces counts whitespace between two CJK characters only (after NFKC)', () => {
    expect(cjkSpaces('根 你 只平 BOARDING 324')).toBe(2)
    expect(cjkSpaces('合计 12.50')).toBe(0)
    expect(cjkSpaces('注 。')).toBe(1)
    // after NFKC: full-width forms are ASCII, not CJK
    expect(cjkSpaces('（ 注）')).toBe(0)
    expect(cjkSpaces('总计 ￥186.98')).toBe(0)
  })
  it('wordBoxIoUs pairs words of equal text in order', () => {
    const gt = [
      { text: 'No.', box: rect(0, 0, 30, 20) },
      { text: '68590580', box: rect(40, 0, 80, 20) },
    ]
    const ious = wordBoxIoUs(gt, [
      { text: 'no.', box: rect(0, 0, 30, 20) },
      { text: 'x', box: rect(0, 0, 5, 5) },
      { text: '68590580', box: rect(40, 0, 40, 20) },
    ])
    expect(ious).toHaveLength(2)
    expect(ious[0]).toBeCloseTo(1)
    expect(ious[1]).toBeCloseTo(0.5)
  })
  it('scoreRecord: word counts per page, exact lines with spaces, CJK spaces beyond the GT', () => {
    const rec: GtRecord = {
      image: 'w.png',
      gt_quality: 'exact',
      lines: [
        { text: 'Amount received payment', box: rect(0, 0, 300, 30) },
        { text: '第三章 城市发展', box: rect(0, 50, 300, 30) },
      ],
    }
    const s = scoreRecord(rec, [
      { text: 'Amountreceived payment', box: rect(0, 0, 300, 30) },
      { text: '第三章 城市 发展', box: rect(0, 50, 300, 30) },
      { text: '多 余', box: rect(0, 200, 100, 30) },
    ])
    expect(s.words).toEqual({ tp: 2, pred: 7, gt: 5 })
    expect(s.latinWords).toEqual({ tp: 1, pred: 2, gt: 3 })
    expect(s.exactSpacedLines).toBe(0)
    // one beyond the GT's own space in the matched line, one in the false positive
    expect(s.cjkSpaces).toBe(2)
    expect(scoreRecord(rec, [{ text: 'Amount  received payment ', box: rect(0, 0, 300, 30) }]).exactSpacedLines).toBe(1)
  })
  it('scoreRecord: labels that ignore whitespace are left out of the word measures', () => {
    const rec: GtRecord = { image: 'm.png', gt_quality: 'exact_ignoring_whitespace', lines: [{ text: 'ab cd', box: null }] }
    expect(scoreRecord(rec, [{ text: 'abcd', box: null }])).toMatchObject({ words: null, latinWords: null, exactSpacedLines: 0, charErrors: 0 })
  })
  it('scoreRecord: word boxes of matched lines are paired with the GT word boxes', () => {
    const rec: GtRecord = {
      image: 'b.png',
      lines: [{ text: 'Hello world', box: rect(0, 0, 200, 30), words: [{ text: 'Hello', box: rect(0, 0, 90, 30) }, { text: 'world', box: rect(110, 0, 90, 30) }] }],
    }
    const s = scoreRecord(rec, [{ text: 'Hello world', box: rect(0, 0, 200, 30), words: [{ text: 'Hello', box: rect(0, 0, 90, 30) }, { text: 'world', box: rect(160, 0, 40, 30) }] }])
    expect(s.wordBoxIoUs).toHaveLength(2)
    const sum = summarize([s])
    expect(sum.wordBoxShare).toBe(0.5)
    expect(sum.wordBoxPairs).toBe(2)
  })
})

describe('summarize', () => {
  const wordless = { exactSpacedLines: 0, words: null, latinWords: null, cjkSpaces: 0, wordBoxIoUs: [] }
  it('sums counts over records and derives P/R/F1 and char accuracy', () => {
    const base = { mode: 'box' as const, errors: [], image: '', ...wordless }
    const s = summarize([
      { ...base, tp: 8, fp: 2, fn: 0, charErrors: 5, gtChars: 100, exactLines: 7, exactEligible: 8 },
      { ...base, tp: 0, fp: 0, fn: 2, charErrors: 20, gtChars: 20, exactLines: 0, exactEligible: 2 },
      { ...base, mode: 'text' as const, tp: 0, fp: 0, fn: 0, charErrors: 5, gtChars: 80, exactLines: 3, exactEligible: 4 },
    ])
    expect(s.precision).toBeCloseTo(0.8)
    expect(s.recall).toBeCloseTo(0.8)
    expect(s.f1).toBeCloseTo(0.8)
    expect(s.charAccuracy).toBeCloseTo(1 - 30 / 200)
    expect(s.exactLineRate).toBeCloseTo(10 / 14)
    expect(s.boxImages).toBe(2)
    expect(s.images).toBe(3)
  })

  it('word P/R/F1 are summed over pages; exact spaced lines count only where spaces are labelled', () => {
    const base = { mode: 'box' as const, errors: [], image: '', tp: 1, fp: 0, fn: 0, charErrors: 0, gtChars: 10, exactLines: 1, exactEligible: 2, cjkSpaces: 1, wordBoxIoUs: [] }
    const s = summarize([
      { ...base, words: { tp: 8, pred: 10, gt: 10 }, latinWords: { tp: 4, pred: 4, gt: 5 }, exactSpacedLines: 1 },
      { ...base, words: { tp: 2, pred: 2, gt: 10 }, latinWords: { tp: 0, pred: 0, gt: 0 }, exactSpacedLines: 2 },
      { ...base, words: null, latinWords: null, exactSpacedLines: 0 },
    ])
    expect(s.wordPrecision).toBeCloseTo(10 / 12)
    expect(s.wordRecall).toBeCloseTo(10 / 20)
    expect(s.wordF1).toBeCloseTo((2 * (10 / 12) * 0.5) / (10 / 12 + 0.5))
    expect(s.latinWordF1).toBeCloseTo((2 * 1 * 0.8) / 1.8)
    expect(s.latinWords).toBe(5)
    expect(s.exactSpacedRate).toBeCloseTo(3 / 4)
    expect(s.cjkSpaces).toBe(3)
  })

  it('has no detection numbers when every record was scored by text', () => {
    const s = summarize([{ image: '', mode: 'text', tp: 0, fp: 0, fn: 0, charErrors: 1, gtChars: 4, exactLines: 0, exactEligible: 1, errors: [], ...wordless }])
    expect(s.precision).toBeNull()
    expect(s.wordF1).toBeNull()
    expect(s.f1).toBeNull()
    expect(s.charAccuracy).toBeCloseTo(0.75)
  })
})
