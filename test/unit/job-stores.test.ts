/**
 * The two job stores answer alike: the same cases run against the memory store and the Redis
 * store (a real redis-server), each over a fake engine — documents are JSON saying how many pages
 * they have and which page fails; a page can be held until released — and an injected clock, so
 * expiry is tested without waiting. The real engine and real processes are test/server's.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parseEngineSettings } from '../../src/config.js'
import { parsePageRanges, selectPages } from '../../src/document/pages.js'
import { resultFromPages } from '../../src/document/result.js'
import type { Ocr } from '../../src/engine.js'
import { OcrError, type ErrorCode } from '../../src/errors.js'
import { MemoryJobStore } from '../../src/jobs/memory.js'
import { RedisJobStore } from '../../src/jobs/redis.js'
import type { JobOwner, JobSnapshot, JobStore } from '../../src/jobs/store.js'
import { silentLogger } from '../../src/logger.js'
import type { EngineStats, ImageInput, OcrResult, PageNumbersOptions, PageResult, ReadOptions } from '../../src/types.js'
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redis.js'

/** A fake document: its page count, and a page that fails (with `code`, the first `times` reads; always if absent). */
interface FakeDoc {
  pages: number
  fail?: { page: number; code: ErrorCode; times?: number }
  /** Tells documents apart (a store may cache one per job). */
  tag?: string
}
const doc = (spec: FakeDoc): Buffer => Buffer.from(JSON.stringify(spec))

const fakePage = (n: number): PageResult => ({
  page: n,
  width: 100,
  height: 50,
  rotation: 0,
  lines: [{ text: `page ${n}`, score: 1, box: [[0, 0], [10, 0], [10, 5], [0, 5]] }],
  source: 'ocr',
  timing_ms: { decode: 1, det: 1, cls: 1, rec: 1, total: 4 },
})

/** An engine that reads fake documents: pages at once, unless held; honours the signal. */
class FakeEngine implements Ocr {
  readonly settings = parseEngineSettings({})
  /** Two packs: builtin (the default) and zh. */
  readonly models = [
    { name: 'builtin', default: true, roles: {} },
    { name: 'zh', default: false, roles: {} },
  ]
  /** The pack each page read used, in order. */
  readonly readWith: string[] = []
  /** Pages (by number) held until released. */
  readonly #held = new Map<number, { release: () => void; waiting: Promise<void> }>()
  /** Page reads stopped by their signal, in order. */
  readonly aborted: number[] = []
  /** Pages whose read is waiting on its hold now. */
  readonly waiting = new Set<number>()
  readonly #failures = new Map<string, number>()

  hold(page: number): void {
    let release!: () => void
    const waiting = new Promise<void>((r) => (release = r))
    this.#held.set(page, { release, waiting })
  }

  release(page: number): void {
    this.#held.get(page)?.release()
    this.#held.delete(page)
  }

  resolveModel(name: string | undefined): string {
    if (name === undefined) return 'builtin'
    if (!this.models.some((m) => m.name === name)) throw new OcrError('UNKNOWN_MODEL', `unknown model "${name}"`)
    return name
  }

  async pageNumbers(input: ImageInput, opts: PageNumbersOptions = {}): Promise<number[]> {
    return this.#select(input, opts.pages).map((i) => i + 1)
  }

  async read(input: ImageInput, opts: ReadOptions = {}): Promise<OcrResult> {
    const spec = JSON.parse(Buffer.from(input as Uint8Array).toString()) as FakeDoc
    const indices = this.#select(input, opts.pages)
    let done = 0
    // the pages of one read at once, as a read split over workers
    const pages = await Promise.all(
      indices.map(async (i) => {
        const page = await this.#page(spec, i + 1, opts.signal)
        opts.onPage?.(page, { done: ++done, total: indices.length })
        return page
      }),
    )
    this.readWith.push(...pages.map(() => opts.model ?? 'builtin'))
    return resultFromPages(opts.model ?? 'builtin', pages)
  }

