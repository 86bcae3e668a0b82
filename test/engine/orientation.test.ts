/**
 * Page orientation on real pages turned in their pixels (no EXIF): each page is read in all four
 * turns and must report the rotation that undoes the turn, with its lines in the upright page's
 * reading order. Kinds: scans (Tesseract's test pages), screenshots (CnOCR's examples; en_black
 * has lines 30 times longer than high, where the 192-px line classifier votes the wrong way), a
 * street photo, and rendered receipts (many short lines; real SROIE receipts may not be
 * committed). Images: test/fixtures/real (SOURCES.md).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { editDistance, matchLines, normalizeText } from '../../bench/lib/metrics.js'
import { createOcr, type Ocr, type OcrResult } from '../../src/index.js'
import { receiptSpec, renderPage, type RenderedPage, type Rotation } from '../fixtures/generate.js'

const REAL = fileURLToPath(new URL('../fixtures/real/images/', import.meta.url))
const TURNS: Rotation[] = [0, 90, 180, 270]

let ocr: Ocr
beforeAll(async () => {
  ocr = await createOcr({ workers: 2 })
})
afterAll(async () => ocr?.close())

/** Reads started once and shared by the tests (the engine queues them). */
const reads = new Map<string, Promise<OcrResult>>()
function readOnce(key: string, bytes: () => Promise<Buffer>): Promise<OcrResult> {
  let p = reads.get(key)
  if (!p) {
    p = bytes().then((b) => ocr.read(b, { timeoutMs: 300_000 }))
    reads.set(key, p)
  }
  return p
}

/** `text` read as `want`: equal after normalisation, up to one edit per 10 characters. */
function expectRead(text: string, want: string): void {
  const [a, b] = [normalizeText(text), normalizeText(want)]
  expect(editDistance(a, b), `"${text}" read for "${want}"`).toBeLessThanOrEqual(Math.max(1, Math.floor([...b].length / 10)))
}

interface RealPage {
  image: string
  kind: string
  /** The page's first lines in reading order (from its labels, checked against the image). */
  first: string[]
}

const PAGES: RealPage[] = [
  { image: 'page/tesseract_phototest.png', kind: 'scan', first: ['This is a lot of 12 point text to test the', 'ocr code and see if it works on all types', 'of file format.'] },
  { image: 'page/tesseract_eurotext.png', kind: 'scan', first: ['The (quick) [brown] {fox} jumps!', 'Over the $43,456.78 <lazy> #90 dog', '& duck/goose, as 12.5% of E-mail'] },
  { image: 'page/cnocr_multi-line_cn1.png', kind: 'screenshot', first: ['网络支付并无本质的区别，因为', '每一个手机号码和邮件地址背后'] },
  {
    image: 'page/cnocr_multi-line_en_black.png',
    kind: 'screenshot, very long lines',
    first: ['transforms the image many times. First, the image goes through many convolutional layers. In those', 'convolutional layers, the network learns new and increasingly complex features in its layers. Then the'],
  },
  // the street sign's text decides its orientation: 愚园路 and "Yuyuan Rd." read one way only
  { image: 'scene/easyocr_chinese.jpg', kind: 'photo', first: ['西', '愚园路', '东'] },
]

const turned = (image: string, turn: Rotation) => readOnce(`${image}@${turn}`, () => sharp(readFileSync(REAL + image)).rotate(turn).png().toBuffer())

describe.each(PAGES)('$image ($kind)', ({ image, first }) => {
  beforeAll(() => {
    for (const turn of TURNS) void turned(image, turn).catch(() => undefined)
  })

  it.each(TURNS)('turned %d° clockwise: rotation undoes it, first lines in order', async (turn) => {
    const r = await turned(image, turn)
    expect(r.rotation).toBe((360 - turn) % 360)
    expect(r.lines.length).toBeGreaterThanOrEqual(first.length)
    first.forEach((want, i) => expectRead(r.lines[i]!.text, want))
  })

  it('every turn gives the upright page\'s lines in the upright page\'s order', async () => {
    const upright = (await turned(image, 0)).lines.map((l) => normalizeText(l.text))
    for (const turn of TURNS.slice(1)) {
      const lines = (await turned(image, turn)).lines.map((l) => normalizeText(l.text))
      // each line's closest upright line, in order: the sequence must not go back
      const at = lines.map((t) => upright.reduce((best, u, j) => (editDistance(t, u) < editDistance(t, upright[best]!) ? j : best), 0))
      expect(at, `turn ${turn}: ${JSON.stringify(lines)}`).toEqual([...at].sort((a, b) => a - b))
      expect(new Set(at).size, `turn ${turn}: lines found`).toBeGreaterThanOrEqual(upright.length - 1)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Receipts, rendered (test/fixtures/generate.ts receiptSpec): a narrow page of short lines whose
// masked card number ("XXXX XXXX XXXX") reads as well upside down as upright.

interface ReceiptCase {
  seed: number
  /** JPEG quality the page is saved at (0: PNG), as a photo or scan of a slip would be. */
  jpeg: number
  saved: string
}
const RECEIPTS: ReceiptCase[] = [
  { seed: 1, jpeg: 0, saved: 'PNG' },
  { seed: 2, jpeg: 75, saved: 'JPEG q75' },
]

const receipts = new Map<string, Promise<RenderedPage>>()
function receipt(c: ReceiptCase, turn: Rotation): Promise<RenderedPage> {
  const key = `${c.seed}@${turn}`
  let p = receipts.get(key)
  if (!p) {
    p = renderPage(receiptSpec(c.seed, turn)).then(async (page) => (c.jpeg ? { ...page, png: await sharp(page.png).jpeg({ quality: c.jpeg }).toBuffer() } : page))
    receipts.set(key, p)
  }
  return p
}

describe.each(RECEIPTS)('rendered receipt, seed $seed, $saved', (c) => {
  const read = (turn: Rotation) => readOnce(`receipt ${c.seed}@${turn}`, async () => (await receipt(c, turn)).png)
  beforeAll(() => {
    for (const turn of TURNS) void read(turn).catch(() => undefined)
  })

  it('is a receipt of many short lines with a masked card number (the fixture is what it claims)', async () => {
    const page = await receipt(c, 0)
    expect(page.height / page.width).toBeGreaterThan(1.2)
    expect(page.lines.length).toBeGreaterThanOrEqual(30)
    expect(page.lines.map((l) => l.text)).toContain('XXXX XXXX XXXX')
    const median = [...page.lines.map((l) => [...l.text].length)].sort((a, b) => a - b)[page.lines.length >> 1]!
    expect(median).toBeLessThanOrEqual(12)
  })

  it.each(TURNS)('turned %d° clockwise: rotation undoes it, every line found in reading order', async (turn) => {
    const page = await receipt(c, turn)
    const r = await read(turn)
    expect(r.rotation).toBe((360 - turn) % 360)
    // the first lines are the shop's header, top to bottom
    page.lines.slice(0, 3).forEach((l, i) => expectRead(r.lines[i]!.text, l.text))
    const m = matchLines(page.lines, r.lines, 0.5)
    expect(m.missedGt.map((i) => page.lines[i]!.text), 'missed lines').toEqual([])
    // matched lines in the order they were read are the receipt's lines in its own order
    expect([...m.matches].sort((a, b) => a.pred - b.pred).map((x) => x.gt)).toEqual(page.lines.map((_, i) => i))
  })
})
