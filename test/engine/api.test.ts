/**
 * The library API: read() by path and by bytes, cancellation, timeouts, the queue bound, stats,
 * per-read options, settings validation and close(). One engine (one worker, queue of 2) for the
 * file, closed by the last test. Here the options reach a real engine; the scheduler's rules
 * themselves (queue order, bounds, priorities, deadlines, crashes) are test/unit/scheduler.test.ts's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOcr, OcrError, type Ocr, type OcrResult } from '../../src/index.js'
import { expectLines, expectOcrError, inkRects, quadBounds, renderPage, squash, type Page } from './support.js'

const MAX_QUEUE = 2

let ocr: Ocr
let page: Page
let dir: string

beforeAll(async () => {
  ;[ocr, page] = await Promise.all([createOcr({ workers: 1, maxQueue: MAX_QUEUE }), renderPage(['HELLO WORLD 2024', 'Quick brown fox'])])
  dir = mkdtempSync(join(tmpdir(), 'ocrserve-api-'))
})

afterAll(async () => {
  await ocr?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const withoutTiming = ({ timing_ms: _t, pages, ...rest }: OcrResult) => ({ ...rest, pages: pages.map(({ timing_ms: _p, ...page }) => page) })

/** Settles a promise into a value or an error, for checking several concurrent reads. */
const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))

describe('read()', () => {
  it('a path and the same bytes give the same result', async () => {
    const file = join(dir, 'page.png')
    writeFileSync(file, page.png)
    // a view into a larger buffer, with other bytes before and after it
    const backing = Buffer.concat([Buffer.alloc(1000, 0xab), page.png, Buffer.alloc(1000, 0xcd)])
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 1000, page.png.length)
    const [byPath, byBuffer, byView] = [await ocr.read(file), await ocr.read(page.png), await ocr.read(view)]
    expectLines(byPath.lines, page)
    expect(withoutTiming(byBuffer)).toEqual(withoutTiming(byPath))
    expect(withoutTiming(byView)).toEqual(withoutTiming(byPath))
  })

  it('a page read after a larger and a smaller one reads as it did first (the worker reuses its detector input)', async () => {
    // one worker, so the three reads share one pipeline: the detector's input buffer from the
    // larger page is lent to the smaller one, and a stale tail must not leak into the next read
    const big = await renderPage(['A LARGER PAGE WITH', 'MORE LINES OF TEXT', 'THAN THE OTHER', 'ONE HAS 2024'], { width: 900 })
    const first = await ocr.read(page.png)
    expectLines((await ocr.read(big.png)).lines, big)
    const again = await ocr.read(page.png)
    expect(withoutTiming(again)).toEqual(withoutTiming(first))
  })

  it('the caller keeps its buffer (the engine works on a copy)', async () => {
    const bytes = Buffer.from(page.png)
    await ocr.read(bytes)
    expect(bytes.equals(page.png)).toBe(true)
    expect(bytes.byteLength).toBe(page.png.byteLength)
  })

  it('result shape: sizes, rotation, lines, stage timings', async () => {
    const r = await ocr.read(page.png)
    // (extra keys are allowed; these are the ones promised)
    expect(r).toEqual(expect.objectContaining({ width: page.width, height: page.height, rotation: 0, lines: expect.any(Array), timing_ms: expect.any(Object) }))
    expect(r.pages.map((p) => p.page)).toEqual([1])
    const t = r.timing_ms
    for (const k of ['decode', 'det', 'cls', 'rec', 'total'] as const) {
      expect(Number.isFinite(t[k]), k).toBe(true)
      expect(t[k], k).toBeGreaterThanOrEqual(0)
    }
    expect(t.det).toBeGreaterThan(0)
    expect(t.rec).toBeGreaterThan(0)
    expect(t.total).toBeGreaterThanOrEqual(t.decode + t.det + t.rec - 1)
    for (const l of r.lines) expect(l).toEqual(expect.objectContaining({ text: expect.any(String), score: expect.any(Number), box: expect.any(Array) }))
  })

  it('keeps the event loop free while it works (inference runs in a worker)', async () => {
    // a big page keeps the worker busy for a while; the main thread's timers must keep firing
    const big = await renderPage(['HELLO WORLD 2024', 'Quick brown fox', 'Jumps over 42', 'The lazy dog', 'PACK MY BOX', 'Five dozen jugs'], { size: 48, width: 1400 })
    let maxLag = 0
    let last = performance.now()
    const timer = setInterval(() => {
      const t = performance.now()
      maxLag = Math.max(maxLag, t - last - 10)
      last = t
    }, 10)
    let r: OcrResult
    try {
      r = await ocr.read(big.png)
    } finally {
      clearInterval(timer)
    }
    expect(r.lines).toHaveLength(big.lines.length)
    // run on the main thread, the detector or the recogniser would stall it for its whole run;
    // measured here: lag ≈ 5 ms idle, up to 80 ms on a loaded machine, against det ≈ 0.3–1.3 s, rec ≈ 0.5–2.8 s
    const slowestStage = Math.max(r.timing_ms.det, r.timing_ms.rec)
    expect(maxLag).toBeLessThan(slowestStage / 3)
  })
})

