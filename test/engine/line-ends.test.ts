/**
 * Golden test: a line's final full stop or comma is read on faint pages (grey text on a light,
 * noisy background; test/fixtures/generate.ts `faint`). The detector's box there often ends on
 * the mark, and the recogniser drops a mark at its input's edge: the line is cropped a little
 * past its box (`lineCropMargin`, image/warp.ts lineCrop), while its box stays the detector's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { matchLines, normalizeText } from '../../bench/lib/metrics.js'
import { createOcr, type Ocr, type OcrResult } from '../../src/index.js'
import { buildSet, renderPage, type RenderedPage } from '../fixtures/generate.js'

/** Faint pages (seed 1, as `npm run eval`) with lines ending in `.`, `,`, `。` or `，`. */
const PAGES = [0, 5, 8]
const ENDS = /[.,。，]$/u

let ocr: Ocr
/** The same engine cropping each line at its box, as PaddleOCR does. */
let atBox: Ocr
beforeAll(async () => {
  ocr = await createOcr({ workers: 1, timeoutMs: 600_000 })
  atBox = await createOcr({ workers: 1, timeoutMs: 600_000, lineCropMargin: 0 })
})
afterAll(async () => {
  await ocr?.close()
  await atBox?.close()
})

interface Ending {
  want: string
  got: string
}

/** The GT lines of `page` that end in a mark, with what `result` read for each. */
function endings(page: RenderedPage, result: OcrResult): Ending[] {
  const m = matchLines(page.lines.map((l) => ({ text: l.text, box: l.box })), result.lines.map((l) => ({ text: l.text, box: l.box })), 0.5)
  expect(m.missedGt.map((i) => page.lines[i]!.text), 'missed lines').toEqual([])
  return m.matches.filter(({ gt }) => ENDS.test(page.lines[gt]!.text)).map(({ gt, pred }) => ({ want: normalizeText(page.lines[gt]!.text), got: normalizeText(result.lines[pred]!.text) }))
}

const kept = (e: Ending): boolean => e.got.at(-1) === e.want.at(-1)

describe('golden: the final mark of a line on faint pages', () => {
  it('lines that end in a full stop or comma keep it; the line boxes stay the detector’s', async () => {
    const specs = buildSet('faint', Math.max(...PAGES) + 1, 1)
    const pages = await Promise.all(PAGES.map((i) => renderPage(specs[i]!.spec)))
    const [ours, paddle] = await Promise.all([ocr, atBox].map((engine) => Promise.all(pages.map((p) => engine.read(p.png)))))
    const mine = pages.flatMap((p, k) => endings(p, ours![k]!))
    const reference = pages.flatMap((p, k) => endings(p, paddle![k]!))
    expect(mine.length).toBeGreaterThanOrEqual(12)
    // measured 13 of 13 with the default margin (0.1) and with 0.15; cropped at the box, 2 of 13 ("before use." read "before use")
    expect(mine.filter(kept).length, JSON.stringify(mine.filter((e) => !kept(e)))).toBeGreaterThanOrEqual(mine.length - 1)
    expect(reference.filter(kept).length).toBeLessThan(mine.filter(kept).length)
    // the margin widens what the recogniser sees, not the boxes the page reports
    expect(ours!.map((r) => r.lines.map((l) => l.box))).toEqual(paddle!.map((r) => r.lines.map((l) => l.box)))
  }, 300_000)
})
