/**
 * Words from the recogniser's output (src/models/rec-words.ts) and the line ink they are measured
 * on (src/image/ink.ts), on hand-made lines: glyphs drawn as ink rectangles in a 48 px high
 * recogniser input, CTC characters firing at their centres.
 */
import { describe, expect, it } from 'vitest'
import { inkCut, inkReach, inkRows, measureLineInk } from '../../src/image/ink.js'
import type { CtcChar } from '../../src/models/rec-ctc.js'
import { asciiPunctuation, layoutLine, lineSpaces, lineText, lineWords, mayNeedSpaces, pageSpacing, readChars, type LineLayout } from '../../src/models/rec-words.js'

const H = 48
/** One CTC step is this many columns of the recogniser's input (PP-OCRv4: 8). */
const STEP = 8

interface Glyph {
  text: string
  /** Ink columns [x0, x1); rows default to 12..36 (a text body 24 px high). */
  x0: number
  x1: number
  y0?: number
  y1?: number
  prob?: number
}

/** A grey line image with the glyphs' ink, and the decoded characters firing at their centres. */
function line(glyphs: readonly Glyph[], options: { background?: number; ink?: number; gradient?: number } = {}) {
  const width = Math.max(...glyphs.map((g) => g.x1)) + 20
  const { background = 235, ink = 30, gradient = 0 } = options
  const gray = new Uint8Array(width * H)
  for (let y = 0; y < H; y++) for (let x = 0; x < width; x++) gray[y * width + x] = Math.round(background - (gradient * x) / width)
  for (const g of glyphs) {
    if (g.text === ' ') continue
    for (let y = g.y0 ?? 12; y < (g.y1 ?? 36); y++) for (let x = g.x0; x < g.x1; x++) gray[y * width + x] = Math.round(ink - (gradient * x) / width / 4)
  }
  const charset = ['', ...new Set(glyphs.map((g) => g.text))]
  const chars: CtcChar[] = glyphs.map((g) => {
    const t = Math.floor((g.x0 + g.x1) / 2 / STEP)
    return { cls: charset.indexOf(g.text), start: t, end: t + 1, prob: g.prob ?? 0.9 }
  })
  return { gray, width, chars, charset }
}

function layout(glyphs: readonly Glyph[], options: Parameters<typeof line>[1] & { asciiPunctuation?: boolean } = {}): LineLayout {
  const l = line(glyphs, options)
  return layoutLine(readChars(l.chars, l.charset, { asciiPunctuation: options.asciiPunctuation ?? true }), STEP, measureLineInk(l.gray, l.width, H))
}

/** Glyphs for `text` in a proportional font: widths by letter, `gap` columns between letters, `space` more at a space. */
function proportional(text: string, gap = 3, space = 12): Glyph[] {
  // ink widths of a sans-serif at a 24 px body: letters vary, digits are tabular
  const widths: Record<string, number> = {
    a: 11, b: 12, c: 10, d: 12, e: 11, f: 7, g: 12, h: 12, i: 4, j: 5, k: 11, l: 4, m: 18, n: 12, o: 12, p: 12, q: 12, r: 8,
    s: 10, t: 7, u: 12, v: 11, w: 16, x: 11, y: 11, z: 10, '.': 4, ':': 4, ',': 4, M: 18, W: 20, I: 4, T: 13, N: 14, A: 15,
  }
  const out: Glyph[] = []
  let x = 10
  for (const ch of text) {
    if (ch === ' ') {
      x += space
      continue
    }
    const w = widths[ch] ?? 13
    out.push({ text: ch, x0: x, x1: x + w })
    x += w + gap
  }
  return out
}

/** Glyphs for `text` in a monospaced font: one `cell` per character (a space is an empty cell), ink centred in it. */
function monospaced(text: string, cell = 16): Glyph[] {
  const widths: Record<string, number> = { i: 4, l: 4, '.': 3, ':': 3, ',': 3, '1': 6 }
  const out: Glyph[] = []
  ;[...text].forEach((ch, k) => {
    if (ch === ' ') return
    const w = widths[ch] ?? 12
    const x0 = 10 + k * cell + Math.floor((cell - w) / 2)
    out.push({ text: ch, x0, x1: x0 + w })
  })
  return out
}

