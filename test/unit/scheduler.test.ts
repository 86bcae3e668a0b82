/**
 * The scheduler (src/pipeline/scheduler.ts) on fake workers (test/helpers/fake-workers.ts): no
 * threads, no ONNX; each job stays on its worker until the test answers it. The queue (FIFO,
 * bound, priorities), deadlines, cancellation, crash recovery, progress, stats, close, and the
 * routing of idle-worker help. Deadlines run on fake timers, so nothing waits real time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseEngineSettings } from '../../src/config.js'
import { OcrError } from '../../src/errors.js'
import type { Logger } from '../../src/logger.js'
import type { WorkerInit } from '../../src/pipeline/messages.js'
import { Scheduler, type JobSpec, type SubmitOptions } from '../../src/pipeline/scheduler.js'
import type { OcrResult, PageResult } from '../../src/types.js'
import { fakeThreads, settled, turn, until, type FakeThreads, type FakeWorker, type Posted } from '../helpers/fake-workers.js'

const SETTINGS = parseEngineSettings({})
const SPEC: JobSpec = { model: 'builtin', words: false, useCls: true, maxPages: 10, dpi: 200, pdfText: 'auto', progress: false }
/** A result the test can tell apart: the scheduler hands it on untouched. */
const resultOf = (name: string) => ({ text: name, lines: [], pages: [] }) as unknown as OcrResult

interface LogRecord {
  level: string
  obj: unknown
  msg: string | undefined
}

let threads: FakeThreads<WorkerInit>
let logs: LogRecord[]
let scheduler: Scheduler

