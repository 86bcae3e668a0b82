import { describe, expect, it } from 'vitest'
import type { ClsDecision } from '../../src/models/cls.js'
import type { Reading } from '../../src/pipeline/orientation.js'
import { linesAgainstPage, meanConfidence, readingQuality, readsBetterTurned, upsideDownShare } from '../../src/pipeline/orientation.js'

const d = (text: string, score: number): Reading => ({ text, score })
const v = (label: '0' | '180', score: number): ClsDecision => ({ label, score })

describe('readingQuality and meanConfidence', () => {
  const texts = [d('abcd', 0.9), d('xy', 0.4), d('', 1)]
  it('readingQuality: Σ score × length over lines at or above dropScore', () => {
    expect(readingQuality(texts, 0.5)).toBeCloseTo(3.6)
    expect(readingQuality(texts, 0.4)).toBeCloseTo(4.4)
    expect(readingQuality([], 0.5)).toBe(0)
  })
  it('meanConfidence: length-weighted mean over every line; 0 without text', () => {
    expect(meanConfidence(texts)).toBeCloseTo((3.6 + 0.8) / 6)
    expect(meanConfidence([d('', 1)])).toBe(0)
  })
})

describe('upsideDownShare', () => {
  it.each<[string, number[], ClsDecision[], number]>([
    ['all upright', [5, 2], [v('0', 1), v('0', 0.8)], 0],
    ['all upside down', [5, 2], [v('180', 1), v('180', 0.8)], 1],
    ['weighted by aspect ratio × score', [6, 2], [v('180', 0.5), v('0', 1)], 3 / 5],
    ['no votes', [], [], 0],
  ])('%s', (_name, ratios, votes, want) => {
    expect(upsideDownShare(ratios, votes)).toBeCloseTo(want)
  })
})

describe('readsBetterTurned', () => {
  it('an upside-down receipt: garbage as it is, text turned → true', () => {
    expect(readsBetterTurned([d('XL', 0.75), d('00\'0', 0.91), d('Ɐ', 0.3)], [d('1X', 0.77), d('0.00', 1), d('TOTAL', 0.99)], 0.5)).toBe(true)
  })
  it('an upright page: false, even when one symmetric line reads better turned', () => {
    // "XXXX XXXX" reads as well (here better) upside down; the other lines decide
    const asIs = [d('INVOICE', 0.99), d('XXXX XXXX', 0.7), d('TOTAL 12.50', 0.98)]
    const turned = [d('ƎƆIOΛNI', 0.2), d('XXXX XXXX', 0.84), d('09.21 7ATOT', 0.3)]
    expect(readsBetterTurned(asIs, turned, 0.5)).toBe(false)
  })
  it('a tie keeps the lines as they are (nothing readable, or text that reads the same both ways)', () => {
    expect(readsBetterTurned([d('', 0.1)], [d('', 0.2)], 0.5)).toBe(false)
    expect(readsBetterTurned([d('NOON', 0.99)], [d('NOON', 0.99)], 0.5)).toBe(false)
  })
  it('lines under dropScore do not count (they would be dropped)', () => {
    expect(readsBetterTurned([d('abc', 0.6)], [d('abcdefghij', 0.45)], 0.5)).toBe(false)
  })
})

describe('linesAgainstPage', () => {
  const page = [d('a', 0.9), d('b', 0.9), d('c', 0.9), d('d', 0.9)]
  const other = [d('a', 0.95), d('b', 0.95), d('c', 0.5), d('d', 0.95)]
  it('upright page: lines the classifier turns (180 above clsThresh) that read at least as well turned', () => {
    const votes = [v('180', 0.95), v('180', 0.85), v('180', 0.99), v('0', 0.99)]
    // 0: turned and reads better; 1: not sure enough; 2: sure, but reads worse turned; 3: upright
    expect(linesAgainstPage(votes, false, page, other, 0.9)).toEqual([true, false, false, false])
  })
  it('page turned 180°: a confident "0" vote is a line upside down against the turned page', () => {
    const votes = [v('0', 0.95), v('180', 0.99), v('0', 0.99), v('0', 0.5)]
    expect(linesAgainstPage(votes, true, page, other, 0.9)).toEqual([true, false, false, false])
  })
  it('a tie in score keeps the other reading, as a line the classifier turned keeps its turned reading', () => {
    expect(linesAgainstPage([v('180', 0.95)], false, [d('x', 0.9)], [d('x', 0.9)], 0.9)).toEqual([true])
  })
})
