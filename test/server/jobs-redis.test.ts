/**
 * The Redis job store across real processes: two `ocrserve serve` children (A and B, one worker
 * each) on one real redis-server (password, append-only file), API keys on. Any replica answers
 * for any job; the pages of one job are read by both; a cancel from B stops the page A is reading;
 * a replica SIGKILLed mid-job leaves its pages to the other and the result equals a single-process
 * read; results outlive restarts of both replicas; a Redis outage leaves /v1/ocr working, answers
 * /v1/jobs with 503 JOBS_UNAVAILABLE, and the job completes once Redis is back; a job is visible to
 * its own key only; the Redis password never appears in a log line or an answer.
 */
import { PDFDocument } from 'pdf-lib'
import sharp from 'sharp'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createOcr, type OcrResult } from '../../src/index.js'
import { buildOnce } from '../helpers/build.js'
import { squash as squashText, textImage, type TextImage } from '../helpers/images.js'
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redis.js'
import { logLines, startServeChild, type ServeChild } from './serve-child.js'

const squash = (s: string): string => squashText(s).replace(/O/g, '0')
const pageText = (i: number): string[] => [`PAGE ${i} NUMBER`, `TOTAL ${i * 7} EUR`]
const PASSWORD = 'r3dis-Passw0rd-never-logged'
const KEY_A = 'tenant-a-key'
const KEY_B = 'tenant-b-key'
const A_AUTH = { authorization: `Bearer ${KEY_A}` }
const B_AUTH = { 'x-api-key': KEY_B }

interface JobStatus {
  id: string
  status: string
  pages_done: number
  pages_total: number | null
  error: { code: string; message: string } | null
  status_url: string
  result_url: string
}

let redis: RedisServer
let pages: TextImage[]
/** 12 pages, page i reads pageText(i). */
let tiff12: Buffer
let tiff6: Buffer
/** 4 pages of 16 lines: a page takes long enough that a cancel lands while it is read. */
let tiffSlow: Buffer
const children: ServeChild[] = []
/** Every line any child wrote, kept after the child is gone. */
const outputs: (() => string)[] = []

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function replica(): Promise<ServeChild> {
  const child = await startServeChild({
    OCR_WORKERS: '1',
    OCR_THREADS_PER_WORKER: '1',
    OCR_REDIS_URL: redis.url,
    OCR_REDIS_PREFIX: 'jobs-test',
    OCR_JOBS_STALL_MS: '2000',
    OCR_API_KEYS: `${KEY_A},${KEY_B}`,
  })
  children.push(child)
  outputs.push(child.output)
  // the store connects after the engine is ready: wait until it reports Redis reachable
  await until('the job store to reach Redis', async () => (await metric(child, 'ocr_jobs_store_up')) === 1)
  return child
}

async function until(what: string, test: () => Promise<boolean> | boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** A metric's value on one replica (the first series whose line starts with `name`). */
async function metric(child: ServeChild, name: string): Promise<number> {
  const text = await (await fetch(`${child.url}/metrics`)).text()
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)}\\s+(\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : NaN
}

async function pagesRead(child: ServeChild): Promise<number> {
  return metric(child, 'ocr_worker_pages_total{worker="0"}')
}

