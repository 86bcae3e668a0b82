/**
 * ALTO v4 (https://www.loc.gov/standards/alto/, schema alto-4-4.xsd), MeasurementUnit pixel:
 * Description (sourceImageInformation, OCRProcessing naming ocrserve) and
 * Layout > Page > PrintSpace > TextBlock (one per page) > TextLine > String / SP.
 *
 * An ALTO String is a word. Lines with measured words (OcrLine.words) give each String the
 * axis-aligned bounds of its word's quad and the word's own score as WC, and an SP with the
 * measured gap wherever the line's text has a space (none between CJK characters, which are words
 * of their own). Lines without words are split on whitespace and their word boxes ESTIMATED by
 * cutting the line's quad in proportion to character counts, WC the line's score on every word.
 * TextLine boxes are exact either way (the quad's axis-aligned bounds).
 */
import type { OcrResult, PageResult } from '../types.js'
import { bounds } from './geometry.js'
import { VERSION } from '../version.js'
import { estimatedWords, lineWords } from './words.js'
import { escapeXml } from './xml.js'

type Rect = [number, number, number, number]

const pos = ([x0, y0, x1, y1]: Rect): string => `HPOS="${x0}" VPOS="${y0}" WIDTH="${x1 - x0}" HEIGHT="${y1 - y0}"`

const wc = (score: number): number => Number(Math.min(1, Math.max(0, score)).toFixed(3))

function textLine(p: PageResult, lineIndex: number): string[] {
  const line = p.lines[lineIndex]!
  const words = lineWords(line) ?? estimatedWords(line)
  if (words.length === 0) return [] // a TextLine needs at least one String
  const id = `${p.page}_${lineIndex + 1}`
  const out = [`     <TextLine ID="line_${id}" ${pos(bounds(line.box, p))}>`]
  let prev: Rect | null = null
  words.forEach((w, k) => {
    const r = bounds(w.quad, p)
    if (prev && w.spaceBefore) out.push(`      <SP HPOS="${prev[2]}" VPOS="${Math.min(prev[1], r[1])}" WIDTH="${Math.max(0, r[0] - prev[2])}"/>`)
    out.push(`      <String ID="string_${id}_${k + 1}" CONTENT="${escapeXml(w.text)}" ${pos(r)} WC="${wc(w.score)}"/>`)
    prev = r
  })
  out.push('     </TextLine>')
  return out
}

function page(p: PageResult): string[] {
  const n = p.page
  const out = [`  <Page ID="page_${n}" PHYSICAL_IMG_NR="${n}" WIDTH="${p.width}" HEIGHT="${p.height}">`, `   <PrintSpace HPOS="0" VPOS="0" WIDTH="${p.width}" HEIGHT="${p.height}">`]
  const lines = p.lines.flatMap((_, i) => textLine(p, i))
  if (lines.length > 0) {
    out.push(`    <TextBlock ID="block_${n}" ${pos(bounds(p.lines.flatMap((l) => l.box), p))}>`, ...lines, '    </TextBlock>')
  }
  out.push('   </PrintSpace>', '  </Page>')
  return out
}

/** The result as one ALTO v4 document; `fileName` goes to sourceImageInformation. */
export function renderAlto(result: OcrResult, fileName?: string): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#" xmlns:xlink="http://www.w3.org/1999/xlink"' +
      ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' +
      ' xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v4# http://www.loc.gov/standards/alto/v4/alto-4-4.xsd" SCHEMAVERSION="4.4">',
    ' <Description>',
    '  <MeasurementUnit>pixel</MeasurementUnit>',
    ...(fileName ? ['  <sourceImageInformation>', `   <fileName>${escapeXml(fileName)}</fileName>`, '  </sourceImageInformation>'] : []),
    '  <OCRProcessing ID="ocr_1">',
    '   <ocrProcessingStep>',
    '    <processingSoftware>',
    '     <softwareName>ocrserve</softwareName>',
    `     <softwareVersion>${escapeXml(VERSION)}</softwareVersion>`,
    '    </processingSoftware>',
    '   </ocrProcessingStep>',
    '  </OCRProcessing>',
    ' </Description>',
    ' <Layout>',
    ...result.pages.flatMap(page),
    ' </Layout>',
    '</alto>',
    '',
  ].join('\n')
}
