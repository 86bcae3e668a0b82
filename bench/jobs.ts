/**
 * The `jobs` section of `npm run bench`: async jobs on 24-page PDFs (real scans from eval-real
 * embedded one per page, image-only; and born-digital pages with a text layer).
 *
 *   split   how a page task should get its page: each task opens the document itself (A, what
 *           ocrserve does), or one task renders every page and hands out images (B), against one
 *           read of the same pages; on one worker, taking turns; the pages' stage times split the
 *           cost into opening/rendering and OCR.
 *   memory  a job through the memory store on engines of 2 workers: one worker per document
 *           (OCR_JOBS_PAGES_IN_FLIGHT=1, the behaviour before pages were spread; with and without
 *           idle workers' help) against its pages spread over both, taking turns, `reps` times each.
 *   redis   two `ocrserve serve` replicas (one worker each) on one redis-server: a job submitted to
 *           one, the pages each replica read, and GET /v1/jobs/{id} latency while it runs.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import sharp from 'sharp'
import type { Ocr, PageResult } from '../src/index.js'
import type { JobStore } from '../src/jobs/store.js'
import { makePdf, textPage } from '../test/fixtures/pdfs.js'
import { redisSkipReason, startRedis } from '../test/helpers/redis-server.js'
import { freePort, startNode, waitReady, type Child } from './lib/procs.js'
import { fmt, markdownTable, median, summarize } from './lib/stats.js'

type DistIndex = typeof import('../src/index.js')
type DistMemory = typeof import('../src/jobs/memory.js')
type DistDocument = typeof import('../src/document/document.js')

export interface JobsBlock {
  title: string
  body: string
  note: string
}

export interface JobsBench {
  blocks: JobsBlock[]
  json: Record<string, number | string | null>
  results: Record<string, unknown>
}

/** Real page scans cycled over the 24 pages (receipts, book pages, a multi-line screenshot). */
const SCANS = [
  'sroie_037.jpg', 'sroie_320.jpg', 'sroie_065.jpg', 'sroie_002.jpg', 'sroie_050.jpg', 'sroie_137.jpg',
  'tesseract_8071_093.3B.png', 'tesseract_8087_054.3B.png', 'cnocr_multi-line_en_black.png', 'sroie_167.jpg', 'sroie_388.jpg', 'sroie_415.jpg',
]
const PAGES = 24
/** The scans are embedded at this resolution, the default render dpi: a page renders back to its own pixels. */
const SCAN_DPI = 200

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const secs = (ms: number | null | undefined): string => fmt(ms === null || ms === undefined ? null : ms / 1000, 1)
const round = (ms: number | null): number | null => (ms === null ? null : Math.round(ms / 100) / 10)

async function scanPdf(evalReal: string): Promise<Buffer> {
  const pages = await Promise.all(
    Array.from({ length: PAGES }, async (_, i) => {
      const file = join(evalReal, 'images', 'page', SCANS[i % SCANS.length]!)
      const image = readFileSync(file)
      const kind = file.endsWith('.png') ? ('png' as const) : ('jpeg' as const)
      // (pdf-lib embeds JPEG as is; PNGs it re-encodes)
      return { image: kind === 'png' ? await sharp(image).removeAlpha().png().toBuffer() : image, kind, dpi: SCAN_DPI }
    }),
  )
  return makePdf(pages)
}

/** Born-digital pages: 20 lines of text each, in the text layer. */
function textPdf(): Promise<Buffer> {
  return makePdf(Array.from({ length: PAGES }, (_, p) => textPage(Array.from({ length: 20 }, (_, l) => `Page ${p + 1} line ${l + 1}: the quick brown fox jumps over the lazy dog`), { size: 12 })))
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now()
  const v = await fn()
  return [performance.now() - t0, v]
}

/** Pages 1..SPLIT_PAGES of each 24-page document are read three ways for the split measurement. */
const SPLIT_PAGES = 8

/** One way of getting pages to the OCR: its costs summed over the pages (ms). */
interface SplitCost {
  /** Opening the document + rendering (or reading the text layer), PNG encoding and decoding for B. */
  prepareMs: number
  /** det + cls + rec: the same work whichever way the page came. */
  ocrMs: number
  wallMs: number
}

interface SplitRow {
  doc: string
  /** Runs of each way, taking turns. */
  whole: SplitCost[]
  a: SplitCost[]
  b: SplitCost[] | null
  openMs: number
  imageBytes: number | null
  /** A page's result as the Redis store keeps it (JSON), median over the pages. */
  pageJsonBytes: number
}