const proportionalPage = { proportional: true }
const monospacedPage = { proportional: false }
const spaced = (l: LineLayout, page = proportionalPage): string => lineText(l, lineSpaces(l, page))

describe('measureLineInk', () => {
  it('finds dark ink on a light ground, per column, and the text body height', () => {
    const l = line([{ text: 'a', x0: 10, x1: 20 }, { text: 'b', x0: 30, x1: 34, y0: 6, y1: 36 }])
    const ink = measureLineInk(l.gray, l.width, H)
    expect(ink.columns[9]).toBe(0)
    expect(ink.columns[10]).toBe(24)
    expect(ink.columns[25]).toBe(0)
    expect(ink.columns[31]).toBe(30)
    // the ascender's rows hold little ink: the body is the 24 rows every glyph covers
    expect(ink.height).toBe(30)
    expect([ink.top, ink.bottom]).toEqual([6, 36])
  })
  it('finds light text on a dark ground, and faint text on a gradient', () => {
    const light = line(proportional('ab cd'), { background: 20, ink: 220 })
    expect(measureLineInk(light.gray, light.width, H).columns[12]).toBe(24)
    const faint = line(proportional('ab cd'), { background: 230, ink: 160, gradient: 60 })
    const ink = measureLineInk(faint.gray, faint.width, H)
    const g = proportional('ab cd')
    for (const glyph of g) expect(ink.columns[glyph.x0 + 1]).toBe(24)
    expect(ink.columns[g[1]!.x1 + 2]).toBe(0)
  })
  it('leaves out the edge of a neighbouring line the crop caught', () => {
    const l = line([{ text: 'a', x0: 10, x1: 40 }, { text: 'b', x0: 50, x1: 80 }])
    // a descender row of the line above, across the top
    for (let x = 0; x < l.width; x++) l.gray[1 * l.width + x] = 30
    const ink = measureLineInk(l.gray, l.width, H)
    expect(ink.top).toBe(12)
    expect(ink.columns[45]).toBe(0)
  })
})

describe('inkCut, inkReach, inkRows', () => {
  const columns = Uint16Array.from([0, 5, 5, 0, 0, 0, 4, 4, 0, 3, 1, 3, 3, 0, 0])
  it('cuts at the widest run without ink between two centres', () => {
    expect(inkCut(columns, 1.5, 6.5)).toEqual([3, 6])
    expect(inkCut(columns, 6.5, 11.5)).toEqual([8, 9])
  })
  it('cuts touching glyphs at the column with the least ink', () => {
    expect(inkCut(columns, 9, 12)).toEqual([10.5, 10.5])
  })
  it('reaches a glyph edge over narrow gaps only', () => {
    expect(inkReach(columns, 7, -1, 0)).toBe(6)
    expect(inkReach(columns, 7, -1, 3)).toBe(1)
    expect(inkReach(columns, 9, 1, 1)).toBe(13)
  })
  it('gives the rows holding ink in a column range', () => {
    const l = line([{ text: 'a', x0: 10, x1: 20 }, { text: 'g', x0: 30, x1: 40, y0: 20, y1: 44 }])
    const ink = measureLineInk(l.gray, l.width, H)
    expect(inkRows(ink, 10, 20)).toEqual([12, 36])
    expect(inkRows(ink, 30, 40)).toEqual([20, 44])
  })
})

