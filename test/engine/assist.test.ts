/**
 * Idle workers helping a busy one (src/pipeline/assist.ts), through the real engine: worker
 * threads, the scheduler's routing and the real networks. A page read with help is the same as
 * read by one worker alone (same sessions, same outputs), the helper did run some of its calls,
 * and pages read at the same time, or arriving while a worker helps, are unaffected. The helped
 * engine's threads are the real ones, watched (EngineParts.workers): the test sees every message
 * to and from each, and can submit a page at the moment a worker is asked to help.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOcr, type Ocr, type OcrResult } from '../../src/index.js'
import { createEngine } from '../../src/ocr.js'
import type { WorkerInit } from '../../src/pipeline/messages.js'
import { pipelineThreads } from '../../src/pipeline/scheduler.js'
import type { WorkerFactory } from '../../src/workers/host.js'
import { squash, textImage } from '../helpers/images.js'

const PAGE_A = ['INVOICE 2024 0042', 'Quick brown fox jumps', 'over the lazy dog 7', 'TOTAL AMOUNT 118.50', 'Thank you for coming', 'SEE YOU AGAIN SOON']
const PAGE_B = ['SECOND PAGE HERE', 'with other words 99', 'AND A THIRD LINE']

let helped: Ocr
let solo: Ocr
let a: Buffer
let b: Buffer

/** Every message between the main thread and the helped engine's workers, in order. */
const traffic: Array<{ worker: number; dir: 'to' | 'from'; type: string }> = []
/** Called just after a worker is sent 'assist-run' (asked to help). */
let onAssistRun: (() => void) | null = null

const watchedThreads: WorkerFactory<WorkerInit> = (init, index) => {
  const thread = pipelineThreads(init, index)
  return {
    postMessage(message, transfer) {
      const { type } = message as { type: string }
      traffic.push({ worker: index, dir: 'to', type })
      thread.postMessage(message, transfer)
      if (type === 'assist-run') onAssistRun?.()
    },
    on: (event, listener) =>
      thread.on(event, event !== 'message' ? listener : (message: { type: string }) => (traffic.push({ worker: index, dir: 'from', type: message.type }), listener(message))),
    terminate: () => thread.terminate(),
  }
}

beforeAll(async () => {
  ;[helped, solo, a, b] = await Promise.all([
    createEngine({ workers: 2, threadsPerWorker: 1 }, { workers: watchedThreads }),
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

  it('a page arriving while a worker helps goes to that worker at once, and both pages read as alone', async () => {
    const from = traffic.length
    let second: Promise<OcrResult> | undefined
    let onArrival: ReturnType<Ocr['stats']> | undefined
    let helper = -1
    // the second page is submitted the moment the idle worker is asked to help with the first
    onAssistRun = () => {
      if (second) return
      helper = traffic.at(-1)!.worker
      queueMicrotask(() => {
        second = helped.read(b)
        onArrival = helped.stats()
      })
    }
    try {
      const ra = await helped.read(a)
      expect(second, 'no worker was asked to help with the first page').toBeDefined()
      const rb = await second!
      // it did not wait in the queue: both workers had a job as soon as it was submitted
      expect(onArrival).toMatchObject({ queued: 0, running: 2 })
      // the helper got the job while it was helping: after 'assist-run', before its 'assist-end'
      const toHelper = traffic.slice(from).filter((t) => t.worker === helper)
      const run = toHelper.findIndex((t) => t.dir === 'to' && t.type === 'assist-run')
      const job = toHelper.findIndex((t) => t.dir === 'to' && t.type === 'job')
      const end = toHelper.findIndex((t) => t.dir === 'from' && t.type === 'assist-end')
      expect(run).toBeGreaterThanOrEqual(0)
      expect(job).toBeGreaterThan(run)
      expect(end).toBeGreaterThan(job)
      expect(lines(ra)).toEqual(lines(await solo.read(a)))
      expect(lines(rb)).toEqual(lines(await solo.read(b)))
      expect(helped.stats()).toMatchObject({ queued: 0, running: 0, failed: 0 })
    } finally {
      onAssistRun = null
    }
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
