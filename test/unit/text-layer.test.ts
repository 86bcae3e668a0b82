import { describe, expect, it } from 'vitest'
import { embeddedLines, hasRealText, linesRotation, MIN_TEXT_CHARS, visibleChars, type TextItemLike } from '../../src/document/text-layer.js'
import type { Point } from '../../src/types.js'

/** A horizontal item of `size` pt whose baseline starts at (x, y); width = 0.5 × size per character. */
const item = (str: string, x: number, y: number, size = 10, extra: Partial<TextItemLike> = {}): TextItemLike => ({
  str,
  transform: [size, 0, 0, size, x, y],
  width: str.length * size * 0.5,
  fontName: 'f',
  hasEOL: false,
  ...extra,
})
const styles = { f: { ascent: 0.8, descent: -0.2 } }
/** A 100 × 100 pt page at 72 dpi: y flips. */
const flip = (x: number, y: number): Point => [x, 100 - y]
const lines = (items: TextItemLike[]) => embeddedLines(items, styles, flip, 100, 100)

describe('embeddedLines', () => {
  it('one item → one line boxed from descent to ascent, clockwise from top-left, score 1', () => {
    expect(lines([item('ABCD', 10, 50)])).toEqual([{ text: 'ABCD', score: 1, box: [[10, 42], [30, 42], [30, 52], [10, 52]] }])
  })

  it('items on one baseline merge: touching ones directly, a word gap as a space', () => {
    const got = lines([item('AB', 10, 50), item('CD', 20, 50), item('EF', 33, 50)])
    expect(got.map((l) => l.text)).toEqual(['ABCD EF'])
    expect(got[0]!.box[1][0]).toBe(43)
  })

  it('a gap wider than MAX_WORD_GAP × size (a table column) or another baseline starts a new line', () => {
    const got = lines([item('LEFT', 5, 50), item('RIGHT', 40, 50), item('BELOW', 5, 30)])
    expect(got.map((l) => l.text)).toEqual(['LEFT', 'RIGHT', 'BELOW'])
  })

  it('hasEOL closes a line; whitespace-only items become one space and are not boxed', () => {
    const got = lines([item('AB', 10, 50, 10, { hasEOL: true }), item('CD', 20, 50), item(' ', 30, 50), item('EF', 35, 50)])
    expect(got.map((l) => l.text)).toEqual(['AB', 'CD EF'])
  })

  it('lines come out in reading order (top to bottom), whatever the content order', () => {
    expect(lines([item('LOW', 10, 20), item('HIGH', 10, 80)]).map((l) => l.text)).toEqual(['HIGH', 'LOW'])
  })

  it('text running down the page (rotated item) is boxed along its direction; the page reads at 270°', () => {
    // direction (0, −1) in PDF space = down the page after the flip
    const got = lines([{ str: 'DOWN', transform: [0, -10, 10, 0, 50, 90], width: 20, fontName: 'f', hasEOL: false }])
    expect(got[0]!.box).toEqual([[58, 10], [58, 30], [48, 30], [48, 10]])
    expect(linesRotation(got)).toBe(270)
    expect(linesRotation(lines([item('FLAT', 10, 50)]))).toBe(0)
  })

  it('a font without ascent/descent (NaN from pdf.js) gets the defaults; boxes are clipped to the page', () => {
    const got = embeddedLines([item('EDGE', 90, 99, 10, { fontName: 'g' })], { g: { ascent: NaN, descent: NaN } }, flip, 100, 100)
    expect(got[0]!.box).toEqual([[90, 0], [100, 0], [100, 3], [90, 3]])
  })
})

describe('hasRealText', () => {
  it(`needs ${MIN_TEXT_CHARS} visible characters; whitespace and U+FFFD do not count`, () => {
    expect(visibleChars([{ str: ' a\u00a0b\tc\n' }, { str: '\uFFFD\uFFFD' }])).toBe(3)
    expect(hasRealText([{ str: '12' }, { str: ' 3 ' }])).toBe(false)
    expect(hasRealText([{ str: 'Page' }])).toBe(true)
    expect(hasRealText([{ str: '你好世界' }])).toBe(true)
  })
})