  async #page(spec: FakeDoc, n: number, signal?: AbortSignal): Promise<PageResult> {
    const held = this.#held.get(n)
    if (held) {
      this.waiting.add(n)
      await new Promise<void>((resolve, reject) => {
        const stop = (): void => {
          this.aborted.push(n)
          reject(new OcrError('CANCELLED', 'job cancelled'))
        }
        if (signal?.aborted) return stop()
        signal?.addEventListener('abort', stop, { once: true })
        void held.waiting.then(resolve)
      }).finally(() => this.waiting.delete(n))
    }
    if (signal?.aborted) throw new OcrError('CANCELLED', 'job cancelled')
    const fail = spec.fail
    if (fail?.page === n) {
      const key = `${spec.tag}:${n}`
      const count = (this.#failures.get(key) ?? 0) + 1
      this.#failures.set(key, count)
      if (fail.times === undefined || count <= fail.times) throw new OcrError(fail.code, `fake failure of page ${n}`)
    }
    return fakePage(n)
  }

  #select(input: ImageInput, pages: string | undefined): number[] {
    const spec = JSON.parse(Buffer.from(input as Uint8Array).toString()) as FakeDoc
    return selectPages(pages === undefined ? undefined : parsePageRanges(pages), spec.pages)
  }

  async ready(): Promise<boolean> {
    return true
  }

  stats(): EngineStats {
    return { workers: 3, queued: 0, running: 0, completed: 0, failed: 0, busyMs: [], pagesRead: [], batch: { waiting: 0, running: 0 }, assistRuns: 0 }
  }

  async close(): Promise<void> {}
}

interface StoreOptions {
  ttlMs?: number
  maxQueued?: number
  maxStoredBytes?: number
  timeoutMs?: number
  /** Pages read at once (memory: of one job; redis: tasks this store's worker takes). */
  pagesInFlight?: number
  attempts?: number
}

const TTL = 60_000
const ALICE: JobOwner = 'a'.repeat(64)
const BOB: JobOwner = 'b'.repeat(64)

async function expectError(p: Promise<unknown>, code: ErrorCode): Promise<OcrError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(OcrError)
  expect((err as OcrError).code).toBe(code)
  return err as OcrError
}

