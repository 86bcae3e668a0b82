/**
 * Async jobs (/v1/jobs) against real listening services: lifecycle with progress, results in
 * every format, cancel (running and queued), queue limit, TTL expiry, 404s, auth, the sync
 * page limit of /v1/ocr pointing to jobs, and interactive requests answered while a job runs.
 * Documents: multi-page TIFFs made here with sharp, each page with its own text.
 */
import { randomUUID } from 'node:crypto'
import { PDFDocument } from 'pdf-lib'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERRORS, loadServiceConfig } from '../../src/index.js'
import { startService, type Service } from '../../src/server/index.js'
import { longPdf, longPdfLine } from '../fixtures/pdfs.js'
import { squash as squashText, textImage, type TextImage } from '../helpers/images.js'

/** Compared text: squashed, and O read as 0 (the recogniser may read either in "10"). */
const squash = (s: string): string => squashText(s).replace(/O/g, '0')

interface JobStatus {
  id: string
  status: string
  pages_done: number
  pages_total: number | null
  created_at: string
  started_at: string | null
  finished_at: string | null
  expires_at: string | null
  options: Record<string, unknown>
  file_name: string | null
  error: { code: string; message: string } | null
  status_url: string
  result_url: string
}
interface Result {
  pages: { page: number; lines: { text: string }[]; source: string; dpi?: number }[]
  lines: { text: string }[]
}

const pageText = (i: number): string[] => [`PAGE ${i} NUMBER`, `TOTAL ${i * 7} EUR`]

let pages: TextImage[]
/** 30 pages, page i (1-based) reads pageText(i). */
let tiff30: Buffer
let tiff4: Buffer
/** 30 born-digital pages, page n's text layer reads longPdfLine(n). */
let pdf30: Buffer
let svc: Service