function logger(): Logger {
  const at = (level: string) => (obj: object | string, msg?: string) => void logs.push({ level, obj, msg })
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

async function startScheduler(size: number, options: { maxQueue?: number; assist?: boolean } = {}): Promise<Scheduler> {
  const s = new Scheduler({
    size,
    maxQueue: options.maxQueue ?? 8,
    logger: logger(),
    assist: options.assist ?? false,
    init: (index) => ({ settings: SETTINGS, packs: [], threads: 1, index, assist: options.assist ?? false }),
    workers: threads.factory,
  })
  await s.start()
  return s
}

const submit = (name: string, options: Partial<SubmitOptions> = {}) => scheduler.submit(new TextEncoder().encode(name), SPEC, { timeoutMs: 60_000, ...options })
/** The name a job was submitted with (its input bytes). */
const nameOf = (job: Posted) => new TextDecoder().decode(job.input as Uint8Array)
const jobsOf = (w: FakeWorker<WorkerInit>) => w.sent('job').map(nameOf)
/** The worker answers its job `name` with a result. */
function finish(w: FakeWorker<WorkerInit>, name: string): void {
  const job = w.sent('job').find((j) => nameOf(j) === name)!
  w.say({ type: 'result', id: job.id, result: resultOf(name) })
}

beforeEach(() => {
  threads = fakeThreads<WorkerInit>()
  logs = []
})

afterEach(() => {
  vi.useRealTimers()
})

describe('the queue', () => {
  it('runs jobs first in, first out on a free worker; each gets its own result', async () => {
    scheduler = await startScheduler(1)
    const w = threads.at(0)
    const [a, b, c] = ['a', 'b', 'c'].map((n) => submit(n))
    expect(jobsOf(w)).toEqual(['a'])
    expect(scheduler.stats()).toMatchObject({ running: 1, queued: 2 })
    finish(w, 'a')
    expect(await a).toEqual(resultOf('a'))
    expect(jobsOf(w)).toEqual(['a', 'b'])
    finish(w, 'b')
    await until('c to start', () => jobsOf(w).length === 3)
    finish(w, 'c')
    expect([await b, await c]).toEqual([resultOf('b'), resultOf('c')])
    expect(scheduler.stats()).toMatchObject({ running: 0, queued: 0, completed: 3, failed: 0 })
  })

  it('gives the input to the worker as a copy it owns (transferred), not the caller buffer', async () => {
    scheduler = await startScheduler(1)
    const input = new TextEncoder().encode('mine')
    const p = scheduler.submit(input, SPEC, { timeoutMs: 60_000 })
    const job = threads.at(0).sent('job')[0]!
    expect(job.input).not.toBe(input)
    expect(nameOf(job)).toBe('mine')
    finish(threads.at(0), 'mine')
    await p
  })

  it('spreads jobs over idle workers', async () => {
    scheduler = await startScheduler(2)
    const jobs = [submit('a'), submit('b')]
    expect([jobsOf(threads.at(0)), jobsOf(threads.at(1))]).toEqual([['a'], ['b']])
    finish(threads.at(0), 'a')
    finish(threads.at(1), 'b')
    await Promise.all(jobs)
  })

  it('past maxQueue waiting jobs: OVERLOADED at once, with a retry hint; nothing reaches a worker', async () => {
    scheduler = await startScheduler(1, { maxQueue: 2 })
    const accepted = [submit('a'), submit('b'), submit('c')]
    const refused = submit('d')
    await expect(refused).rejects.toMatchObject({ code: 'OVERLOADED', retryAfterSec: 1 })
    expect(scheduler.stats()).toMatchObject({ running: 1, queued: 2 })
    for (const name of ['a', 'b', 'c']) {
      await until(`${name} to start`, () => jobsOf(threads.at(0)).includes(name))
      finish(threads.at(0), name)
    }
    await Promise.all(accepted)
    expect(jobsOf(threads.at(0))).toEqual(['a', 'b', 'c'])
  })

  it('maxQueue 0: a job that finds a worker free runs; one that would wait is refused', async () => {
    scheduler = await startScheduler(1, { maxQueue: 0 })
    const a = submit('a')
    await expect(submit('b')).rejects.toMatchObject({ code: 'OVERLOADED' })
    finish(threads.at(0), 'a')
    await a
    const c = submit('c')
    finish(threads.at(0), 'c')
    expect(await c).toEqual(resultOf('c'))
  })

  it('a batch job runs only when no interactive job waits, whatever the order they came in', async () => {
    scheduler = await startScheduler(1)
    const w = threads.at(0)
    const first = submit('first')
    const batch = submit('batch', { priority: 'batch' })
    const later = submit('interactive')
    finish(w, 'first')
    await until('the next job', () => jobsOf(w).length === 2)
    expect(jobsOf(w)).toEqual(['first', 'interactive'])
    finish(w, 'interactive')
    await until('the batch job', () => jobsOf(w).length === 3)
    expect(jobsOf(w).at(-1)).toBe('batch')
    finish(w, 'batch')
    await Promise.all([first, batch, later])
  })

  it("a worker's error answer rejects that job with its code; the worker takes the next", async () => {
    scheduler = await startScheduler(1)
    const w = threads.at(0)
    const a = submit('a')
    const b = submit('b')
    w.say({ type: 'error', id: w.sent('job')[0]!.id, error: { code: 'UNDECODABLE_IMAGE', message: 'not an image' } })
    const e = await a.catch((err: unknown) => err)
    expect(e).toBeInstanceOf(OcrError)
    expect(e).toMatchObject({ code: 'UNDECODABLE_IMAGE', message: 'not an image' })
    await until('b to start', () => jobsOf(w).length === 2)
    finish(w, 'b')
    await b
    expect(scheduler.stats()).toMatchObject({ completed: 1, failed: 1 })
  })
})

describe('deadlines', () => {
  it('a job still queued at its deadline: TIMEOUT, and it never reaches a worker', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    scheduler = await startScheduler(1)
    const w = threads.at(0)
    const a = submit('a', { timeoutMs: 10_000 })
    const late = settled(submit('late', { timeoutMs: 500 }))
    vi.advanceTimersByTime(499)
    await turn()
    expect(late.done).toBe(false)
    vi.advanceTimersByTime(1)
    await until('the deadline', () => late.done)
    expect(late.error).toMatchObject({ code: 'TIMEOUT', message: 'job exceeded 500 ms' })
    expect(scheduler.stats().queued).toBe(0)
    finish(w, 'a')
    await a
    expect(jobsOf(w)).toEqual(['a'])
  })

  it('a running job past its deadline: TIMEOUT now, the worker is told to stop, and stays busy until it answers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    scheduler = await startScheduler(1)
    const w = threads.at(0)
    const slow = settled(submit('slow', { timeoutMs: 1000 }))
    const next = submit('next')
    vi.advanceTimersByTime(1000)
    await until('the deadline', () => slow.done)
    expect(slow.error).toMatchObject({ code: 'TIMEOUT' })
    const id = w.sent('job')[0]!.id
    expect(w.sent('cancel')).toEqual([{ type: 'cancel', id }])
    // the worker is still on it: the next job waits for its answer, which is discarded
    expect(jobsOf(w)).toEqual(['slow'])
    expect(scheduler.stats()).toMatchObject({ running: 1, queued: 1 })
    w.say({ type: 'error', id, error: { code: 'CANCELLED', message: 'job cancelled' } })
    await until('next to start', () => jobsOf(w).length === 2)
    finish(w, 'next')
    await next
    expect(scheduler.stats()).toMatchObject({ completed: 1, failed: 1 })
  })
})