/** The cases, for one kind of store; `make` builds a store over `engine` on the clock `now`. */
function storeCases(make: (engine: FakeEngine, now: () => number, o: StoreOptions) => JobStore, kind: 'memory' | 'redis'): void {
  let clock = Date.now()
  const now = (): number => clock
  let engine: FakeEngine
  const stores: JobStore[] = []
  const store = async (o: StoreOptions = {}): Promise<JobStore> => {
    engine = new FakeEngine()
    const s = make(engine, now, o)
    stores.push(s)
    expect(await s.whenReachable(10_000)).toBe(true)
    return s
  }
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close()
  })

  const until = async (s: JobStore, id: string, done: (j: JobSnapshot) => boolean, owner: JobOwner = null): Promise<JobSnapshot> => {
    for (let i = 0; i < 600; i++) {
      const j = await s.get(id, owner)
      if (done(j)) return j
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error(`job ${id} never got there: ${JSON.stringify(await s.get(id, owner))}`)
  }
  const finished = (j: JobSnapshot): boolean => !['queued', 'running'].includes(j.state)
  const submit = (s: JobStore, spec: FakeDoc, owner: JobOwner = null, pages?: string) =>
    s.submit({ bytes: doc({ tag: Math.random().toString(36), ...spec }), options: pages === undefined ? {} : { pages }, fileName: 'scan.pdf' }, owner)

  it('a job reads every page selected; the result has them in page order', async () => {
    const s = await store()
    const job = await submit(s, { pages: 6 }, null, '2-5')
    expect(['queued', 'running']).toContain(job.state)
    const last = await until(s, job.id, finished)
    expect([last.state, last.pagesDone, last.pagesTotal, last.fileName, last.options]).toEqual(['succeeded', 4, 4, 'scan.pdf', { model: 'builtin', pages: '2-5' }])
    expect(last.expiresAt!.getTime() - last.finishedAt!.getTime()).toBe(TTL)
    const { result } = await s.result(job.id, null, false)
    expect(result.pages.map((p) => p.page)).toEqual([2, 3, 4, 5])
    expect(result.lines.map((l) => l.text)).toEqual(['page 2'])
    expect(result.model).toBe('builtin')
  })

  it('a job names its model pack: an unknown one is refused at submission, a named one reads every page', async () => {
    const s = await store()
    const bytes = doc({ tag: Math.random().toString(36), pages: 3 })
    await expectError(s.submit({ bytes, options: { model: 'klingon' }, fileName: null }, null), 'UNKNOWN_MODEL')
    const job = await s.submit({ bytes, options: { model: 'zh' }, fileName: null }, null)
    const last = await until(s, job.id, finished)
    expect([last.state, last.options]).toEqual(['succeeded', { model: 'zh' }])
    expect(engine.readWith).toEqual(['zh', 'zh', 'zh'])
    expect((await s.result(job.id, null, false)).result.model).toBe('zh')
  })

  it('partial: the pages read so far, in page order, while one is still being read', async () => {
    const s = await store({ pagesInFlight: 3 })
    engine.hold(2)
    const job = await submit(s, { pages: 3 })
    const running = await until(s, job.id, (j) => j.pagesDone === 2)
    expect([running.state, running.pagesTotal]).toEqual(['running', 3])
    await expectError(s.result(job.id, null, false), 'JOB_NOT_FINISHED')
    const { result } = await s.result(job.id, null, true)
    expect(result.pages.map((p) => p.page)).toEqual([1, 3])
    engine.release(2)
    expect((await until(s, job.id, finished)).state).toBe('succeeded')
  })

  it('expiry on the store\'s clock: the result is kept for the TTL, then expired (410) for one more, then forgotten (404)', async () => {
    const s = await store()
    const job = await submit(s, { pages: 2 })
    const done = await until(s, job.id, finished)
    clock += TTL - 1
    expect((await s.get(job.id, null)).state).toBe('succeeded')
    clock += 1
    const expired = await s.get(job.id, null)
    expect([expired.state, expired.pagesDone, expired.expiresAt!.getTime()]).toEqual(['expired', 2, done.finishedAt!.getTime() + 2 * TTL])
    expect((await expectError(s.result(job.id, null, false), 'JOB_EXPIRED')).message).toMatch(/60 s/)
    const stats = await s.stats()
    expect([stats.jobs.expired, stats.jobs.succeeded, stats.storedBytes]).toEqual([1, 0, 0])
    clock += TTL
    await expectError(s.get(job.id, null), 'NOT_FOUND')
    expect((await s.stats()).jobs.expired).toBe(0)
  })

  it('the storage budget: the oldest finished job expires early; a document over the whole budget is PAYLOAD_TOO_LARGE; unfinished jobs alone full: OVERLOADED', async () => {
    const size = doc({ pages: 1, tag: 'x'.repeat(11) }).length
    const s = await store({ maxStoredBytes: Math.floor(size * 2.5) })
    const a = await submit(s, { pages: 1 })
    await until(s, a.id, finished)
    clock += 1
    const b = await submit(s, { pages: 1 })
    await until(s, b.id, finished)
    const c = await submit(s, { pages: 1 })
    expect((await s.get(a.id, null)).state).toBe('expired')
    expect((await s.get(b.id, null)).state).toBe('succeeded')
    await until(s, c.id, finished)
    await expectError(s.submit({ bytes: Buffer.alloc(size * 3), options: {}, fileName: null }, null), 'PAYLOAD_TOO_LARGE')
    engine.hold(1)
    const d = await submit(s, { pages: 1 })
    const e = await submit(s, { pages: 1 })
    expect((await s.stats()).jobs.expired).toBe(3)
    expect((await expectError(submit(s, { pages: 1 }), 'OVERLOADED')).message).toMatch(/OCR_JOBS_MAX_STORED_BYTES/)
    engine.release(1)
    for (const j of [d, e]) await until(s, j.id, finished)
  })

  it('beyond OCR_JOBS_MAX_QUEUED waiting jobs: OVERLOADED; the oldest waiting job is measured', async () => {
    const s = await store({ maxQueued: 1, pagesInFlight: 1 })
    engine.hold(1)
    const running = await submit(s, { pages: 1 })
    // its page being read: the one page in flight
    for (let i = 0; i < 400 && !engine.waiting.has(1); i++) await new Promise((r) => setTimeout(r, 25))
    const waiting = await submit(s, { pages: 1 })
    clock += 5000
    expect((await s.get(waiting.id, null)).state).toBe('queued')
    const stats = await s.stats()
    expect([stats.jobs.queued, stats.jobs.running, stats.oldestQueuedMs]).toEqual([1, 1, 5000])
    expect(stats.tasksWaiting).toBeGreaterThanOrEqual(1)
    expect((await expectError(submit(s, { pages: 1 }), 'OVERLOADED')).message).toMatch(/OCR_JOBS_MAX_QUEUED=1/)
    engine.release(1)
    for (const j of [running, waiting]) expect((await until(s, j.id, finished)).state).toBe('succeeded')
  })

  it('a job is visible only to the key that submitted it; a job without one to everybody', async () => {
    const s = await store()
    const mine = await submit(s, { pages: 1 }, ALICE)
    await until(s, mine.id, finished, ALICE)
    for (const other of [BOB, null]) {
      await expectError(s.get(mine.id, other), 'NOT_FOUND')
      await expectError(s.result(mine.id, other, false), 'NOT_FOUND')
      await expectError(s.cancel(mine.id, other), 'NOT_FOUND')
    }
    expect((await s.result(mine.id, ALICE, false)).result.pages).toHaveLength(1)
    const open = await submit(s, { pages: 1 })
    expect((await until(s, open.id, finished, BOB)).state).toBe('succeeded')
  })

  it('cancel of a running job stops the page being read; no page is added after it; DELETE of a finished job forgets it', async () => {
    const s = await store({ pagesInFlight: 2 })
    engine.hold(2)
    const job = await submit(s, { pages: 2 })
    await until(s, job.id, (j) => j.pagesDone === 1)
    const cancelled = await s.cancel(job.id, null)
    expect([cancelled?.state, cancelled?.error?.code, cancelled?.pagesDone]).toEqual(['cancelled', 'CANCELLED', 1])
    for (let i = 0; i < 200 && !engine.aborted.includes(2); i++) await new Promise((r) => setTimeout(r, 25))
    expect(engine.aborted).toContain(2)
    engine.release(2)
    const later = await s.get(job.id, null)
    expect([later.state, later.pagesDone]).toEqual(['cancelled', 1])
    await expectError(s.result(job.id, null, false), 'JOB_FAILED')
    expect(await s.cancel(job.id, null)).toBeNull()
    await expectError(s.get(job.id, null), 'NOT_FOUND')
    expect((await s.stats()).storedBytes).toBe(0)
  })

  it('a page that cannot be read fails its job with that page\'s error', async () => {
    const s = await store()
    const job = await submit(s, { pages: 4, fail: { page: 3, code: 'IMAGE_TOO_LARGE' } })
    const last = await until(s, job.id, finished)
    expect([last.state, last.error?.code]).toEqual(['failed', 'IMAGE_TOO_LARGE'])
    if (kind === 'redis') expect(last.error?.message).toMatch(/^page 3: /)
    expect((await expectError(s.result(job.id, null, false), 'JOB_FAILED')).message).toMatch(/IMAGE_TOO_LARGE/)
  })

  it('a bad selection is refused at submission; one past the document fails the job', async () => {
    const s = await store()
    await expectError(submit(s, { pages: 2 }, null, '3-1'), 'BAD_PAGE_RANGE')
    const job = await submit(s, { pages: 2 }, null, '5')
    const last = await until(s, job.id, finished)
    expect([last.state, last.error?.code]).toEqual(['failed', 'BAD_PAGE_RANGE'])
  })
}

