import { describe, expect, it } from 'vitest'
import { formatPageRanges, parsePageRanges, selectPages } from '../../src/document/pages.js'
import { OcrError } from '../../src/errors.js'

describe('parsePageRanges', () => {
  it.each([
    ['1', [{ from: 1, to: 1 }]],
    ['1-3,7', [{ from: 1, to: 3 }, { from: 7, to: 7 }]],
    [' 2 - 4 , 9 ', [{ from: 2, to: 4 }, { from: 9, to: 9 }]],
    ['5-', [{ from: 5 }]],
    ['-2', [{ from: 1, to: 2 }]],
  ])('%j', (spec, want) => {
    expect(parsePageRanges(spec)).toEqual(want)
  })

  it.each(['', ',', '1,,2', 'a', '1-2-3', '0', '0-3', '3-1', '-', '1.5', '99999999'])('rejects %j with BAD_PAGE_RANGE', (spec) => {
    let err: unknown
    try {
      parsePageRanges(spec)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(OcrError)
    expect((err as OcrError).code).toBe('BAD_PAGE_RANGE')
    expect((err as OcrError).status).toBe(400)
  })

  it('round-trips through formatPageRanges', () => {
    expect(formatPageRanges(parsePageRanges('1-3,7,9-'))).toBe('1-3,7,9-')
  })
})

describe('selectPages', () => {
  it('all pages when there is no selection', () => {
    expect(selectPages(undefined, 3)).toEqual([0, 1, 2])
    expect(selectPages([], 2)).toEqual([0, 1])
  })
  it('0-based indices, in document order, each once; open and overlong ranges stop at the last page', () => {
    expect(selectPages(parsePageRanges('7,1-3,2,5-'), 8)).toEqual([0, 1, 2, 4, 5, 6, 7])
    expect(selectPages(parsePageRanges('2-100'), 3)).toEqual([1, 2])
  })
  it('a range starting past the last page names the page count', () => {
    expect(() => selectPages(parsePageRanges('1,4'), 3)).toThrow(/document has 3 pages/)
    expect(() => selectPages(parsePageRanges('2'), 1)).toThrow(/document has 1 page$/)
  })
})