function config(env: Record<string, string> = {}) {
  return loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '2', OCR_THREADS_PER_WORKER: '1', ...env })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function submit(base: string, body: Buffer, query = '', headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/v1/jobs${query}`, { method: 'POST', headers: { 'content-type': 'image/tiff', ...headers }, body })
}

async function submitted(base: string, body: Buffer, query = ''): Promise<JobStatus> {
  const res = await submit(base, body, query)
  expect(res.status).toBe(202)
  return (await res.json()) as JobStatus
}

async function status(base: string, id: string, headers: Record<string, string> = {}): Promise<JobStatus> {
  const res = await fetch(`${base}/v1/jobs/${id}`, { headers })
  expect(res.status).toBe(200)
  return (await res.json()) as JobStatus
}

/** Polls until `done(status)`, recording every status seen (60 s at most). */
async function pollUntil(base: string, id: string, done: (s: JobStatus) => boolean): Promise<JobStatus[]> {
  const seen: JobStatus[] = []
  for (let i = 0; i < 1200; i++) {
    const s = await status(base, id)
    seen.push(s)
    if (done(s)) return seen
    await sleep(50)
  }
  throw new Error(`job ${id} never reached the expected state; last: ${JSON.stringify(seen.at(-1))}`)
}

const finished = (s: JobStatus) => !['queued', 'running'].includes(s.status)

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  expect(res.headers.get('content-type')).toMatch(/application\/json/)
  return ((await res.json()) as { error: { code: string; message: string } }).error
}

async function expectError(res: Response, status: number, code: string): Promise<string> {
  expect(res.status).toBe(status)
  const e = await errorOf(res)
  expect(e.code).toBe(code)
  expect(ERRORS[code as keyof typeof ERRORS].status).toBe(status)
  return e.message
}

beforeAll(async () => {
  pages = await Promise.all(Array.from({ length: 30 }, (_, i) => textImage(pageText(i + 1), 36)))
  tiff30 = await sharp(pages.map((p) => p.png), { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
  tiff4 = await sharp(pages.slice(0, 4).map((p) => p.png), { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
  expect((await sharp(tiff30).metadata()).pages).toBe(30)
  pdf30 = await longPdf(30)
  svc = await startService(config({ OCR_SYNC_MAX_PAGES: '3', OCR_JOBS_CONCURRENCY: '1', OCR_JOBS_MAX_QUEUED: '1', OCR_MAX_BODY_BYTES: String(1024 * 1024), OCR_JOBS_MAX_BODY_BYTES: String(4 * 1024 * 1024) }))
})
afterAll(async () => svc?.close())

describe('job lifecycle', () => {
  it('202 + Location → progress page by page → succeeded → the result in json, text and jsonl', async () => {
    const res = await submit(svc.url, tiff30)
    expect(res.status).toBe(202)
    const accepted = (await res.json()) as JobStatus
    expect(accepted.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(res.headers.get('location')).toBe(`/v1/jobs/${accepted.id}`)
    expect(accepted.status_url).toBe(`/v1/jobs/${accepted.id}`)
    expect(accepted.result_url).toBe(`/v1/jobs/${accepted.id}/result`)
    expect(['queued', 'running']).toContain(accepted.status)

    // before it finishes, the result is not there yet
    await expectError(await fetch(svc.url + accepted.result_url), 409, 'JOB_NOT_FINISHED')

    const seen = await pollUntil(svc.url, accepted.id, finished)
    const last = seen.at(-1)!
    expect(last.status).toBe('succeeded')
    expect([last.pages_done, last.pages_total]).toEqual([30, 30])
    expect(last.error).toBeNull()
    expect(Date.parse(last.finished_at!)).toBeGreaterThanOrEqual(Date.parse(last.started_at!))
    expect(Date.parse(last.expires_at!) - Date.parse(last.finished_at!)).toBe(3600 * 1000)
    // progress: pages_done never goes back, the total is known once the document is open,
    // and at least one poll saw the job part-way (30 pages take seconds; polls are 50 ms apart)
    const done = seen.map((s) => s.pages_done)
    expect(done).toEqual([...done].sort((a, b) => a - b))
    for (const s of seen) if (s.pages_done > 0) expect(s.pages_total).toBe(30)
    expect(seen.some((s) => s.status === 'running' && s.pages_done > 0 && s.pages_done < 30)).toBe(true)

    const json = await fetch(svc.url + accepted.result_url)
    expect(json.status).toBe(200)
    expect(json.headers.get('content-type')).toMatch(/application\/json/)
    const result = (await json.json()) as Result
    expect(result.pages.map((p) => p.page)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    result.pages.forEach((p, i) => expect(p.lines.map((l) => squash(l.text))).toEqual(pageText(i + 1).map(squash)))

    const text = await fetch(`${svc.url}${accepted.result_url}?format=text`)
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/)
    const byPage = (await text.text()).trimEnd().split('\n\n')
    expect(byPage).toHaveLength(30)
    expect(byPage[6]!.split('\n').map(squash).filter(Boolean)).toEqual(pageText(7).map(squash))

    const jsonl = await fetch(`${svc.url}${accepted.result_url}?format=jsonl`)
    expect(jsonl.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
    const records = (await jsonl.text()).trim().split('\n').map((l) => JSON.parse(l) as Result)
    expect(records).toHaveLength(1)
    expect(records[0]!.pages).toHaveLength(30)

    // the document formats: each with its own media type; Accept works when format= is absent
    const hocr = await fetch(`${svc.url}${accepted.result_url}?format=hocr`)
    expect(hocr.headers.get('content-type')).toMatch(/^text\/vnd\.hocr\+html/)
    expect(((await hocr.text()).match(/class=['"]ocr_page['"]/g) ?? []).length).toBe(30)
    const alto = await fetch(svc.url + accepted.result_url, { headers: { accept: 'application/alto+xml' } })
    expect(alto.headers.get('content-type')).toMatch(/^application\/alto\+xml/)
    expect(((await alto.text()).match(/<Page /g) ?? []).length).toBe(30)
    const pdf = await fetch(`${svc.url}${accepted.result_url}?format=pdf`, { headers: { accept: 'text/plain' } })
    expect(pdf.headers.get('content-type')).toBe('application/pdf')
    expect(pdf.headers.get('content-disposition')).toMatch(/^attachment; filename="ocr\.pdf"/)
    const bytes = Buffer.from(await pdf.arrayBuffer())
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-')
    expect((await PDFDocument.load(bytes)).getPageCount()).toBe(30)

    // a finished job is deleted: 204, then 404
    expect((await fetch(svc.url + accepted.status_url, { method: 'DELETE' })).status).toBe(204)
    await expectError(await fetch(svc.url + accepted.status_url), 404, 'NOT_FOUND')
  })

  it('pages= selects pages of the document (numbers kept); options are echoed in the status', async () => {
    const job = await submitted(svc.url, tiff4, '?pages=2,4&cls=false')
    const last = (await pollUntil(svc.url, job.id, finished)).at(-1)!
    expect(last.status).toBe('succeeded')
    expect([last.pages_done, last.pages_total]).toEqual([2, 2])
    expect(last.options).toEqual({ model: 'builtin', pages: '2,4', cls: false })
    const result = (await (await fetch(svc.url + job.result_url)).json()) as Result
    expect(result.pages.map((p) => p.page)).toEqual([2, 4])
    expect(result.pages[1]!.lines.map((l) => squash(l.text))).toEqual(pageText(4).map(squash))
  })

  it('multipart and JSON base64 bodies are accepted as for /v1/ocr', async () => {
    const form = new FormData()
    form.append('image', new Blob([tiff4], { type: 'image/tiff' }), 'scan.tiff')
    form.append('pages', '3')
    const a = await fetch(`${svc.url}/v1/jobs`, { method: 'POST', body: form })
    expect(a.status).toBe(202)
    const b = await fetch(`${svc.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: tiff4.toString('base64'), pages: '1' }) })
    expect(b.status).toBe(202)
    const [viaForm, viaJson] = [(await a.json()) as JobStatus, (await b.json()) as JobStatus]
    for (const [job, page] of [[viaForm, 3], [viaJson, 1]] as const) {
      const last = (await pollUntil(svc.url, job.id, finished)).at(-1)!
      expect(last.status).toBe('succeeded')
      expect(last.pages_done).toBe(1)
      const result = (await (await fetch(svc.url + job.result_url)).json()) as Result
      expect(result.pages.map((p) => p.page)).toEqual([page])
    }
    expect((await status(svc.url, viaForm.id)).file_name).toBe('scan.tiff')
    // downloads are named after the upload
    const pdf = await fetch(`${svc.url}${viaForm.result_url}?format=pdf`)
    expect(pdf.headers.get('content-disposition')).toMatch(/^attachment; filename="scan\.pdf"/)
  })

  it('a partial result of a running job has the pages read so far', async () => {
    const job = await submitted(svc.url, tiff30)
    await pollUntil(svc.url, job.id, (s) => s.pages_done >= 2 || finished(s))
    const res = await fetch(`${svc.url}${job.result_url}?partial=true`)
    expect(res.status).toBe(200)
    const partial = (await res.json()) as Result
    expect(partial.pages.length).toBeGreaterThanOrEqual(2)
    // in page order; the pages are read two at a time, so those so far may have a gap ([1, 3] while
    // 2 is still being read: docs/JOBS.md)
    const numbers = partial.pages.map((p) => p.page)
    expect(numbers).toEqual([...numbers].sort((x, y) => x - y))
    expect(new Set(numbers).size).toBe(numbers.length)
    for (const p of partial.pages) expect(p.lines.map((l) => squash(l.text))).toEqual(pageText(p.page).map(squash))
    await fetch(svc.url + job.status_url, { method: 'DELETE' })
  })
})

