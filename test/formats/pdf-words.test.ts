/**
 * The searchable PDF's text layer built from word boxes, on rendered pages whose lines carry their
 * words (upright, and tilted by −10°, −3.5°, 3.5° and 10°): every glyph of a word lies on that
 * word's quad where pdf.js's parser puts it, pdf.js's text extraction gives the lines back in order,
 * and pdftotext (poppler) reads every line whole and in order, with and without -layout.
 */
import { spawnSync } from 'node:child_process'
import { degrees, PDFDocument } from 'pdf-lib'
import sharp from 'sharp'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_POPPLER_DRIFT, MAX_POPPLER_GAP, popplerSplits } from '../../src/formats/pdf-text.js'
import { renderPdf } from '../../src/formats/pdf.js'
import type { OcrLine, Point, Quad } from '../../src/types.js'
import { registerFonts } from '../fixtures/fonts.js'
import { extractPdf, insideQuad, page, pdfGlyphs, rect, result, wordLine, wordsPage, type PlacedGlyph } from './support.js'
import { program, requireForEach } from '../helpers/requirements.js'

const TEXTS = [
  'Invoice number 2024-117 for the month of March',
  'Amount received payment product total 1,280.00',
  'The quick brown fox jumps over the lazy dog',
  '中文和English混合 2024 光学字符识别',
  'No. 68590580 ships within three working days',
  'Please keep this page for your own records',
  'Short line',
]
const TILTS = [-10, -3.5, 3.5, 10]

/** The page's lines as extracted text: trimmed, spaces squashed, empty lines and form feeds dropped. */
const textLines = (s: string): string[] => s.split('\n').map((l) => l.replace(/[\s\f]+/gu, ' ').trim()).filter(Boolean)
const sub = (a: Point, b: Point): Point => [a[0] - b[0], a[1] - b[1]]
const dot = (a: Point, b: Point): number => a[0] * b[0] + a[1] * b[1]
const unit = (v: Point): Point => [v[0] / Math.hypot(...v), v[1] / Math.hypot(...v)]

const pdfs = new Map<number, { pdf: Uint8Array; lines: OcrLine[]; height: number }>()

/**
 * A blank PDF page shown 600 × 400 pt after its /Rotate, OCRed (at 72 dpi) as four lines tilted 5°
 * carrying their words: the text layer goes in through the page's rotation.
 */
async function rotatedSource(rotate: 0 | 90 | 180 | 270): Promise<Uint8Array> {
  const src = await PDFDocument.create()
  src.addPage(rotate % 180 === 0 ? [600, 400] : [400, 600]).setRotation(degrees(rotate))
  const lines = ['First', 'Second', 'Third', 'Fourth'].map((w, i) => wordLine([[w, 90, 0], ['line', 60, 12], ['of', 30, 12], ['the', 45, 12], ['rotated', 110, 12], ['page', 70, 12]], 40, 60 + i * 60, 24, 5))
  return renderPdf(result([page(1, 600, 400, lines, { dpi: 72 })]), { source: await src.save() })
}
const ROTATED = ['First', 'Second', 'Third', 'Fourth'].map((w) => `${w} line of the rotated page`)

beforeAll(async () => {
  registerFonts()
  for (const tilt of [0, ...TILTS]) {
    const p = await wordsPage(TEXTS, tilt)
    // the PNG records 72 dpi: one pixel is one point
    const pdf = await renderPdf(result([page(1, p.width, p.height, p.lines)]), { source: p.png })
    pdfs.set(tilt, { pdf, lines: p.lines, height: p.height })
  }
})

describe.each([0, ...TILTS])('text layer of a page tilted %s°', (tilt) => {
  it('pdf.js reads every line, whole and in order', async () => {
    const [p] = await extractPdf(pdfs.get(tilt)!.pdf)
    expect(textLines(p!.text)).toEqual(TEXTS)
  })

  it('lays every word\'s glyphs on its own quad, from its left edge to its right (pdf.js\'s glyph positions)', async () => {
    const { pdf, lines, height } = pdfs.get(tilt)!
    const toPt = ([x, y]: Point): Point => [x, height - y]
    const [glyphs] = await pdfGlyphs(pdf)
    const queue = glyphs!.filter((g) => g.unicode !== ' ')
    let checked = 0
    for (const line of lines) {
      const words = line.words!
      words.forEach((w, k) => {
        const q = w.box.map(toPt) as Quad
        const mine: PlacedGlyph[] = queue.splice(0, Array.from(w.text).length)
        expect(mine.map((g) => g.unicode).join('')).toBe(w.text)
        for (const g of mine) {
          expect(insideQuad(g.start, q, 0.5), `${w.text}: glyph ${g.unicode} starts off its word`).toBe(true)
          expect(insideQuad([(g.start[0] + g.end[0]) / 2, (g.start[1] + g.end[1]) / 2], q, 0.5), `${w.text}: glyph ${g.unicode} centred off its word`).toBe(true)
        }
        // along the word: its first glyph starts at its left edge; its last one ends at its right
        // edge, or where the next word starts when the text runs on without a space (CJK)
        const dir = unit(sub(q[2], q[3]))
        const next = words[k + 1]
        const joined = next !== undefined && !line.text.includes(`${w.text} ${next.text}`) && line.text.includes(`${w.text}${next.text}`)
        const endAt = joined ? next!.box.map(toPt)[3]! : q[2]
        expect(Math.abs(dot(sub(mine[0]!.start, q[3]), dir))).toBeLessThan(0.5)
        expect(Math.abs(dot(sub(mine[mine.length - 1]!.end, endAt), dir))).toBeLessThan(0.5)
        checked++
      })
    }
    expect(queue).toEqual([])
    expect(checked).toBe(lines.flatMap((l) => l.words!).length)
  })
})