const stageSum = (pages: readonly PageResult[], stages: readonly (keyof PageResult['timing_ms'])[]): number => pages.reduce((n, p) => n + stages.reduce((m, k) => m + p.timing_ms[k], 0), 0)

/**
 * A and B on one worker (see the header), each way `reps` times, taking turns. The pages' own stage
 * times say where the time goes: `decode` is opening + rendering (A: the document opened again for
 * each page), det/cls/rec the OCR itself, the same work every way (their spread shows the noise).
 */
async function split(dist: DistIndex, documents: DistDocument, docs: { name: string; bytes: Buffer; images: boolean }[], reps: number, progress: (m: string) => void): Promise<SplitRow[]> {
  const ocr = await dist.createOcr({ workers: 1, threadsPerWorker: 1, idleAssist: false, timeoutMs: 30 * 60_000 })
  const rows: SplitRow[] = []
  const selection = `1-${SPLIT_PAGES}`
  try {
    for (const d of docs) {
      await ocr.read(d.bytes, { pages: '1' }) // warm (pdf.js loads on the first PDF)
      const row: SplitRow = { doc: d.name, whole: [], a: [], b: d.images ? [] : null, openMs: 0, imageBytes: null, pageJsonBytes: 0 }
      const opens: number[] = []
      for (let i = 0; i < 5; i++) opens.push((await timed(() => ocr.pageNumbers(d.bytes)))[0])
      row.openMs = median(opens)
      const ways = {
        whole: async (): Promise<SplitCost> => {
          const [wallMs, r] = await timed(() => ocr.read(d.bytes, { pages: selection, priority: 'batch' }))
          row.pageJsonBytes = median(r.pages.map((p) => JSON.stringify(p).length))
          return { prepareMs: stageSum(r.pages, ['decode']), ocrMs: stageSum(r.pages, ['det', 'cls', 'rec']), wallMs }
        },
        a: async (): Promise<SplitCost> => {
          const pages: PageResult[] = []
          const [wallMs] = await timed(async () => {
            for (let p = 1; p <= SPLIT_PAGES; p++) pages.push((await ocr.read(d.bytes, { pages: String(p), priority: 'batch' })).pages[0]!)
          })
          return { prepareMs: stageSum(pages, ['decode']), ocrMs: stageSum(pages, ['det', 'cls', 'rec']), wallMs }
        },
        b: async (): Promise<SplitCost> => {
          // one task renders every page and encodes it for the others (here, in this process)
          const pngs: Buffer[] = []
          const t0 = performance.now()
          const [renderMs] = await timed(async () => {
            const opened = await documents.openDocument(d.bytes, { maxPixels: 40_000_000, maxPages: 100, dpi: SCAN_DPI, pdfText: 'ocr' })
            try {
              for (let i = 0; i < SPLIT_PAGES; i++) {
                const page = await opened.page(i)
                if (page.kind !== 'image') throw new Error('expected an image page')
                pngs.push(await sharp(page.image.data, { raw: { width: page.image.width, height: page.image.height, channels: 3 } }).png().toBuffer())
              }
            } finally {
              await opened.close()
            }
          })
          row.imageBytes = pngs.reduce((n, b) => n + b.length, 0)
          const pages: PageResult[] = []
          for (const png of pngs) pages.push((await ocr.read(png, { priority: 'batch' })).pages[0]!)
          return { prepareMs: renderMs + stageSum(pages, ['decode']), ocrMs: stageSum(pages, ['det', 'cls', 'rec']), wallMs: performance.now() - t0 }
        },
      }
      const order = (['whole', 'a', 'b'] as const).filter((w) => w !== 'b' || d.images)
      for (let r = 0; r < reps; r++) {
        for (const way of r % 2 === 0 ? order : [...order].reverse()) {
          progress(`jobs/split: ${d.name}, ${way === 'whole' ? 'one read' : way === 'a' ? 'A' : 'B'}, run ${r + 1}/${reps}`)
          row[way]!.push(await ways[way]())
        }
      }
      rows.push(row)
    }
  } finally {
    await ocr.close()
  }
  return rows
}

interface MemoryRuns {
  doc: string
  /**
   * Job wall times (ms): one worker per document (OCR_JOBS_PAGES_IN_FLIGHT=1) on the default
   * engine (idle workers help with its classifier and recogniser calls), the same without that
   * help (OCR_IDLE_ASSIST=false), and the pages spread over both workers (auto).
   */
  one: number[]
  oneAlone: number[]
  spread: number[]
  /** CPU seconds (every thread of this process) per job, by mode: the same work costs the same. */
  cpu: { one: number[]; oneAlone: number[]; spread: number[] }
  /** Pages each worker read in the spread runs. */
  perWorker: number[]
}