async function submit(child: ServeChild, body: Buffer, auth: Record<string, string> = A_AUTH): Promise<JobStatus> {
  const res = await fetch(`${child.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'image/tiff', ...auth }, body })
  expect(res.status).toBe(202)
  return (await res.json()) as JobStatus
}

async function status(child: ServeChild, id: string, auth: Record<string, string> = A_AUTH): Promise<JobStatus> {
  const res = await fetch(`${child.url}/v1/jobs/${id}`, { headers: auth })
  expect(res.status).toBe(200)
  return (await res.json()) as JobStatus
}

async function waitFor(child: ServeChild, id: string, done: (s: JobStatus) => boolean, timeoutMs = 180_000): Promise<JobStatus> {
  let last: JobStatus | null = null
  await until(`job ${id} (last: ${JSON.stringify(last)})`, async () => done((last = await status(child, id))), timeoutMs)
  return last!
}

const finished = (s: JobStatus) => !['queued', 'running'].includes(s.status)

async function result(child: ServeChild, id: string, format = 'json'): Promise<Response> {
  return fetch(`${child.url}/v1/jobs/${id}/result?format=${format}`, { headers: A_AUTH })
}

/** A result's pages without their timings (what two reads of the same pages must agree on). */
const pagesOf = (r: OcrResult) => r.pages.map(({ timing_ms: _t, ...page }) => page)

describeWithRedis('Redis job store: two replicas on one Redis', () => {
  let a: ServeChild
  let b: ServeChild

  beforeAll(async () => {
    await buildOnce()
    redis = await startRedis({ password: PASSWORD, persist: true })
    pages = await Promise.all(Array.from({ length: 12 }, (_, i) => textImage(pageText(i + 1), 36)))
    tiff12 = await sharp(pages.map((p) => p.png), { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
    tiff6 = await sharp(pages.slice(0, 6).map((p) => p.png), { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
    const slow = await Promise.all(Array.from({ length: 4 }, (_, i) => textImage(Array.from({ length: 16 }, (_, j) => `LINE ${j + 1} OF PAGE ${i + 1}`), 28)))
    tiffSlow = await sharp(slow.map((p) => p.png), { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
    ;[a, b] = await Promise.all([replica(), replica()])
  })

  afterAll(async () => {
    for (const c of children) c.kill()
    await redis?.remove()
  })

  it('submit to A, poll and fetch every format from B; the pages were read by both', async () => {
    const before = await Promise.all([pagesRead(a), pagesRead(b)])
    const job = await submit(a, tiff6)
    const last = await waitFor(b, job.id, finished)
    expect([last.status, last.pages_done, last.pages_total]).toEqual(['succeeded', 6, 6])

    const json = (await (await result(b, job.id)).json()) as OcrResult
    expect(json.pages.map((p) => p.page)).toEqual([1, 2, 3, 4, 5, 6])
    json.pages.forEach((p, i) => expect(p.lines.map((l) => squash(l.text))).toEqual(pageText(i + 1).map(squash)))
    const text = await (await result(b, job.id, 'text')).text()
    expect(text.trimEnd().split('\n\n')).toHaveLength(6)
    expect(((await (await result(b, job.id, 'hocr')).text()).match(/class=['"]ocr_page['"]/g) ?? []).length).toBe(6)
    expect(((await (await result(b, job.id, 'alto')).text()).match(/<Page /g) ?? []).length).toBe(6)
    // the searchable PDF is built from the stored document, which B never received
    const pdf = await result(b, job.id, 'pdf')
    expect(pdf.headers.get('content-type')).toBe('application/pdf')
    expect((await PDFDocument.load(Buffer.from(await pdf.arrayBuffer()))).getPageCount()).toBe(6)

    const after = await Promise.all([pagesRead(a), pagesRead(b)])
    const perReplica = after.map((n, i) => n - before[i]!)
    expect(perReplica[0]! + perReplica[1]!).toBe(6)
    // each replica's one worker took page tasks of this one job
    expect(perReplica[0]).toBeGreaterThan(0)
    expect(perReplica[1]).toBeGreaterThan(0)
  })

  it('a job is visible only to the API key that submitted it', async () => {
    const job = await submit(a, tiff6.subarray(0), B_AUTH)
    for (const auth of [A_AUTH, {}]) {
      const res = await fetch(`${b.url}/v1/jobs/${job.id}`, { headers: auth })
      expect(res.status).toBe(Object.keys(auth).length ? 404 : 401)
    }
    expect((await fetch(`${b.url}/v1/jobs/${job.id}/result?partial=true`, { headers: A_AUTH })).status).toBe(404)
    expect((await fetch(`${b.url}/v1/jobs/${job.id}`, { method: 'DELETE', headers: A_AUTH })).status).toBe(404)
    expect((await status(b, job.id, B_AUTH)).id).toBe(job.id)
    const del = await fetch(`${b.url}/v1/jobs/${job.id}`, { method: 'DELETE', headers: B_AUTH })
    expect([200, 204]).toContain(del.status)
    // the next test watches what A reads: nothing of this job may still be under way
    await until('both replicas idle', async () => (await metric(a, 'ocr_inflight')) === 0 && (await metric(b, 'ocr_inflight')) === 0)
  })

  it('cancel from B stops the page A is reading; no page is added after it', async () => {
    const job = await submit(a, tiffSlow)
    // a page of this job under way on A (one worker: its engine has one read running)
    await until('A to read a page of the job', async () => (await metric(a, 'ocr_inflight')) === 1 && (await status(a, job.id)).status === 'running')
    const del = await fetch(`${b.url}/v1/jobs/${job.id}`, { method: 'DELETE', headers: A_AUTH })
    expect(del.status).toBe(200)
    const cancelled = (await del.json()) as JobStatus
    expect([cancelled.status, cancelled.error?.code]).toEqual(['cancelled', 'CANCELLED'])
    // A heard it and stopped the read at a stage boundary (the read failed CANCELLED, not finished)
    await until('A to stop its task', () => logLines(a.output()).some((l) => l.msg === 'job task stopped: its job ended' && l.job === job.id), 30_000)
    await sleep(2000)
    const later = await status(b, job.id)
    expect([later.status, later.pages_done]).toEqual(['cancelled', cancelled.pages_done])
    expect(later.pages_done).toBeLessThan(4)
  })

  it('SIGKILL of a replica mid-job: the other takes over its page; the result equals a single-process read', async () => {
    const recoveredBefore = await metric(b, 'ocr_jobs_stalled_recoveries_total')
    const job = await submit(a, tiff12)
    await until('A to read a page after the first two', async () => (await metric(a, 'ocr_inflight')) === 1 && (await status(b, job.id)).pages_done >= 2)
    a.kill()
    const last = await waitFor(b, job.id, finished)
    expect([last.status, last.pages_done, last.pages_total]).toEqual(['succeeded', 12, 12])
    // the page A was reading was taken over after the stall interval (OCR_JOBS_STALL_MS)
    expect(await metric(b, 'ocr_jobs_stalled_recoveries_total')).toBeGreaterThan(recoveredBefore)

    const got = (await (await result(b, job.id)).json()) as OcrResult
    expect(got.pages.map((p) => p.page)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
    const ocr = await createOcr({ workers: 1, threadsPerWorker: 1 })
    try {
      const single = await ocr.read(tiff12)
      expect(pagesOf(got)).toEqual(pagesOf(single))
    } finally {
      await ocr.close()
    }
    a = await replica()
  })

  it('restart both replicas after a job finished: the result is still served', async () => {
    const job = await submit(b, tiff6)
    await waitFor(a, job.id, (s) => s.status === 'succeeded')
    const before = await (await result(a, job.id, 'text')).text()
    for (const c of [a, b]) c.child.kill('SIGTERM')
    await until('both replicas to exit', () => [a, b].every((c) => c.child.exitCode !== null || c.child.signalCode !== null), 60_000)
    ;[a, b] = await Promise.all([replica(), replica()])
    const res = await result(b, job.id, 'text')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(before)
    expect((await status(a, job.id)).status).toBe('succeeded')
  })

  it('Redis stopped mid-job: /v1/ocr still 200, /v1/jobs 503 JOBS_UNAVAILABLE + Retry-After; Redis back: the job completes', async () => {
    const job = await submit(a, tiff12)
    await until('the job to be under way', async () => (await status(a, job.id)).pages_done >= 1)
    await redis.stop('SIGKILL')
    await until('A to see Redis gone', async () => (await metric(a, 'ocr_jobs_store_up')) === 0, 30_000)

    const ocr = await fetch(`${a.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png', ...A_AUTH }, body: pages[3]!.png })
    expect(ocr.status).toBe(200)
    expect(((await ocr.json()) as OcrResult).lines.map((l) => squash(l.text))).toEqual(pageText(4).map(squash))
    for (const res of [
      await fetch(`${a.url}/v1/jobs/${job.id}`, { headers: A_AUTH }),
      await fetch(`${b.url}/v1/jobs/${job.id}/result`, { headers: A_AUTH }),
      await fetch(`${a.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'image/tiff', ...A_AUTH }, body: tiff6 }),
    ]) {
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(body.error.code).toBe('JOBS_UNAVAILABLE')
      expect(JSON.stringify(body)).not.toContain(PASSWORD)
    }
    expect(logLines(a.output()).some((l) => l.msg === 'job store unreachable: /v1/jobs answers 503 until it is back')).toBe(true)

    await redis.start()
    // both reconnect by themselves
    await until('both replicas to reach Redis again', async () => (await metric(a, 'ocr_jobs_store_up')) === 1 && (await metric(b, 'ocr_jobs_store_up')) === 1, 60_000)
    const last = await waitFor(b, job.id, finished)
    expect([last.status, last.pages_done, last.pages_total]).toEqual(['succeeded', 12, 12])
    const got = (await (await result(a, job.id)).json()) as OcrResult
    expect(got.pages.map((p) => p.page)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
    got.pages.forEach((p, i) => expect(p.lines.map((l) => squash(l.text))).toEqual(pageText(i + 1).map(squash)))
  })

  it('the Redis password appears in no log line of any replica', () => {
    const all = outputs.map((o) => o()).join('\n')
    expect(all).toContain('job store: redis')
    expect(all).not.toContain(PASSWORD)
    expect(all).not.toContain(encodeURIComponent(PASSWORD))
  })
})