describe('memory job store', () => {
  storeCases(
    (ocr, now, o) =>
      new MemoryJobStore({
        ocr,
        now,
        logger: silentLogger,
        concurrency: 1,
        parallelPages: o.pagesInFlight ?? 3,
        ttlMs: o.ttlMs ?? TTL,
        timeoutMs: o.timeoutMs ?? 60_000,
        maxQueued: o.maxQueued ?? 8,
        maxStoredBytes: o.maxStoredBytes ?? 1e6,
      }),
    'memory',
  )
})

describeWithRedis('Redis job store', () => {
  let redis: RedisServer
  let n = 0
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => redis?.remove())

  const make = (ocr: FakeEngine, now: () => number, o: StoreOptions): RedisJobStore =>
    new RedisJobStore({
      ocr,
      now,
      logger: silentLogger,
      url: redis.url,
      // each store its own keys
      prefix: `unit${++n}`,
      pagesInFlight: o.pagesInFlight ?? 3,
      attempts: o.attempts ?? 2,
      stallMs: 2000,
      ttlMs: o.ttlMs ?? TTL,
      timeoutMs: o.timeoutMs ?? 60_000,
      maxQueued: o.maxQueued ?? 8,
      maxStoredBytes: o.maxStoredBytes ?? 1e6,
    })

  describe('the cases both stores share', () => {
    storeCases(make, 'redis')
  })

  describe('retries and deadlines', () => {
    let clock = Date.now()
    const stores: RedisJobStore[] = []
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close()
    })
    const store = async (o: StoreOptions): Promise<[RedisJobStore, FakeEngine]> => {
      const engine = new FakeEngine()
      const s = make(engine, () => clock, o)
      stores.push(s)
      expect(await s.whenReachable(10_000)).toBe(true)
      return [s, engine]
    }
    const settle = async (s: JobStore, id: string): Promise<JobSnapshot> => {
      for (let i = 0; i < 600; i++) {
        const j = await s.get(id, null)
        if (!['queued', 'running'].includes(j.state)) return j
        await new Promise((r) => setTimeout(r, 25))
      }
      throw new Error('never finished')
    }
    const bytes = (spec: FakeDoc) => ({ bytes: doc({ tag: Math.random().toString(36), ...spec }), options: {}, fileName: null })

    it('a page whose read fails with a retried error (a crashed worker) is tried again and reads', async () => {
      const [s] = await store({ attempts: 2 })
      const job = await s.submit(bytes({ pages: 3, fail: { page: 2, code: 'INTERNAL', times: 1 } }), null)
      const last = await settle(s, job.id)
      expect([last.state, last.pagesDone]).toEqual(['succeeded', 3])
    })

    it('a page that keeps failing fails its job with that page\'s error after OCR_JOBS_ATTEMPTS tries', async () => {
      const [s] = await store({ attempts: 2 })
      const job = await s.submit(bytes({ pages: 3, fail: { page: 2, code: 'MODEL_ERROR', times: 2 } }), null)
      const last = await settle(s, job.id)
      expect([last.state, last.error?.code]).toEqual(['failed', 'MODEL_ERROR'])
      expect(last.error?.message).toMatch(/^page 2: fake failure/)
    })

    it('a job past OCR_JOBS_TIMEOUT_MS on the job clock fails with TIMEOUT, and its page being read stops', async () => {
      const [s, engine] = await store({ timeoutMs: 10_000, pagesInFlight: 2 })
      engine.hold(2)
      const job = await s.submit(bytes({ pages: 2 }), null)
      for (let i = 0; i < 400 && (await s.get(job.id, null)).pagesDone < 1; i++) await new Promise((r) => setTimeout(r, 25))
      clock += 10_000
      // the sweep (every replica's, each second; stats() sweeps too) ends it
      await s.stats()
      const last = await settle(s, job.id)
      expect([last.state, last.error?.code]).toEqual(['failed', 'TIMEOUT'])
      for (let i = 0; i < 200 && !engine.aborted.includes(2); i++) await new Promise((r) => setTimeout(r, 25))
      expect(engine.aborted).toContain(2)
    })
  })
})