describe('per-read options', () => {
  /** One line, drawn upside down, on a page too large for the whole-image fallback. */
  let upsideDown: { png: Buffer; width: number; height: number; ink: [number, number, number, number] }
  beforeAll(async () => {
    const line = await renderPage(['HELLO WORLD 2024'])
    const { data, info } = await sharp(line.png).rotate(180).extend({ top: 60, bottom: 60, background: '#fff' }).removeAlpha().raw().toBuffer({ resolveWithObject: true })
    const ink = inkRects(data, info.width, info.height)
    expect(ink).toHaveLength(1)
    const png = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer()
    upsideDown = { png, width: info.width, height: info.height, ink: ink[0]! }
    expect(upsideDown.height).toBeGreaterThan(160)
  })

  it('with the classifier (default) an upside-down line reads, boxed from its own top-left', async () => {
    const r = await ocr.read(upsideDown.png)
    expect(r.lines.map((l) => squash(l.text))).toEqual([squash('HELLO WORLD 2024')])
    // the text's own top-left corner is the ink's bottom-right corner in the image
    const [x0, y0, x1, y1] = upsideDown.ink
    const [first, second] = r.lines[0]!.box
    expect(Math.abs(first[0] - x1)).toBeLessThanOrEqual(10)
    expect(Math.abs(first[1] - y1)).toBeLessThanOrEqual(10)
    expect(Math.abs(second[0] - x0)).toBeLessThanOrEqual(10)
    expect(Math.abs(second[1] - y1)).toBeLessThanOrEqual(10)
    expect(quadBounds(r.lines[0]!.box)[1]).toBeGreaterThanOrEqual(y0 - 10)
  })

  it('cls: false skips the classifier: the same line is not read upright', async () => {
    const r = await ocr.read(upsideDown.png, { cls: false })
    expect(squash(r.lines.map((l) => l.text).join(''))).not.toBe(squash('HELLO WORLD 2024'))
    // and an upright page reads the same without it
    expectLines((await ocr.read(page.png, { cls: false })).lines, page)
  })
})