describe('cancellation', () => {
  it('an already aborted signal: CANCELLED, nothing queued or posted', async () => {
    scheduler = await startScheduler(1)
    await expect(submit('a', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'CANCELLED' })
    expect(threads.at(0).sent('job')).toEqual([])
    expect(scheduler.stats()).toMatchObject({ queued: 0, running: 0, failed: 0 })
  })

  it('aborting a queued job: CANCELLED at once; it never runs, the others do', async () => {
    scheduler = await startScheduler(1)
    const w = threads.at(0)
    const ac = new AbortController()
    const a = submit('a')
    const b = settled(submit('b', { signal: ac.signal }))
    const c = submit('c')
    ac.abort()
    await until('b to settle', () => b.done)
    expect(b.error).toMatchObject({ code: 'CANCELLED' })
    expect(scheduler.stats().queued).toBe(1)
    finish(w, 'a')
    await until('c to start', () => jobsOf(w).length === 2)
    finish(w, 'c')
    await Promise.all([a, c])
    expect(jobsOf(w)).toEqual(['a', 'c'])
  })

  it('aborting a running job: CANCELLED now, cancel sent to its worker, its late result dropped', async () => {
    scheduler = await startScheduler(1)
    const w = threads.at(0)
    const ac = new AbortController()
    const a = settled(submit('a', { signal: ac.signal }))
    ac.abort()
    await until('a to settle', () => a.done)
    expect(a.error).toMatchObject({ code: 'CANCELLED' })
    expect(w.sent('cancel')).toHaveLength(1)
    finish(w, 'a')
    await until('the worker to be free', () => scheduler.stats().running === 0)
    expect(scheduler.stats()).toMatchObject({ completed: 0, failed: 1 })
  })
})