async function runJob(store: JobStore, bytes: Buffer): Promise<number> {
  const t0 = performance.now()
  const job = await store.submit({ bytes, options: {}, fileName: null }, null)
  for (;;) {
    const s = await store.get(job.id, null)
    if (s.state === 'succeeded') return performance.now() - t0
    if (s.state !== 'queued' && s.state !== 'running') throw new Error(`job ${s.state}: ${JSON.stringify(s.error)}`)
    await sleep(20)
  }
}

async function memory(dist: DistIndex, memoryStore: DistMemory, docs: { name: string; bytes: Buffer }[], reps: number, progress: (m: string) => void): Promise<MemoryRuns[]> {
  const engine = (idleAssist: boolean): Promise<Ocr> => dist.createOcr({ workers: 2, threadsPerWorker: 1, idleAssist, timeoutMs: 30 * 60_000 })
  const [helped, alone] = [await engine(true), await engine(false)]
  const store = (ocr: Ocr, parallelPages: number) =>
    new memoryStore.MemoryJobStore({ ocr, parallelPages, concurrency: 1, ttlMs: 3_600_000, timeoutMs: 30 * 60_000, maxQueued: 8, maxStoredBytes: 1 << 30, logger: quiet })
  const stores = { one: store(helped, 1), oneAlone: store(alone, 1), spread: store(helped, 2) }
  const label = { one: 'one worker per document', oneAlone: 'one worker per document, no idle help', spread: 'pages spread over 2 workers' }
  const out: MemoryRuns[] = []
  try {
    for (const d of docs) {
      const runs: MemoryRuns = { doc: d.name, one: [], oneAlone: [], spread: [], cpu: { one: [], oneAlone: [], spread: [] }, perWorker: [0, 0] }
      for (const ocr of [helped, alone]) await ocr.read(d.bytes, { pages: '1' })
      const modes = ['one', 'spread', 'oneAlone'] as const
      for (let r = 0; r < reps; r++) {
        // take turns, and change who goes first (the second finds warmer caches)
        for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
          progress(`jobs/memory: ${d.name}, ${label[mode]}, run ${r + 1}/${reps}`)
          const before = helped.stats().pagesRead
          const cpu0 = process.cpuUsage()
          runs[mode].push(await runJob(stores[mode], d.bytes))
          const cpu = process.cpuUsage(cpu0)
          runs.cpu[mode].push((cpu.user + cpu.system) / 1000)
          if (mode === 'spread') helped.stats().pagesRead.forEach((n, w) => (runs.perWorker[w]! += n - before[w]!))
        }
      }
      out.push(runs)
    }
  } finally {
    for (const s of Object.values(stores)) await s.close()
    for (const ocr of [helped, alone]) await ocr.close()
  }
  return out
}

interface RedisRun {
  jobMs: number
  perReplica: number[]
  /** GET /v1/jobs/{id} latencies (ms) while the job ran, both replicas. */
  statusMs: number[]
  /** The same GETs after it finished (nothing running): the machine's own share of the latency. */
  idleStatusMs: number[]
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: keepAlive }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }))
      })
      .on('error', reject)
  })
}
const keepAlive = new http.Agent({ keepAlive: true })