describe('spaces restored', () => {
  it('a proportional line: wide gaps are spaces, letter gaps are not', () => {
    const l = layout(proportional('Amountreceivedpayment'))
    expect(l.kind).toBe('proportional')
    expect(spaced(l)).toBe('Amountreceivedpayment')
    const words = layout(proportional('Amount received payment'))
    expect(words.kind).toBe('proportional')
    expect(spaced(words)).toBe('Amount received payment')
  })
  it('a space the model emitted is kept, and none is added at either end or doubled', () => {
    const glyphs = proportional('big word')
    // the model's own space, firing in the gap
    const withSpace: Glyph[] = [...glyphs.slice(0, 3), { text: ' ', x0: glyphs[2]!.x1 + 2, x1: glyphs[3]!.x0 - 2 }, ...glyphs.slice(3)]
    const l = layout(withSpace)
    expect(l.modelSpace).toEqual([false, false, false, true, false, false, false])
    expect(spaced(l)).toBe('big word')
    // leading and trailing spaces the model emitted at the line's ends are dropped
    const ends = layout([{ text: ' ', x0: 2, x1: 6 }, ...proportional('ab'), { text: ' ', x0: 60, x1: 64 }])
    expect(spaced(ends)).toBe('ab')
  })
  it('a monospaced line: an empty cell is a space; the wide gaps beside narrow glyphs are not', () => {
    const l = layout(monospaced('RM 11.60 TOTAL:1'))
    expect(l.kind).toBe('monospaced')
    expect(spaced(l, monospacedPage)).toBe('RM 11.60 TOTAL:1')
    // the same glyphs read as proportional would split at "1.6" and ":1"
    expect(lineText(l, lineSpaces({ ...l, kind: 'proportional' }, proportionalPage))).not.toBe('RM 11.60 TOTAL:1')
  })
  it('repeated characters (two CTC runs with a blank between) are two characters', () => {
    const l = layout(proportional('all lll'))
    expect(l.chars.map((c) => c.text).join('')).toBe('alllll')
    expect(spaced(l)).toBe('all lll')
  })
  it('digits and prices: "No. 68590580", "$ 12.50"', () => {
    expect(spaced(layout(proportional('No. 68590580')))).toBe('No. 68590580')
    expect(spaced(layout(proportional('Total: 12.50')))).toBe('Total: 12.50')
  })
  it('never between two CJK characters, however wide the gap', () => {
    const han: Glyph[] = ['根', '你', '只', '平'].map((t, k) => ({ text: t, x0: 10 + k * 40, x1: 10 + k * 40 + 24 }))
    expect(spaced(layout(han))).toBe('根你只平')
  })
  it('where CJK meets Latin: a space only when the gap says so', () => {
    const tight: Glyph[] = [{ text: '根', x0: 10, x1: 34 }, ...proportional('BOARDING').map((g) => ({ ...g, x0: g.x0 + 28, x1: g.x1 + 28 }))]
    expect(spaced(layout(tight))).toBe('根BOARDING')
    const wide: Glyph[] = [{ text: '根', x0: 10, x1: 34 }, ...proportional('BOARDING').map((g) => ({ ...g, x0: g.x0 + 40, x1: g.x1 + 40 }))]
    expect(spaced(layout(wide))).toBe('根 BOARDING')
  })
  it('next to CJK punctuation: never', () => {
    const g: Glyph[] = [{ text: '合', x0: 10, x1: 34 }, { text: '：', x0: 38, x1: 44 }, ...proportional('12.50').map((x) => ({ ...x, x0: x.x0 + 60, x1: x.x1 + 60 }))]
    expect(spaced(layout(g))).toBe('合：12.50')
  })
  it('a letter-spaced line: its letters stand apart, a space is wider than their gap', () => {
    // 12 columns between letters (0.5 text heights, a space in an ordinary line), 30 at a space
    const tracked = layout(proportional('THE SHELLING', 12, 18))
    expect(tracked.letterGap).toBeCloseTo(0.5, 5)
    expect(spaced(tracked, proportionalPage)).toBe('THE SHELLING')
    expect(spaced(tracked, monospacedPage)).toBe('THE SHELLING')
    // without the letters' own gap as the floor, every letter would stand alone
    expect(spaced({ ...tracked, letterGap: 0 }, proportionalPage)).toBe('T H E S H E L L I N G')
    // an ordinary line's letter gap is small and changes nothing
    const plain = layout(proportional('Amount received payment'))
    expect(plain.letterGap).toBeCloseTo(3 / 24, 5)
    expect(spaced(plain)).toBe('Amount received payment')
    // fewer than SPACING.minLetterGaps letter pairs: no letter gap, the plain rule
    expect(layout(proportional('AB 12', 12, 18)).letterGap).toBe(0)
  })
  it('a short line takes its kind from the page', () => {
    const lines = [layout(monospaced('RESTORAN WAN SHENG')), layout(monospaced('Cashier Thandar')), layout(monospaced('GST Summary')), layout(monospaced('2 x'))]
    expect(lines[3]!.kind).toBe('unknown')
    expect(pageSpacing(lines)).toEqual({ proportional: false })
    expect(pageSpacing([layout(proportional('Amount received payment')), layout(proportional('the quick brown fox'))])).toEqual({ proportional: true })
    expect(pageSpacing([])).toEqual({ proportional: true })
  })
})