describe('a worker that exits', () => {
  it('fails only its own job (INTERNAL); queued jobs run on its replacement; the other worker is untouched', async () => {
    scheduler = await startScheduler(2)
    const [w0, w1] = [threads.at(0), threads.at(1)]
    const a = settled(submit('a'))
    const b = submit('b')
    const c = submit('c')
    expect([jobsOf(w0), jobsOf(w1)]).toEqual([['a'], ['b']])
    w0.exit(3)
    await until('a to fail', () => a.done)
    expect(a.error).toBeInstanceOf(OcrError)
    expect(a.error).toMatchObject({ code: 'INTERNAL', message: 'worker exited (code 3) while running the job' })
    // the replacement: a new worker at the same index, made from the same init
    const r0 = threads.at(0)
    expect(r0).not.toBe(w0)
    expect(r0.init).toEqual(w0.init)
    expect(logs).toContainEqual({ level: 'warn', obj: { worker: 0, code: 3 }, msg: 'pipeline worker exited; starting a replacement' })
    await until('c to start on the replacement', () => jobsOf(r0).includes('c'))
    expect(jobsOf(w1)).toEqual(['b'])
    finish(r0, 'c')
    finish(w1, 'b')
    expect([await b, await c]).toEqual([resultOf('b'), resultOf('c')])
    expect(scheduler.stats()).toMatchObject({ workers: 2, completed: 2, failed: 1 })
  })

  it('while it is being replaced, jobs wait for the replacement instead of going to the dead worker', async () => {
    let hold = false
    threads = fakeThreads<WorkerInit>((w) => {
      // replacements start only when the test says so
      if (!hold) w.say({ type: 'ready' })
      w.on('posted', (m: { type: string }) => m.type === 'close' && w.say({ type: 'closed' }))
    })
    scheduler = await startScheduler(1)
    const w0 = threads.at(0)
    const a = settled(submit('a'))
    hold = true
    w0.exit(1)
    await until('a to fail', () => a.done)
    await until('the replacement to be made', () => threads.made.length === 2)
    const b = submit('b')
    expect(scheduler.stats()).toMatchObject({ workers: 1, queued: 1, running: 0 })
    const r0 = threads.at(0)
    r0.say({ type: 'ready' })
    await until('b to start', () => jobsOf(r0).includes('b'))
    // the dead worker was given nothing after it exited
    expect(jobsOf(w0)).toEqual(['a'])
    finish(r0, 'b')
    await b
  })
})

describe('progress', () => {
  it("passes each page message of the job on to onPage; a throwing callback is logged and the job goes on", async () => {
    scheduler = await startScheduler(1)
    const w = threads.at(0)
    const seen: Array<[number, number, number]> = []
    const p = submit('doc', {
      onPage: (page, progress) => {
        seen.push([page.page, progress.done, progress.total])
        if (page.page === 2) throw new Error('callback bug')
      },
    })
    const id = w.sent('job')[0]!.id as number
    const page = (n: number) => ({ page: n, width: 1, height: 1, rotation: 0, lines: [] }) as unknown as PageResult
    w.say({ type: 'page', id, page: page(1), done: 1, total: 3 })
    w.say({ type: 'page', id, page: page(2), done: 2, total: 3 })
    w.say({ type: 'page', id: id + 1, page: page(9), done: 1, total: 1 })
    w.say({ type: 'page', id, page: page(3), done: 3, total: 3 })
    finish(w, 'doc')
    await p
    expect(seen).toEqual([
      [1, 1, 3],
      [2, 2, 3],
      [3, 3, 3],
    ])
    expect(logs.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['onPage callback threw'])
  })
})

describe('stats', () => {
  it('busyMs counts the time each worker had a job, and keeps its total across a replacement', async () => {
    scheduler = await startScheduler(2)
    expect(scheduler.stats().busyMs).toEqual([0, 0])
    const a = submit('a')
    await new Promise((r) => setTimeout(r, 5))
    finish(threads.at(0), 'a')
    await a
    const done = scheduler.stats().busyMs
    // at least the 5 ms the job was held (rounded), none on the worker that had no job
    expect(done[0]).toBeGreaterThanOrEqual(4)
    expect(done[1]).toBe(0)
    threads.at(0).exit(1)
    await until('the replacement', () => threads.made.length === 3 && scheduler.stats().workers === 2)
    expect(scheduler.stats().busyMs).toEqual(done)
  })
})