describe('words the layer cannot place', () => {
  it('a degenerate word quad (zero width) sends the whole line to the line\'s own quad, text kept', async () => {
    const line = wordLine([['Total', 60, 0], ['due', 40, 10], ['12.00', 60, 10]], 40, 40, 20)
    line.words![1]!.box = rect(110, 40, 0, 20)
    const png = await sharp({ create: { width: 400, height: 100, channels: 3, background: '#fff' } }).png().toBuffer()
    const pdf = await renderPdf(result([page(1, 400, 100, [line])]), { source: png })
    const [p] = await extractPdf(pdf)
    expect(textLines(p!.text)).toEqual(['Total due 12.00'])
    // spread evenly over the line's quad: the first glyph at its left edge, the last ending at its right
    const [glyphs] = await pdfGlyphs(pdf)
    expect(glyphs![0]!.start[0]).toBeCloseTo(40, 3)
    expect(glyphs![glyphs!.length - 1]!.end[0]).toBeCloseTo(40 + 180, 3)
  })
})

describe('text layer on a PDF page with /Rotate', () => {
  it.each([0, 90, 180, 270] as const)('/Rotate %i: pdf.js reads the tilted lines whole and in order', async (rotate) => {
    const [p] = await extractPdf(await rotatedSource(rotate))
    expect(textLines(p!.text)).toEqual(ROTATED)
  })
})

describe('lines poppler would cut', () => {
  const h = 24
  const long = (deg: number): OcrLine => wordLine([['Invoice', 100, 0], ['number', 110, 10], ['2024-117', 130, 10], ['for', 45, 10], ['March', 90, 10]], 40, 100, h, deg)

  it(`are those drifting more than ${MAX_POPPLER_DRIFT} × their height across the page axis, or with a gap over ${MAX_POPPLER_GAP} × it`, () => {
    expect(popplerSplits(long(0))).toBe(false)
    // 515 px long: 3.5° drifts 31 px, 1° drifts 9 px (0.37 × 24)
    expect(popplerSplits(long(3.5))).toBe(true)
    expect(popplerSplits(long(-3.5))).toBe(true)
    expect(popplerSplits(long(1))).toBe(false)
    // a short line at 3.5°: 'Short line' 120 px drifts 7 px
    expect(popplerSplits(wordLine([['Short', 70, 0], ['line', 40, 10]], 40, 40, h, 3.5))).toBe(false)
    // gaps of 0.9 and 0.7 × the height on an upright line
    expect(popplerSplits(wordLine([['TOTAL', 80, 0], ['12.00', 70, 0.9 * h]], 40, 40, h))).toBe(true)
    expect(popplerSplits(wordLine([['TOTAL', 80, 0], ['12.00', 70, 0.7 * h]], 40, 40, h))).toBe(false)
    // without words the line's own quad decides
    expect(popplerSplits({ text: 'no words', score: 1, box: long(3.5).box })).toBe(true)
    expect(popplerSplits({ text: 'no words', score: 1, box: rect(40, 40, 500, h) })).toBe(false)
  })

  it.each([0, ...TILTS])('at %s° are the ones wrapped in an ActualText span, each drawn as one text object', async (tilt) => {
    const { pdf, lines } = pdfs.get(tilt)!
    const { getDocument, OPS } = await import('pdfjs-dist/legacy/build/pdf.mjs')
    const doc = await getDocument({ data: new Uint8Array(pdf), isEvalSupported: false, verbosity: 0 }).promise
    try {
      const { fnArray } = await (await doc.getPage(1)).getOperatorList()
      // the text objects (TJ) inside each span
      const spans: number[] = []
      let inside = -1
      for (const fn of fnArray) {
        if (fn === OPS.beginMarkedContentProps) inside = spans.push(0) - 1
        else if (fn === OPS.endMarkedContent) inside = -1
        else if (inside >= 0 && (fn === OPS.showText || fn === OPS.showSpacedText)) spans[inside]!++
      }
      expect(spans.length).toBe(lines.filter(popplerSplits).length)
      expect(spans.every((n) => n === 1)).toBe(true)
      if (Math.abs(tilt) >= 3.5) expect(spans.length).toBeGreaterThanOrEqual(TEXTS.length - 1) // all but perhaps 'Short line'
    } finally {
      await doc.destroy()
    }
  })
})

describe('pdftotext (poppler) on tilted pages', () => {
  requireForEach(program('pdftotext test', 'pdftotext', 'apt-get install poppler-utils'))
  const pdftotext = (pdf: Uint8Array, args: string[]): string[] => {
    const r = spawnSync('pdftotext', [...args, '-', '-'], { input: pdf })
    if (r.error) throw r.error
    expect(r.status, r.stderr.toString()).toBe(0)
    return textLines(r.stdout.toString())
  }

  it.each([0, ...TILTS])('reads the page tilted %s° line by line, in order', (tilt) => {
    const { pdf } = pdfs.get(tilt)!
    expect(pdftotext(pdf, [])).toEqual(TEXTS)
    expect(pdftotext(pdf, ['-layout'])).toEqual(TEXTS)
  })

  it.each([0, 90, 180, 270] as const)('reads lines tilted 5° on a page with /Rotate %i in order', async (rotate) => {
    const pdf = await rotatedSource(rotate)
    expect(pdftotext(pdf, [])).toEqual(ROTATED)
    expect(pdftotext(pdf, ['-layout'])).toEqual(ROTATED)
  })
})