describe('mayNeedSpaces', () => {
  const read = (glyphs: Glyph[]) => {
    const l = line(glyphs)
    return readChars(l.chars, l.charset, { asciiPunctuation: true })
  }
  it('a Chinese line has no place for a space: its ink need not be measured', () => {
    expect(mayNeedSpaces(read([{ text: '合', x0: 10, x1: 34 }, { text: '计', x0: 38, x1: 62 }, { text: '：', x0: 66, x1: 72 }]))).toBe(false)
  })
  it('Latin text, or CJK next to Latin, may need one', () => {
    expect(mayNeedSpaces(read(proportional('ab')))).toBe(true)
    expect(mayNeedSpaces(read([{ text: '合', x0: 10, x1: 34 }, { text: 'A', x0: 40, x1: 52 }]))).toBe(true)
    expect(mayNeedSpaces(read(proportional('a')))).toBe(false)
  })
})

describe('punctuation width', () => {
  it.each([
    [['（', 'C', 'O', '.', 'R', 'E', 'G', '：', '9', '3', '3', '-', 'X', '）'], '(CO.REG:933-X)'],
    [['T', 'o', 't', 'a', 'l', ' ', '（', 'G', 'S', 'T', '）', '：'], 'Total (GST):'],
    [['合', '计', '：', '1', '2'], '合计：12'],
    [['电', '话', '（', '0', '1', '）'], '电话（01）'],
    [['1', '2', '：', '3', '0'], '12:30'],
  ])('%j → %s', (chars, want) => {
    expect(asciiPunctuation(chars).join('')).toBe(want)
  })
  it('the setting off keeps full-width forms', () => {
    const glyphs: Glyph[] = proportional('ab').concat([{ text: '：', x0: 40, x1: 44 }])
    expect(layout(glyphs, { asciiPunctuation: false }).chars.map((c) => c.text).join('')).toBe('ab：')
    expect(layout(glyphs).chars.map((c) => c.text).join('')).toBe('ab:')
  })
})

describe('lineWords', () => {
  it('Latin words between spaces, with their ink extents and mean probability', () => {
    const glyphs = proportional('No. 68590580').map((g, k) => ({ ...g, prob: k === 0 ? 0.5 : 1 }))
    const l = layout(glyphs)
    const words = lineWords(l, lineSpaces(l, proportionalPage))
    expect(words.map((w) => w.text)).toEqual(['No.', '68590580'])
    expect(words[0]).toMatchObject({ x0: glyphs[0]!.x0, x1: glyphs[2]!.x1, y0: 12, y1: 36 })
    expect(words[0]!.score).toBeCloseTo((0.5 + 1 + 1) / 3)
    expect(words[1]).toMatchObject({ x0: glyphs[3]!.x0, x1: glyphs[10]!.x1 })
  })
  it('each CJK character is a word; CJK punctuation stays with it; Latin runs are words', () => {
    const g: Glyph[] = [
      { text: '订', x0: 10, x1: 34 },
      { text: '单', x0: 38, x1: 62 },
      { text: '：', x0: 66, x1: 72 },
      ...proportional('A123').map((x) => ({ ...x, x0: x.x0 + 70, x1: x.x1 + 70 })),
    ]
    const l = layout(g)
    const spaces = lineSpaces(l, proportionalPage)
    const words = lineWords(l, spaces)
    expect(words.map((w) => w.text)).toEqual(['订', '单：', 'A123'])
    expect(lineText(l, spaces)).toBe('订单：A123')
    expect(words[0]).toMatchObject({ x0: 10, x1: 34 })
  })
  it('joined with the line spacing, the words give the line text', () => {
    const l = layout(proportional('Thank you, come again.'))
    const spaces = lineSpaces(l, proportionalPage)
    const text = lineText(l, spaces)
    expect(text).toBe('Thank you, come again.')
    expect(lineWords(l, spaces).map((w) => w.text).join(' ')).toBe(text)
  })
})