async function workerPages(base: string): Promise<number> {
  const text = (await get(`${base}/metrics`)).body
  return [...text.matchAll(/^ocr_worker_pages_total\{worker="\d+"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0)
}

async function redisReplicas(root: string, bytes: Buffer, reps: number, progress: (m: string) => void): Promise<RedisRun[]> {
  const redis = await startRedis()
  const replicas: { child: Child; url: string }[] = []
  try {
    for (let i = 0; i < 2; i++) {
      const port = await freePort()
      const env = { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', OCR_WORKERS: '1', OCR_THREADS_PER_WORKER: '1', OCR_REDIS_URL: redis.url, OCR_REDIS_PREFIX: 'bench' }
      const child = startNode([join(root, 'bin', 'ocrserve.js'), 'serve'], env, root)
      replicas.push({ child, url: `http://127.0.0.1:${port}` })
    }
    for (const r of replicas) await waitReady(`${r.url}/readyz`, r.child, 180_000)
    const runs: RedisRun[] = []
    for (let rep = 0; rep < reps; rep++) {
      progress(`jobs/redis: 2 replicas, run ${rep + 1}/${reps}`)
      const before = await Promise.all(replicas.map((r) => workerPages(r.url)))
      const t0 = performance.now()
      const submitted = await new Promise<string>((resolve, reject) => {
        const req = http.request(`${replicas[0]!.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/pdf' } }, (res) => {
          let body = ''
          res.on('data', (d: Buffer) => (body += d))
          res.on('end', () => (res.statusCode === 202 ? resolve((JSON.parse(body) as { id: string }).id) : reject(new Error(`submit: ${res.statusCode} ${body}`))))
        })
        req.on('error', reject)
        req.end(bytes)
      })
      const statusMs: number[] = []
      let jobMs = 0
      for (let i = 0; ; i++) {
        const r = await get(`${replicas[i % 2]!.url}/v1/jobs/${submitted}`)
        statusMs.push(r.ms)
        const state = (JSON.parse(r.body) as { status: string }).status
        if (state === 'succeeded') {
          jobMs = performance.now() - t0
          break
        }
        if (state !== 'queued' && state !== 'running') throw new Error(`job ${state}: ${r.body}`)
        await sleep(50)
      }
      const after = await Promise.all(replicas.map((r) => workerPages(r.url)))
      const idleStatusMs: number[] = []
      for (let i = 0; i < 200; i++) {
        idleStatusMs.push((await get(`${replicas[i % 2]!.url}/v1/jobs/${submitted}`)).ms)
        await sleep(50)
      }
      runs.push({ jobMs, perReplica: after.map((n, i) => n - before[i]!), statusMs, idleStatusMs })
    }
    return runs
  } finally {
    for (const r of replicas) await r.child.stop()
    await redis.remove()
  }
}

export async function benchJobs(root: string, evalReal: string, quick: boolean, progress: (m: string) => void): Promise<JobsBench> {
  const dist = (await import(join(root, 'dist', 'index.js'))) as DistIndex
  const memoryStore = (await import(join(root, 'dist', 'jobs', 'memory.js'))) as DistMemory
  const documents = (await import(join(root, 'dist', 'document', 'document.js'))) as DistDocument
  const reps = quick ? 1 : 3
  const scans = await scanPdf(evalReal)
  const text = await textPdf()
  const docs = [
    { name: `${PAGES} scanned pages (image-only)`, bytes: scans, images: true },
    { name: `${PAGES} born-digital pages (text layer)`, bytes: text, images: false },
  ]
  const blocks: JobsBlock[] = []
  const json: Record<string, number | string | null> = {}
  const results: Record<string, unknown> = { documents: docs.map((d) => ({ name: d.name, bytes: d.bytes.length })) }

  const splitRows = await split(dist, documents, docs, reps, progress)
  results.split = splitRows
  const med = (costs: SplitCost[] | null, k: keyof SplitCost): number | null => (costs && costs.length ? median(costs.map((c) => c[k])) : null)
  const splitRowsOut: string[][] = []
  for (const r of splitRows) {
    for (const [label, costs] of [['one read of the pages', r.whole], ['A: each page task opens the document', r.a], ['B: one task renders, hands out PNGs', r.b]] as const) {
      if (!costs) continue
      splitRowsOut.push([r.doc, label, secs(med(costs, 'prepareMs')), secs(med(costs, 'ocrMs')), secs(med(costs, 'wallMs'))])
    }
  }
  blocks.push({
    title: `Jobs: how a page task gets its page (pages 1–${SPLIT_PAGES} of each 24-page PDF, one worker)`,
    body: markdownTable(['document', 'way', 'open + render (+ encode/decode) s', 'OCR (det+cls+rec) s', 'wall s'], splitRowsOut),
    note:
      `Medians of ${reps} run(s) of each way, taking turns. Open + render: the pages' decode stage (A: the document opened again for every page), plus for B rendering and PNG-encoding every page in the bench process (emulating the one task that would) and the workers decoding the PNGs. ` +
      `OCR is the same work every way (its spread is the machine's noise). Opening and listing the pages of the scanned PDF (${fmt(splitRows[0]!.openMs, 0)} ms) and of the born-digital one (${fmt(splitRows[1]!.openMs, 0)} ms): the cost A adds per page. ` +
      `B's PNGs: ${fmt((splitRows[0]!.imageBytes ?? 0) / 1e6, 1)} MB for ${SPLIT_PAGES} pages (what B would move through Redis). A born-digital page is read from its text layer: B has nothing to hand out. Page result JSON (what the Redis store keeps per page, median): ${splitRows.map((r) => `${fmt(r.pageJsonBytes / 1e3, 1)} KB (${r.doc})`).join(', ')}.`,
  })
  const scan = splitRows[0]!
  json.jobs_split_a_prepare_s = round(med(scan.a, 'prepareMs'))
  json.jobs_split_whole_prepare_s = round(med(scan.whole, 'prepareMs'))
  json.jobs_split_b_prepare_s = round(med(scan.b, 'prepareMs'))

  const mem = await memory(dist, memoryStore, docs, reps, progress)
  results.memory = mem
  const range = (xs: number[]): string => `${secs(median(xs))} (${secs(Math.min(...xs))}–${secs(Math.max(...xs))})`
  blocks.push({
    title: 'Jobs: memory store, one worker per document vs pages spread over 2 workers',
    body: markdownTable(
      ['document', 'one worker per document s', 'the same, no idle help s', 'pages spread s', 'spread / one', 'spread / one without help', 'CPU s per job (one / no help / spread)', 'cores used (one / no help / spread)', 'pages per worker (spread)'],
      mem.map((m) => {
        const cores = (mode: 'one' | 'oneAlone' | 'spread'): string => fmt(median(m.cpu[mode]) / median(m[mode]), 2)
        return [
          m.doc,
          range(m.one),
          range(m.oneAlone),
          range(m.spread),
          fmt(median(m.spread) / median(m.one), 2),
          fmt(median(m.spread) / median(m.oneAlone), 2),
          [m.cpu.one, m.cpu.oneAlone, m.cpu.spread].map((c) => secs(median(c))).join(' / '),
          `${cores('one')} / ${cores('oneAlone')} / ${cores('spread')}`,
          m.perWorker.join(' / '),
        ]
      }),
    ),
    note:
      `Engines of 2 workers × 1 thread; the same store code with OCR_JOBS_PAGES_IN_FLIGHT=1 (the whole document one read on one worker, as before; by default the idle worker runs the busy one's classifier and recogniser calls, "no idle help": OCR_IDLE_ASSIST=false) and with the pages spread (=2). ` +
      `Medians (min–max) of ${reps} job(s) each, taking turns. Job time = submit to succeeded. CPU: this process's user + system time during the job (every thread); cores used = CPU / job time: ` +
      'what the machine gave the job. Where it gives less than the workers could use (a shared machine), spreading cannot shorten the job, and the CPU per job shows whether it costs more.',
  })
  json.jobs_memory_spread_over_one = Math.round((median(mem[0]!.spread) / median(mem[0]!.one)) * 1000) / 1000
  json.jobs_memory_spread_over_one_alone = Math.round((median(mem[0]!.spread) / median(mem[0]!.oneAlone)) * 1000) / 1000

  const skip = redisSkipReason()
  if (skip) {
    blocks.push({ title: 'Jobs: two replicas on one Redis', body: `skipped: ${skip}`, note: '' })
  } else {
    const runs = await redisReplicas(root, scans, quick ? 1 : 2, progress)
    results.redis = runs
    const all = runs.flatMap((r) => r.statusMs)
    const s = summarize(all)
    blocks.push({
      title: 'Jobs: two replicas on one Redis',
      body: markdownTable(
        ['run', 'job s', 'pages read by replica A / B', 'status GETs', 'GET p50 ms', 'GET p99 ms', 'GET max ms', 'idle: GET p50 / p99 ms'],
        runs.map((r, i) => {
          const x = summarize(r.statusMs)
          const idle = summarize(r.idleStatusMs)
          return [String(i + 1), secs(r.jobMs), r.perReplica.join(' / '), String(x.n), fmt(x.p50, 1), fmt(x.p99, 1), fmt(x.max, 1), `${fmt(idle.p50, 1)} / ${fmt(idle.p99, 1)}`]
        }),
      ),
      note: `Two \`ocrserve serve\` processes (1 worker each) and redis-server on this machine; the ${PAGES}-page scan PDF submitted to A; its status polled every 50 ms, alternately from A and B, until it succeeded; "idle": 200 more GETs after it (no job running), the latency this machine gives any request. All runs: ${s.n} GETs, p99 ${fmt(s.p99, 1)} ms.`,
    })
    json.jobs_redis_status_p99_ms = Math.round(s.p99 * 10) / 10
    json.jobs_redis_pages_per_replica = runs.map((r) => r.perReplica.join('/')).join(',')
  }
  return { blocks, json, results }
}