describe('PDF documents', () => {
  const pdfJob = (query = '') =>
    fetch(`${svc.url}/v1/jobs${query}`, { method: 'POST', headers: { 'content-type': 'application/pdf' }, body: pdf30 }).then(async (res) => {
      expect(res.status).toBe(202)
      return (await res.json()) as JobStatus
    })

  it('a 30-page PDF job: every page, from its text layer (pdf_text=auto)', async () => {
    const job = await pdfJob()
    const last = (await pollUntil(svc.url, job.id, finished)).at(-1)!
    expect([last.status, last.pages_done, last.pages_total]).toEqual(['succeeded', 30, 30])
    const result = (await (await fetch(svc.url + job.result_url)).json()) as Result
    expect(result.pages.map((p) => p.page)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    expect(new Set(result.pages.map((p) => p.source))).toEqual(new Set(['embedded']))
    result.pages.forEach((p, i) => expect(p.lines.map((l) => l.text)).toEqual([longPdfLine(i + 1)]))
  })

  it('pdf_text=ocr, dpi and pages on a PDF job: those pages rendered at that dpi and OCRed', async () => {
    const job = await pdfJob('?pdf_text=ocr&dpi=100&pages=2-3')
    const last = (await pollUntil(svc.url, job.id, finished)).at(-1)!
    expect(last.status).toBe('succeeded')
    expect(last.options).toEqual({ model: 'builtin', pages: '2-3', dpi: 100, pdf_text: 'ocr' })
    const result = (await (await fetch(svc.url + job.result_url)).json()) as Result
    expect(result.pages.map((p) => [p.page, p.source, p.dpi])).toEqual([[2, 'ocr', 100], [3, 'ocr', 100]])
    expect(result.pages.map((p) => p.lines.map((l) => squash(l.text)))).toEqual([[squash(longPdfLine(2))], [squash(longPdfLine(3))]])
  })

  it('/v1/ocr: a PDF over the sync limit → 413 pointing to /v1/jobs; pages, dpi and pdf_text as multipart fields', async () => {
    const over = await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/pdf' }, body: pdf30 })
    expect(await expectError(over, 413, 'TOO_MANY_PAGES')).toMatch(/30 pages.*POST \/v1\/jobs/)
    const form = new FormData()
    form.append('image', new Blob([pdf30], { type: 'application/pdf' }), 'long.pdf')
    form.append('pages', '5,9')
    form.append('pdf_text', 'ocr')
    form.append('dpi', '90')
    const res = await fetch(`${svc.url}/v1/ocr`, { method: 'POST', body: form })
    expect(res.status).toBe(200)
    const r = (await res.json()) as Result
    expect(r.pages.map((p) => [p.page, p.source, p.dpi])).toEqual([[5, 'ocr', 90], [9, 'ocr', 90]])
    expect(r.pages[1]!.lines.map((l) => squash(l.text))).toEqual([squash(longPdfLine(9))])
  })
})

describe('cancel', () => {
  it('DELETE of a running job stops it: cancelled, no more pages, result 409 JOB_FAILED', async () => {
    const job = await submitted(svc.url, tiff30)
    await pollUntil(svc.url, job.id, (s) => s.pages_done >= 1)
    const del = await fetch(svc.url + job.status_url, { method: 'DELETE' })
    expect(del.status).toBe(200)
    const cancelled = (await del.json()) as JobStatus
    expect(cancelled.status).toBe('cancelled')
    expect(cancelled.error?.code).toBe('CANCELLED')
    expect(cancelled.pages_done).toBeLessThan(30)
    await sleep(1500)
    const later = await status(svc.url, job.id)
    expect(later.status).toBe('cancelled')
    expect(later.pages_done).toBe(cancelled.pages_done)
    expect(await expectError(await fetch(svc.url + job.result_url), 409, 'JOB_FAILED')).toMatch(/CANCELLED/)
    // the engine is free again: a new job runs to the end
    const next = await submitted(svc.url, tiff4, '?pages=1')
    expect((await pollUntil(svc.url, next.id, finished)).at(-1)!.status).toBe('succeeded')
  })

  it('DELETE of a queued job: it never starts; the running one is unaffected', async () => {
    const running = await submitted(svc.url, tiff30)
    await pollUntil(svc.url, running.id, (s) => s.status === 'running')
    const queued = await submitted(svc.url, tiff4)
    expect(queued.status).toBe('queued')
    const del = await fetch(svc.url + queued.status_url, { method: 'DELETE' })
    expect(del.status).toBe(200)
    const c = (await del.json()) as JobStatus
    expect([c.status, c.started_at, c.pages_done, c.error?.code]).toEqual(['cancelled', null, 0, 'CANCELLED'])
    expect((await status(svc.url, running.id)).status).toBe('running')
    await fetch(svc.url + running.status_url, { method: 'DELETE' })
  })
})

describe('limits', () => {
  it('beyond OCR_JOBS_MAX_QUEUED waiting jobs: 503 OVERLOADED with Retry-After', async () => {
    const a = await submitted(svc.url, tiff30)
    await pollUntil(svc.url, a.id, (s) => s.status === 'running')
    const b = await submitted(svc.url, tiff4)
    expect(b.status).toBe('queued')
    const c = await submit(svc.url, tiff4)
    expect(await expectError(c, 503, 'OVERLOADED')).toMatch(/OCR_JOBS_MAX_QUEUED/)
    expect(c.headers.get('retry-after')).toMatch(/^\d+$/)
    // the queued job starts once the running one is cancelled
    await fetch(svc.url + a.status_url, { method: 'DELETE' })
    expect((await pollUntil(svc.url, b.id, finished)).at(-1)!.status).toBe('succeeded')
  })

  it('/v1/ocr over OCR_SYNC_MAX_PAGES: 413 TOO_MANY_PAGES pointing to POST /v1/jobs; pages= within the limit reads', async () => {
    const res = await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/tiff' }, body: tiff4 })
    const message = await expectError(res, 413, 'TOO_MANY_PAGES')
    expect(message).toMatch(/4 pages/)
    expect(message).toContain('POST /v1/jobs')
    const ok = await fetch(`${svc.url}/v1/ocr?pages=2-4`, { method: 'POST', headers: { 'content-type': 'image/tiff' }, body: tiff4 })
    expect(ok.status).toBe(200)
    const r = (await ok.json()) as Result
    expect(r.pages.map((p) => p.page)).toEqual([2, 3, 4])
    expect(r.pages[2]!.lines.map((l) => squash(l.text))).toEqual(pageText(4).map(squash))
  })

  it('a body between OCR_MAX_BODY_BYTES and OCR_JOBS_MAX_BODY_BYTES is a job, not a sync call; past the job limit: 413', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 1)
    await expectError(await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/tiff' }, body: big }), 413, 'PAYLOAD_TOO_LARGE')
    const accepted = await submit(svc.url, big)
    expect(accepted.status).toBe(202)
    // not a document ocrserve reads: the job fails with the engine's own code
    const job = (await accepted.json()) as JobStatus
    const last = (await pollUntil(svc.url, job.id, finished)).at(-1)!
    expect(last.status).toBe('failed')
    expect(last.error?.code).toBe('UNSUPPORTED_MEDIA')
    expect(await expectError(await fetch(svc.url + job.result_url), 409, 'JOB_FAILED')).toMatch(/UNSUPPORTED_MEDIA/)
    await expectError(await submit(svc.url, Buffer.alloc(5 * 1024 * 1024, 1)), 413, 'PAYLOAD_TOO_LARGE')
  })

  it('bad requests are refused at submission', async () => {
    await expectError(await submit(svc.url, tiff4, '?pages=3-1'), 400, 'BAD_PAGE_RANGE')
    await expectError(await submit(svc.url, tiff4, '?format=text'), 400, 'BAD_REQUEST')
    await expectError(await submit(svc.url, tiff4, '?dpi=5'), 400, 'BAD_REQUEST')
    await expectError(await submit(svc.url, tiff4, '?pdf_text=maybe'), 400, 'BAD_REQUEST')
    await expectError(await fetch(`${svc.url}/v1/jobs`, { method: 'POST' }), 400, 'BAD_REQUEST')
    await expectError(await fetch(`${svc.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }), 415, 'UNSUPPORTED_MEDIA')
  })

  it('unknown ids are 404 NOT_FOUND on every job route', async () => {
    for (const id of [randomUUID(), 'not-a-job']) {
      await expectError(await fetch(`${svc.url}/v1/jobs/${id}`), 404, 'NOT_FOUND')
      await expectError(await fetch(`${svc.url}/v1/jobs/${id}/result`), 404, 'NOT_FOUND')
      await expectError(await fetch(`${svc.url}/v1/jobs/${id}`, { method: 'DELETE' }), 404, 'NOT_FOUND')
    }
  })

  it('interactive /v1/ocr requests are answered while a long job runs', async () => {
    const job = await submitted(svc.url, tiff30)
    await pollUntil(svc.url, job.id, (s) => s.pages_done >= 1)
    const img = pages[11]!
    const res = await fetch(`${svc.url}/v1/ocr?format=text`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
    expect(res.status).toBe(200)
    expect((await res.text()).trimEnd().split('\n').map(squash)).toEqual(pageText(12).map(squash))
    const s = await status(svc.url, job.id)
    expect(s.status).toBe('running')
    expect(s.pages_done).toBeLessThan(30)
    await fetch(svc.url + job.status_url, { method: 'DELETE' })
  })

  it('/metrics counts jobs by state', async () => {
    const text = await (await fetch(`${svc.url}/metrics`)).text()
    const count = (state: string) => Number(new RegExp(`^ocr_jobs\\{state="${state}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN)
    expect(count('succeeded')).toBeGreaterThanOrEqual(3)
    expect(count('cancelled')).toBeGreaterThanOrEqual(3)
    expect(count('failed')).toBe(1)
    expect(count('expired')).toBe(0)
    expect(Number(/^ocr_jobs_stored_bytes (\d+)/m.exec(text)?.[1])).toBeGreaterThan(tiff30.length)
  })
})

describe('TTL expiry', () => {
  let short: Service
  beforeAll(async () => {
    short = await startService(config({ OCR_JOBS_TTL_SECONDS: '1' }))
  })
  afterAll(async () => short?.close())

  it('a finished job keeps its result for the TTL, then reads expired (result 410), then is gone (404)', async () => {
    const job = await submitted(short.url, tiff4, '?pages=1')
    const done = (await pollUntil(short.url, job.id, finished)).at(-1)!
    expect(done.status).toBe('succeeded')
    expect(Date.parse(done.expires_at!) - Date.parse(done.finished_at!)).toBe(1000)
    expect((await fetch(short.url + job.result_url)).status).toBe(200)

    const expired = (await pollUntil(short.url, job.id, (s) => s.status === 'expired')).at(-1)!
    expect(expired.pages_done).toBe(1)
    expect(await expectError(await fetch(short.url + job.result_url), 410, 'JOB_EXPIRED')).toMatch(/1 s/)
    const metrics = await (await fetch(`${short.url}/metrics`)).text()
    expect(metrics).toMatch(/^ocr_jobs\{state="expired"\} 1$/m)
    expect(metrics).toMatch(/^ocr_jobs_stored_bytes 0$/m)

    for (let i = 0; i < 100; i++) {
      const res = await fetch(short.url + job.status_url)
      if (res.status === 404) return expect((await errorOf(res)).code).toBe('NOT_FOUND')
      await sleep(50)
    }
    throw new Error('the expired job was never forgotten')
  })
})

describe('an engine queue full of interactive requests', () => {
  it('does not fail a job: it waits in the job queue and is handed over again', async () => {
    const busy = await startService(config({ OCR_WORKERS: '1', OCR_MAX_QUEUE: '0' }))
    try {
      // the only worker is busy with an interactive request, and the engine queues nothing
      const sync = fetch(`${busy.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/tiff' }, body: tiff4, signal: AbortSignal.timeout(60_000) }).catch(() => null)
      for (let i = 0; i < 200 && busy.ocr.stats().running === 0; i++) await sleep(10)
      expect(busy.ocr.stats().running).toBe(1)
      const job = await submitted(busy.url, tiff4, '?pages=2')
      const seen = await pollUntil(busy.url, job.id, finished)
      // refused by the engine, it went back to queued (progress reset) instead of failing
      expect(seen.some((s) => s.status === 'queued' && s.started_at !== null)).toBe(true)
      const last = seen.at(-1)!
      expect([last.status, last.pages_done, last.error]).toEqual(['succeeded', 1, null])
      await sync
    } finally {
      await busy.close()
    }
  })
})

describe('shutdown', () => {
  it('closing the service cancels running and queued jobs instead of finishing them', async () => {
    const closing = await startService(config())
    const running = await submitted(closing.url, tiff30)
    await pollUntil(closing.url, running.id, (s) => s.pages_done >= 1)
    const queued = await submitted(closing.url, tiff30)
    expect(queued.status).toBe('queued')
    await closing.close()
    // the running job was stopped part-way (a cancelled job counts as failed), the queued one never reached the engine
    expect(closing.ocr.stats()).toMatchObject({ completed: 0, failed: 1, queued: 0, running: 0 })
  })
})

describe('OCR_JOBS_MAX_STORED_BYTES', () => {
  it('a new job past the budget expires the oldest finished job early; a document over the whole budget is 413', async () => {
    const small = await startService(config({ OCR_JOBS_MAX_STORED_BYTES: String(Math.floor(tiff4.length * 2.5)) }))
    try {
      const [a, b] = [await submitted(small.url, tiff4, '?pages=1'), await submitted(small.url, tiff4, '?pages=1')]
      for (const job of [a, b]) expect((await pollUntil(small.url, job.id, finished)).at(-1)!.status).toBe('succeeded')
      const c = await submitted(small.url, tiff4, '?pages=1')
      expect((await status(small.url, a.id)).status).toBe('expired')
      expect((await status(small.url, b.id)).status).toBe('succeeded')
      await expectError(await fetch(small.url + a.result_url), 410, 'JOB_EXPIRED')
      expect((await pollUntil(small.url, c.id, finished)).at(-1)!.status).toBe('succeeded')
      expect(await expectError(await submit(small.url, tiff30), 413, 'PAYLOAD_TOO_LARGE')).toMatch(/OCR_JOBS_MAX_STORED_BYTES/)
    } finally {
      await small.close()
    }
  })
})

describe('OCR_JOBS_TIMEOUT_MS', () => {
  it('a job over its time limit fails with TIMEOUT', async () => {
    const hurried = await startService(config({ OCR_JOBS_TIMEOUT_MS: '1' }))
    try {
      const job = await submitted(hurried.url, tiff4)
      const last = (await pollUntil(hurried.url, job.id, finished)).at(-1)!
      expect([last.status, last.error?.code]).toEqual(['failed', 'TIMEOUT'])
      expect(await expectError(await fetch(hurried.url + job.result_url), 409, 'JOB_FAILED')).toMatch(/TIMEOUT/)
    } finally {
      await hurried.close()
    }
  })
})

describe('API keys on job routes', () => {
  let keyed: Service
  beforeAll(async () => {
    keyed = await startService(config({ OCR_API_KEYS: 'job-key' }))
  })
  afterAll(async () => keyed?.close())

  it('every job route needs the key; with it they work', async () => {
    await expectError(await submit(keyed.url, tiff4, '?pages=1'), 401, 'UNAUTHORIZED')
    const res = await submit(keyed.url, tiff4, '?pages=1', { 'x-api-key': 'job-key' })
    expect(res.status).toBe(202)
    const job = (await res.json()) as JobStatus
    await expectError(await fetch(keyed.url + job.status_url), 401, 'UNAUTHORIZED')
    await expectError(await fetch(keyed.url + job.result_url), 401, 'UNAUTHORIZED')
    await expectError(await fetch(keyed.url + job.status_url, { method: 'DELETE', headers: { authorization: 'Bearer wrong' } }), 401, 'UNAUTHORIZED')
    const auth = { authorization: 'Bearer job-key' }
    for (let i = 0; i < 600; i++) {
      if (finished(await status(keyed.url, job.id, auth))) break
      await sleep(50)
    }
    const result = await fetch(keyed.url + job.result_url, { headers: auth })
    expect(result.status).toBe(200)
    expect(((await result.json()) as Result).pages).toHaveLength(1)
    expect((await fetch(keyed.url + job.status_url, { method: 'DELETE', headers: auth })).status).toBe(204)
  })
})

describe('pages of one job spread over the local workers (memory store)', () => {
  it('both workers read pages of one job; every page once, in order', async () => {
    const before = svc.ocr.stats().pagesRead
    const job = await submitted(svc.url, tiff30)
    const last = (await pollUntil(svc.url, job.id, finished)).at(-1)!
    expect([last.status, last.pages_done]).toEqual(['succeeded', 30])
    const read = svc.ocr.stats().pagesRead.map((n, w) => n - before[w]!)
    expect(read).toHaveLength(2)
    expect(read[0]! + read[1]!).toBe(30)
    for (const n of read) expect(n).toBeGreaterThan(0)
    const result = (await (await fetch(svc.url + job.result_url)).json()) as Result
    expect(result.pages.map((p) => p.page)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
  })
})

describe('a job belongs to the API key that submitted it (memory store)', () => {
  let tenants: Service
  beforeAll(async () => {
    tenants = await startService(config({ OCR_API_KEYS: 'key-one,key-two', OCR_WORKERS: '1' }))
  })
  afterAll(async () => tenants?.close())

  it('another key gets 404 on every job route; the submitting key sees it', async () => {
    const res = await submit(tenants.url, tiff4, '?pages=1', { 'x-api-key': 'key-one' })
    expect(res.status).toBe(202)
    const job = (await res.json()) as JobStatus
    const other = { authorization: 'Bearer key-two' }
    await expectError(await fetch(tenants.url + job.status_url, { headers: other }), 404, 'NOT_FOUND')
    await expectError(await fetch(`${tenants.url}${job.result_url}?partial=true`, { headers: other }), 404, 'NOT_FOUND')
    await expectError(await fetch(tenants.url + job.status_url, { method: 'DELETE', headers: other }), 404, 'NOT_FOUND')
    const own = { 'x-api-key': 'key-one' }
    for (let i = 0; i < 600 && !finished(await status(tenants.url, job.id, own)); i++) await sleep(50)
    expect((await status(tenants.url, job.id, own)).status).toBe('succeeded')
    expect((await fetch(tenants.url + job.result_url, { headers: own })).status).toBe(200)
  })
})
