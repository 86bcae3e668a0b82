/**
 * Idle workers helping a busy one (src/pipeline/assist.ts), through the real engine: worker
 * threads, the scheduler's routing and the real networks. A page read with help is the same as
 * read by one worker alone (same sessions, same outputs), the helper did run some of its calls,
 * and pages read at the same time, or arriving while a worker helps, are unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOcr, type Ocr, type OcrResult } from '../../src/index.js'
import { squash, textImage } from '../helpers/images.js'

const PAGE_A = ['INVOICE 2024 0042', 'Quick brown fox jumps', 'over the lazy dog 7', 'TOTAL AMOUNT 118.50', 'Thank you for coming', 'SEE YOU AGAIN SOON']
const PAGE_B = ['SECOND PAGE HERE', 'with other words 99', 'AND A THIRD LINE']

let helped: Ocr
let solo: Ocr
let a: Buffer
let b: Buffer

beforeAll(async () => {
  ;[helped, solo, a, b] = await Promise.all([
    createOcr({ workers: 2, threadsPerWorker: 1 }),
    createOcr({ workers: 2, threadsPerWorker: 1, idleAssist: false }),
    textImage(PAGE_A, 34).then((t) => t.png),
    textImage(PAGE_B, 34).then((t) => t.png),
  ])
}, 120_000)

afterAll(async () => {
  await helped?.close()
  await solo?.close()
})

const lines = (r: OcrResult) => r.pages.map((p) => p.lines)

describe('idle workers help a busy one', () => {
  it('a page read with help is the same as read by one worker, and the helper ran some of its calls', async () => {
    const before = helped.stats().assistRuns
    const withHelp = await helped.read(a)
    const alone = await solo.read(a)
    expect(withHelp.lines.map((l) => squash(l.text))).toEqual(PAGE_A.map(squash))
    // texts, scores and boxes: the same networks on the same inputs give the same numbers
    expect(lines(withHelp)).toEqual(lines(alone))
    expect(helped.stats().assistRuns).toBeGreaterThan(before)
    expect(solo.stats().assistRuns).toBe(0)
  })

  it('two pages at once: both workers are busy, each page reads as alone', async () => {
    const [ra, rb] = await Promise.all([helped.read(a), helped.read(b)])
    expect(lines(ra)).toEqual(lines(await solo.read(a)))
    expect(lines(rb)).toEqual(lines(await solo.read(b)))
  })

  it('pages arriving while a worker helps start at once and read as alone', async () => {
    const first = helped.read(a)
    // the second page arrives while the first one's lines are being read on both workers
    await new Promise((r) => setTimeout(r, 250))
    const second = helped.read(b)
    const [ra, rb] = await Promise.all([first, second])
    expect(lines(ra)).toEqual(lines(await solo.read(a)))
    expect(lines(rb)).toEqual(lines(await solo.read(b)))
    expect(helped.stats()).toMatchObject({ queued: 0, running: 0, failed: 0 })
  })

  it('one worker: nothing to help with', async () => {
    const one = await createOcr({ workers: 1 })
    try {
      const r = await one.read(b)
      expect(r.lines.map((l) => squash(l.text))).toEqual(PAGE_B.map(squash))
      expect(one.stats().assistRuns).toBe(0)
    } finally {
      await one.close()
    }
  })
})
