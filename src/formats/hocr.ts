/**
 * hOCR 1.2 (https://kba.github.io/hocr-spec/1.2/): XHTML with one `ocr_page` per page, one
 * `ocr_carea` > `ocr_par` per page holding its `ocr_line`s in reading order.
 *
 * Words: the recogniser returns a quad per line, not per word, so lines carry their text directly
 * and there are no `ocrx_word` elements (hOCR leaves ocrx_word optional; inventing word boxes would
 * state positions we do not know). `x_wconf` (engine confidence, 0-100) is therefore on the line.
 * `baseline` is given for lines within ±MAX_BASELINE_DEG of horizontal (the quad's bottom edge, as
 * slope and offset from the bbox's bottom-left corner); steeper lines get `textangle` instead.
 */
import type { OcrLine, OcrResult, PageResult } from '../types.js'
import { bounds, lineFrame, textAngle } from './geometry.js'
import { VERSION } from '../version.js'
import { escapeXml } from './xml.js'

/** Lines tilted more than this (degrees) get `textangle` instead of a `baseline`. */
const MAX_BASELINE_DEG = 10

const round = (v: number, digits: number): number => Number(v.toFixed(digits))

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
  parts.push(`x_wconf ${Math.round(line.score * 100)}`)
  return parts.join('; ')
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
      out.push(`     <span class="ocr_line" id="line_${n}_${i + 1}" title="${escapeXml(lineTitle(l, p))}">${escapeXml(l.text)}</span>`)
    })
    out.push('    </p>', '   </div>')
  }
  out.push('  </div>')
  return out.join('\n')
}

/** The result as one hOCR document; `fileName` names the page images (default "image"). */
export function renderHocr(result: OcrResult, fileName = 'image'): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
    ' <head>',
    `  <title>${escapeXml(fileName)}</title>`,
    '  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>',
    `  <meta name="ocr-system" content="ocrserve ${escapeXml(VERSION)}"/>`,
    '  <meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_par ocr_line"/>',
    `  <meta name="ocr-number-of-pages" content="${result.pages.length}"/>`,
    ' </head>',
    ' <body>',
    ...result.pages.map((p) => page(p, fileName)),
    ' </body>',
    '</html>',
    '',
  ].join('\n')
}
