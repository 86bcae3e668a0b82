/**
 * hOCR 1.2 (https://kba.github.io/hocr-spec/1.2/): XHTML with one `ocr_page` per page, one
 * `ocr_carea` > `ocr_par` per page holding its `ocr_line`s in reading order.
 *
 * Words: a line with measured words (OcrLine.words) holds one `ocrx_word` per word, `bbox` the
 * axis-aligned bounds of the word's quad and `x_wconf` its score (0-100), with a space between
 * words where the line's text has one (none between CJK characters, each a word of its own). A line
 * without words (results read without them) carries its text directly: hOCR leaves ocrx_word
 * optional, and inventing word boxes would state positions we do not know. The line's own
 * `x_wconf` is its recognition score. `baseline` is given for lines within ±MAX_BASELINE_DEG of
 * horizontal (the quad's bottom edge, as slope and offset from the bbox's bottom-left corner);
 * steeper lines get `textangle` instead.
 */
import type { OcrLine, OcrResult, PageResult } from '../types.js'
import { bounds, lineFrame, textAngle } from './geometry.js'
import { VERSION } from '../version.js'
import { lineWords } from './words.js'
import { escapeXml } from './xml.js'

/** Lines tilted more than this (degrees) get `textangle` instead of a `baseline`. */
const MAX_BASELINE_DEG = 10

const round = (v: number, digits: number): number => Number(v.toFixed(digits))
/** hOCR's x_wconf: the score as a whole percentage. */
const confidence = (score: number): number => Math.round(Math.min(1, Math.max(0, score)) * 100)

function lineTitle(line: OcrLine, page: PageResult): string {
  const [x0, y0, x1, y1] = bounds(line.box, page)
  const parts = [`bbox ${x0} ${y0} ${x1} ${y1}`]
  const angle = textAngle(line.box)
  if (Math.abs(angle) <= MAX_BASELINE_DEG) {
    const { origin, dir } = lineFrame(line.box)
    const slope = dir[0] !== 0 ? dir[1] / dir[0] : 0
    // baseline polynomial in the bbox frame: y = slope * x + offset, origin at the bbox's bottom-left
    const offset = origin[1] - y1 - slope * (origin[0] - x0)
    parts.push(`baseline ${round(slope, 5)} ${round(offset, 1)}`)
  } else {
    parts.push(`textangle ${Math.round(angle)}`)
  }
  parts.push(`x_wconf ${confidence(line.score)}`)
  return parts.join('; ')
}

/** The line's words as ocrx_word spans (ids word_<page>_<line>_<k>), or its text when it has no words. */
function lineContent(line: OcrLine, p: PageResult, id: string): string {
  const words = lineWords(line)
  if (!words) return escapeXml(line.text)
  return words
    .map((w, k) => {
      const [x0, y0, x1, y1] = bounds(w.quad, p)
      const title = `bbox ${x0} ${y0} ${x1} ${y1}; x_wconf ${confidence(w.score)}`
      return `${w.spaceBefore ? ' ' : ''}<span class="ocrx_word" id="word_${id}_${k + 1}" title="${title}">${escapeXml(w.text)}</span>`
    })
    .join('')
}

function page(p: PageResult, image: string): string {
  const n = p.page
  const title = [`image "${image.replace(/["\\]/g, '')}"`, `bbox 0 0 ${p.width} ${p.height}`, `ppageno ${n - 1}`]
  if (p.dpi) title.push(`scan_res ${p.dpi} ${p.dpi}`)
  const out = [`  <div class="ocr_page" id="page_${n}" title="${escapeXml(title.join('; '))}">`]
  if (p.lines.length > 0) {
    const [x0, y0, x1, y1] = bounds(p.lines.flatMap((l) => l.box), p)
    const bbox = `bbox ${x0} ${y0} ${x1} ${y1}`
    out.push(`   <div class="ocr_carea" id="block_${n}_1" title="${bbox}">`)
    out.push(`    <p class="ocr_par" id="par_${n}_1" title="${bbox}">`)
    p.lines.forEach((l, i) => {
      out.push(`     <span class="ocr_line" id="line_${n}_${i + 1}" title="${escapeXml(lineTitle(l, p))}">${lineContent(l, p, `${n}_${i + 1}`)}</span>`)
    })
    out.push('    </p>', '   </div>')
  }
  out.push('  </div>')
  return out.join('\n')
}

/** The result as one hOCR document; `fileName` names the page images (default "image"). */
export function renderHocr(result: OcrResult, fileName = 'image'): string {
  const hasWords = result.pages.some((p) => p.lines.some((l) => lineWords(l) !== null))
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
    ' <head>',
    `  <title>${escapeXml(fileName)}</title>`,
    '  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>',
    `  <meta name="ocr-system" content="ocrserve ${escapeXml(VERSION)}"/>`,
    `  <meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_par ocr_line${hasWords ? ' ocrx_word' : ''}"/>`,
    `  <meta name="ocr-number-of-pages" content="${result.pages.length}"/>`,
    ' </head>',
    ' <body>',
    ...result.pages.map((p) => page(p, fileName)),
    ' </body>',
    '</html>',
    '',
  ].join('\n')
}