describe('close()', () => {
  it('refuses new jobs at once, finishes running and queued ones, then closes every worker', async () => {
    scheduler = await startScheduler(1)
    const w = threads.at(0)
    const a = submit('a')
    const b = submit('b')
    const closing = settled(scheduler.close())
    await expect(submit('late')).rejects.toMatchObject({ code: 'SHUTTING_DOWN', retryAfterSec: 5 })
    finish(w, 'a')
    await until('b to start', () => jobsOf(w).length === 2)
    expect(w.sent('close')).toEqual([])
    finish(w, 'b')
    await Promise.all([a, b])
    await until('closed', () => closing.done)
    expect(w.sent('close')).toHaveLength(1)
    expect(w.exited).toBe(true)
  })

  it('terminates a worker that does not release its resources in time', async () => {
    threads = fakeThreads<WorkerInit>((w) => w.say({ type: 'ready' }))
    scheduler = await startScheduler(2)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const closing = settled(scheduler.close())
    await until('close to be asked', () => threads.made.every((w) => w.sent('close').length === 1))
    expect(closing.done).toBe(false)
    vi.advanceTimersByTime(5000)
    await until('closed', () => closing.done)
    expect(threads.made.every((w) => w.exited)).toBe(true)
  })
})

describe('start()', () => {
  it("a worker that cannot load rejects start with its error, and the others are closed", async () => {
    threads = fakeThreads<WorkerInit>((w) => {
      if (w.index === 1) w.say({ type: 'init-error', error: { code: 'MODEL_ERROR', message: 'cannot load model: no such file' } })
      else w.say({ type: 'ready' })
      w.on('posted', (m: { type: string }) => m.type === 'close' && w.say({ type: 'closed' }))
    })
    await expect(startScheduler(3)).rejects.toMatchObject({ code: 'MODEL_ERROR', message: 'cannot load model: no such file' })
    await until('every worker gone', () => threads.made.every((w) => w.exited))
    // none was replaced
    expect(threads.made).toHaveLength(3)
  })

  it("a worker's log records reach the logger with its index", async () => {
    threads = fakeThreads<WorkerInit>((w) => {
      w.say({ type: 'log', level: 'info', obj: { session: 'rec' }, msg: 'loaded' })
      w.say({ type: 'ready' })
    })
    scheduler = await startScheduler(2)
    expect(logs.filter((l) => l.msg === 'loaded').map((l) => l.obj)).toEqual([
      { worker: 0, session: 'rec' },
      { worker: 1, session: 'rec' },
    ])
  })
})