describe('cancellation, timeouts, the queue', () => {
  it('an already-aborted signal → CANCELLED, nothing runs', async () => {
    const before = ocr.stats()
    await expectOcrError(ocr.read(page.png, { signal: AbortSignal.abort() }), 'CANCELLED')
    const after = ocr.stats()
    expect(after.completed).toBe(before.completed)
    expect(after.running).toBe(0)
  })

  it('aborting a queued job → CANCELLED at once; the jobs around it succeed', async () => {
    const before = ocr.stats()
    const ac = new AbortController()
    const order: string[] = []
    const track = (name: string, p: Promise<OcrResult>) => settle(p).finally(() => order.push(name))
    const first = track('first', ocr.read(page.png))
    const second = track('second', ocr.read(page.png))
    const third = track('third', ocr.read(page.png, { signal: ac.signal }))
    expect(ocr.stats().queued).toBe(2)
    ac.abort()
    const [a, b, c] = await Promise.all([first, second, third])
    expect(c.ok).toBe(false)
    expect((c as { error: OcrError }).error).toBeInstanceOf(OcrError)
    expect((c as { error: OcrError }).error.code).toBe('CANCELLED')
    // it did not wait for its turn
    expect(order[0]).toBe('third')
    for (const r of [a, b]) {
      expect(r.ok).toBe(true)
      if (r.ok) expectLines(r.value.lines, page)
    }
    const after = ocr.stats()
    expect(after.completed - before.completed).toBe(2)
    expect(after.failed - before.failed).toBe(1)
  })

  it('aborting a running job → CANCELLED, and the worker is free again', async () => {
    const ac = new AbortController()
    const p = ocr.read(page.png, { signal: ac.signal })
    await new Promise((r) => setTimeout(r, 30))
    expect(ocr.stats().running).toBe(1)
    ac.abort()
    await expectOcrError(p, 'CANCELLED')
    expectLines((await ocr.read(page.png)).lines, page)
  })

  it('timeoutMs: 1 → TIMEOUT (504); the engine carries on', async () => {
    const e = await expectOcrError(ocr.read(page.png, { timeoutMs: 1 }), 'TIMEOUT')
    expect(e.status).toBe(504)
    expectLines((await ocr.read(page.png)).lines, page)
  })

  it(`a full queue (1 running + ${MAX_QUEUE} waiting) → OVERLOADED with retryAfterSec, at once`, async () => {
    const reads = Array.from({ length: MAX_QUEUE + 3 }, () => settle(ocr.read(page.png)))
    const results = await Promise.all(reads)
    const overloaded = results.filter((r) => !r.ok)
    expect(results.filter((r) => r.ok)).toHaveLength(MAX_QUEUE + 1)
    expect(overloaded).toHaveLength(2)
    // the first MAX_QUEUE + 1 were accepted, in submission order
    expect(results.slice(0, MAX_QUEUE + 1).every((r) => r.ok)).toBe(true)
    for (const r of overloaded) {
      const e = (r as { error: OcrError }).error
      expect(e).toBeInstanceOf(OcrError)
      expect(e.code).toBe('OVERLOADED')
      expect(e.status).toBe(503)
      expect(e.retryAfterSec).toBeGreaterThan(0)
    }
  })

  it('stats() counts completed and failed jobs', async () => {
    const before = ocr.stats()
    await ocr.read(page.png)
    await expectOcrError(ocr.read(Buffer.alloc(0)), 'UNSUPPORTED_MEDIA')
    await expectOcrError(ocr.read(join(dir, 'missing.png')), 'NOT_FOUND')
    const after = ocr.stats()
    expect(after.completed - before.completed).toBe(1)
    expect(after.failed - before.failed).toBe(2)
    expect(after.workers).toBe(1)
    expect(after.queued).toBe(0)
    expect(after.running).toBe(0)
    expect(after.busyMs).toHaveLength(1)
    expect(after.busyMs[0]).toBeGreaterThan(before.busyMs[0]!)
  })
})

describe('modelRewrite: false (the model files as shipped)', () => {
  let shipped: Ocr
  beforeAll(async () => {
    shipped = await createOcr({ workers: 1, modelRewrite: false })
  })
  afterAll(async () => shipped?.close())

  it('reads the same lines, boxes and (to float rounding) scores as the rewritten graphs', async () => {
    const [a, b] = [await ocr.read(page.png), await shipped.read(page.png)]
    expectLines(b.lines, page)
    expect(b.lines.map((l) => l.text)).toEqual(a.lines.map((l) => l.text))
    expect(b.lines.map((l) => l.box)).toEqual(a.lines.map((l) => l.box))
    b.lines.forEach((l, i) => expect(Math.abs(l.score - a.lines[i]!.score)).toBeLessThan(1e-4))
    // and they are other graphs: float rounding differs somewhere
    expect(b.lines.map((l) => l.score)).not.toEqual(a.lines.map((l) => l.score))
  })
})

describe('settings validation', () => {
  it.each([
    [{ boxThresh: 2 }, 'boxThresh'],
    [{ unclipRatio: -1 }, 'unclipRatio'],
    [{ workers: -1 }, 'workers'],
    [{ recBatchSize: 0 }, 'recBatchSize'],
    [{ detLimitType: 'mean' as 'max' }, 'detLimitType'],
    [{ device: 'tpu' as 'cpu' }, 'device'],
    [{ boxTresh: 0.9 } as never, 'boxTresh'], // a misspelt setting is an error, not silently ignored
    [{ maxPages: 0 }, 'maxPages'],
  ])('%j → INVALID_CONFIG naming the setting', async (settings, name) => {
    const e = await expectOcrError(createOcr(settings), 'INVALID_CONFIG')
    expect(e.message).toContain(name)
  })
})

describe('close()', () => {
  it('waits for the job in flight, then refuses new ones with SHUTTING_DOWN', async () => {
    const order: string[] = []
    const inFlight = ocr.read(page.png).finally(() => order.push('read'))
    const closing = ocr.close().then(() => order.push('close'))
    // the engine stops taking jobs as soon as close() is called
    await expectOcrError(ocr.read(page.png), 'SHUTTING_DOWN')
    expectLines((await inFlight).lines, page)
    await closing
    expect(order).toEqual(['read', 'close'])
    const e = await expectOcrError(ocr.read(page.png), 'SHUTTING_DOWN')
    expect(e.status).toBe(503)
    expect(await ocr.ready()).toBe(false)
    await ocr.close() // idempotent
  })
})
