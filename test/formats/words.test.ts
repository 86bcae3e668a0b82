import { describe, expect, it } from 'vitest'
import { estimatedWords, lineWords } from '../../src/formats/words.js'
import type { OcrLine } from '../../src/types.js'
import { rect } from './support.js'

const line = (text: string, words: string[] | undefined): OcrLine => ({
  text,
  score: 0.9,
  box: rect(0, 0, 100, 10),
  ...(words ? { words: words.map((t, k) => ({ text: t, box: rect(10 * k, 0, 8, 10), score: 0.5 })) } : {}),
})

describe('lineWords', () => {
  it('aligns the words with the text: a space before Latin words, none between CJK characters', () => {
    const got = lineWords(line('中文和English混合 2024 ok', ['中', '文', '和', 'English', '混', '合', '2024', 'ok']))
    expect(got!.map((w) => [w.text, w.spaceBefore])).toEqual([
      ['中', false],
      ['文', false],
      ['和', false],
      ['English', false],
      ['混', false],
      ['合', false],
      ['2024', true],
      ['ok', true],
    ])
    expect(got![3]!.quad).toEqual(rect(30, 0, 8, 10))
    expect(got![3]!.score).toBe(0.5)
  })

  it('is null without words, and when the words do not spell the text', () => {
    expect(lineWords(line('a b', undefined))).toBeNull()
    expect(lineWords(line('a b', []))).toBeNull()
    expect(lineWords(line('a b', ['a']))).toBeNull() // text left over
    expect(lineWords(line('a b', ['a', 'c']))).toBeNull()
    expect(lineWords(line('a b', ['a b']))).toBeNull() // a word holds no space
    expect(lineWords(line('ab', ['a', 'b', 'c']))).toBeNull()
    expect(lineWords(line(' a  b ', ['a', 'b']))!.map((w) => w.spaceBefore)).toEqual([false, true])
  })
})

describe('estimatedWords', () => {
  it('cuts the line quad in proportion to code points, spaces included, every word with the line score', () => {
    const got = estimatedWords(line('ab  cdef', undefined))
    expect(got.map((w) => [w.text, w.quad[0][0], w.quad[1][0], w.spaceBefore, w.score])).toEqual([
      ['ab', 0, 25, false, 0.9],
      ['cdef', 50, 100, true, 0.9],
    ])
  })
})