describe('idle-worker help (the main thread routes offers)', () => {
  /** A worker's offer of `n` calls, as assist.ts WorkerAssist posts it. */
  const offer = (reqId: number, n: number) => ({
    type: 'assist',
    reqId,
    model: 'zh',
    role: 'rec',
    calls: Array.from({ length: n }, () => ({})),
    next: new Int32Array(new SharedArrayBuffer(4)),
  })

  it('tells every worker how many are idle, whenever that changes', async () => {
    scheduler = await startScheduler(3, { assist: true })
    const idleCounts = (w: FakeWorker<WorkerInit>) => w.sent('idle').map((m) => m.count)
    await until('the first count', () => idleCounts(threads.at(2)).length > 0)
    expect(idleCounts(threads.at(2)).at(-1)).toBe(3)
    const a = submit('a')
    expect(threads.made.map((w) => idleCounts(w).at(-1))).toEqual([2, 2, 2])
    finish(threads.at(0), 'a')
    await a
    expect(threads.made.map((w) => idleCounts(w).at(-1))).toEqual([3, 3, 3])
  })

  it("offers a busy worker's calls to idle workers (at most one per call beyond its own) and routes their answers back", async () => {
    scheduler = await startScheduler(4, { assist: true })
    const [busy, other] = [threads.at(0), threads.at(1)]
    const a = submit('a')
    const b = submit('b')
    expect([jobsOf(busy), jobsOf(other)]).toEqual([['a'], ['b']])
    // three calls: the busy worker runs one, two idle workers (not the other busy one) help
    const calls = offer(7, 3)
    busy.say(calls)
    await until('the offer to be answered', () => busy.sent('assist-start').length === 1)
    expect(busy.sent('assist-start')[0]).toEqual({ type: 'assist-start', reqId: 7, helpers: 2 })
    const [h2, h3] = [threads.at(2), threads.at(3)]
    const runs = [...h2.sent('assist-run'), ...h3.sent('assist-run')]
    expect(runs).toHaveLength(2)
    expect(other.sent('assist-run')).toEqual([])
    expect(new Set(runs.map((r) => r.id)).size).toBe(2)
    // the same shared memory reaches every helper, uncopied
    for (const r of runs) expect(r).toMatchObject({ model: 'zh', role: 'rec', calls: calls.calls, next: calls.next })

    const outputs = { y: { type: 'float32', dims: [1], data: new Float32Array([4]) } }
    h2.say({ type: 'assist-done', id: h2.sent('assist-run')[0]!.id, index: 1, outputs })
    h3.say({ type: 'assist-done', id: h3.sent('assist-run')[0]!.id, index: 2, error: { code: 'MODEL_ERROR', message: 'failed' } })
    h2.say({ type: 'assist-end', id: h2.sent('assist-run')[0]!.id })
    await until('the answers to reach the busy worker', () => busy.sent('assist-result').length === 2 && busy.sent('assist-end').length === 1)
    expect(busy.sent('assist-result')).toEqual([
      { type: 'assist-result', reqId: 7, index: 1, outputs },
      { type: 'assist-result', reqId: 7, index: 2, error: { code: 'MODEL_ERROR', message: 'failed' } },
    ])
    expect(busy.sent('assist-end')).toEqual([{ type: 'assist-end', reqId: 7 }])
    // only calls a helper ran count
    expect(scheduler.stats().assistRuns).toBe(1)

    // h3 is still helping: a second offer finds only h2
    busy.say(offer(8, 5))
    await until('the second offer', () => busy.sent('assist-start').length === 2)
    expect(busy.sent('assist-start')[1]).toEqual({ type: 'assist-start', reqId: 8, helpers: 1 })
    expect(h2.sent('assist-run')).toHaveLength(2)
    expect(h3.sent('assist-run')).toHaveLength(1)
    finish(busy, 'a')
    finish(other, 'b')
    await Promise.all([a, b])
  })

  it('two calls: one helper; one call: none', async () => {
    scheduler = await startScheduler(3, { assist: true })
    const busy = threads.at(0)
    const a = submit('a')
    busy.say(offer(1, 2))
    busy.say(offer(2, 1))
    await until('both answered', () => busy.sent('assist-start').length === 2)
    expect(busy.sent('assist-start').map((m) => m.helpers)).toEqual([1, 0])
    finish(busy, 'a')
    await a
  })

  it('a helper that exits ends its part: the busy worker hears assist-end for it (and runs what it took, assist.test.ts)', async () => {
    scheduler = await startScheduler(2, { assist: true })
    const [busy, helper] = [threads.at(0), threads.at(1)]
    const a = submit('a')
    busy.say(offer(3, 4))
    await until('the helper to be asked', () => helper.sent('assist-run').length === 1)
    helper.exit(1)
    await until('the busy worker to hear', () => busy.sent('assist-end').length === 1)
    expect(busy.sent('assist-end')).toEqual([{ type: 'assist-end', reqId: 3 }])
    finish(busy, 'a')
    expect(await a).toEqual(resultOf('a'))
  })

  it('a closing scheduler finds no helpers for an offer', async () => {
    scheduler = await startScheduler(2, { assist: true })
    const [busy, idle] = [threads.at(0), threads.at(1)]
    const a = settled(submit('a'))
    const closing = settled(scheduler.close())
    busy.say(offer(5, 4))
    await until('the offer answered', () => busy.sent('assist-start').length === 1)
    expect(busy.sent('assist-start')[0]).toMatchObject({ helpers: 0 })
    expect(idle.sent('assist-run')).toEqual([])
    finish(busy, 'a')
    await until('closed', () => a.done && closing.done)
  })
})
