/**
 * Worker-thread entry: owns the backends (ONNX sessions or a remote client) and runs whole jobs
 * (decode → pipeline for each page) so that no inference or pixel work touches the main thread.
 * Protocol: see ./messages.ts.
 */
import { readFile } from 'node:fs/promises'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { checkCancelled, OcrError, serializeError } from '../errors.js'
import type { Logger } from '../logger.js'
import { selectPages } from '../document/pages.js'
import { openDocument, readInputFile, resultFromPages, roundTiming } from '../document/document.js'
import { createBackendSet } from '../inference/factory.js'
import type { Backend, ModelRole } from '../inference/backend.js'
import { resolveModelPaths } from '../models/assets.js'
import { buildCharset } from '../models/rec-ctc.js'
import type { OcrResult, PageResult, StageTiming } from '../types.js'
import { Pipeline } from './pipeline.js'
import { AssistedBackend, helpWith, type OfferEvents } from './assist.js'
import type { AssistRole, JobMessage, SharedCalls, ToMain, ToWorker, WorkerInit } from './messages.js'

const port = parentPort!
const init = workerData as WorkerInit

// Inference threads yield to the main thread: on Linux this lowers only this thread, and the ONNX
// Runtime threads created after it inherit the priority, so /healthz and /metrics stay prompt when
// the CPU is saturated (healthz p95 23-36 ms -> 8-10 ms measured at load ~5).
try {
  setPriority(0, 10)
} catch {
  // not permitted on this platform: run at normal priority
}

/** Logs go to the main thread, which owns the real logger. */
const logger: Logger = {
  debug: (o, m) => port.postMessage({ type: 'log', level: 'debug', obj: o, msg: m } satisfies ToMain),
  info: (o, m) => port.postMessage({ type: 'log', level: 'info', obj: o, msg: m } satisfies ToMain),
  warn: (o, m) => port.postMessage({ type: 'log', level: 'warn', obj: o, msg: m } satisfies ToMain),
  error: (o, m) => port.postMessage({ type: 'log', level: 'error', obj: o, msg: m } satisfies ToMain),
}

const settings = init.settings
const backendSet = await createBackendSet({ settings, threads: init.threads, logger, ...(init.models ? { models: init.models } : {}) })
// the backend set holds the model bytes until each session is made; workerData need not keep them
delete init.models
/**
 * `make(key)` made once per key and kept; a failed creation (model server down) is dropped, so the
 * next job tries again.
 */
function madeOnce<K, V>(make: (key: K) => Promise<V>): Map<K, Promise<V>> & { of(key: K): Promise<V> } {
  const made = new Map<K, Promise<V>>()
  return Object.assign(made, {
    of(key: K): Promise<V> {
      let v = made.get(key)
      if (!v) {
        v = make(key)
        made.set(key, v)
        v.catch(() => made.delete(key))
      }
      return v
    },
  })
}
const backends = madeOnce((role: ModelRole) => backendSet.factory(role))
const backend = (role: ModelRole): Promise<Backend> => backends.of(role)

// idle workers help with this worker's classifier and recogniser calls while it has a job (assist.ts)
let idleWorkers = 0
let nextOffer = 1
const offers = new Map<number, OfferEvents>()
function offerCalls(calls: SharedCalls, events: OfferEvents): { close(): void } {
  const reqId = nextOffer++
  offers.set(reqId, events)
  // the tensors are in shared memory (copied once, assist.ts inSharedMemory), like the counter
  port.postMessage({ type: 'assist', reqId, ...calls } satisfies ToMain)
  return { close: () => offers.delete(reqId) }
}
const assisted = madeOnce((role: AssistRole): Promise<Backend> => backend(role).then((inner) => new AssistedBackend(inner, role, offerCalls, () => idleWorkers)))
function pipelineBackend(role: ModelRole): Promise<Backend> {
  return !init.assist || role === 'det' ? backend(role) : assisted.of(role)
}

/** Takes another worker's calls until they are used up or this worker gets a job. */
async function help(msg: Extract<ToWorker, { type: 'assist-run' }>): Promise<void> {
  try {
    const model = await backend(msg.role)
    await helpWith(msg, model, () => running.size > 0, (outcome, transfer) => port.postMessage({ type: 'assist-done', id: msg.id, ...outcome } satisfies ToMain, transfer))
  } catch (err) {
    // no session: take nothing (the busy worker runs the calls itself)
    logger.warn({ err: (err as Error).message }, 'cannot help another worker')
  } finally {
    port.postMessage({ type: 'assist-end', id: msg.id } satisfies ToMain)
  }
}

const charset = buildCharset(await readFile(resolveModelPaths(settings.models).keys, 'utf8'))
const pipeline = new Pipeline(pipelineBackend, charset, settings)
const running = new Map<number, AbortController>()

async function warmUp(): Promise<void> {
  // one small page through every stage: loads the sessions and lets ORT allocate its arenas
  const w = 160
  const h = 48
  const data = new Uint8Array(w * h * 3).fill(255)
  for (let y = 18; y < 30; y++) for (let x = 20; x < 140; x++) data.set([0, 0, 0], (y * w + x) * 3)
  await Promise.all([backend('det'), backend('cls'), backend('rec')])
  await pipeline.readPage({ data, width: w, height: h }, { useCls: true })
}

async function runJob(job: JobMessage): Promise<OcrResult> {
  const ac = new AbortController()
  running.set(job.id, ac)
  try {
    const t0 = performance.now()
    const bytes = typeof job.input === 'string' ? await readInputFile(job.input) : job.input
    // pages are decoded (a PDF: rendered or read from its text layer) one at a time, so a long
    // document never sits in memory whole
    const doc = await openDocument(bytes, { maxPixels: settings.maxPixels, maxPages: settings.maxPages, dpi: job.dpi, pdfText: job.pdfText })
    const pages: PageResult[] = []
    try {
      const indices = selectPages(job.pages, doc.pageCount)
      if (indices.length > job.maxPages) {
        throw new OcrError('TOO_MANY_PAGES', `the document has ${indices.length} pages to read; this call reads at most ${job.maxPages}`)
      }
      for (const i of indices) {
        checkCancelled(ac.signal)
        const td = performance.now()
        const src = await doc.page(i, ac.signal)
        // the first page also carries reading and opening the file
        const lead = pages.length === 0 ? td - t0 : 0
        const decode = performance.now() - td + lead
        let page: PageResult
        if (src.kind === 'text') {
          // a PDF page read from its own text layer: nothing rendered, no model run
          const pageTiming: StageTiming = { decode, det: 0, cls: 0, rec: 0, total: decode }
          page = { page: i + 1, width: src.width, height: src.height, rotation: src.rotation, lines: src.lines, source: 'embedded', dpi: src.dpi, timing_ms: roundTiming(pageTiming) }
        } else {
          const img = src.image
          const out = await pipeline.readPage(img, { useCls: job.useCls, signal: ac.signal, words: job.words })
          const pageTiming: StageTiming = { decode, det: out.timing.det, cls: out.timing.cls, rec: out.timing.rec, total: performance.now() - td + lead }
          page = { page: i + 1, width: img.width, height: img.height, rotation: out.rotation, lines: out.lines, source: 'ocr', ...(src.dpi !== undefined ? { dpi: src.dpi } : {}), timing_ms: roundTiming(pageTiming) }
        }
        pages.push(page)
        if (job.progress) port.postMessage({ type: 'page', id: job.id, page, done: pages.length, total: indices.length } satisfies ToMain)
      }
    } finally {
      await doc.close()
    }
    return resultFromPages(pages, performance.now() - t0)
  } finally {
    running.delete(job.id)
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'job') {
    runJob(msg).then(
      (result) => port.postMessage({ type: 'result', id: msg.id, result } satisfies ToMain),
      (err: unknown) => port.postMessage({ type: 'error', id: msg.id, error: serializeError(err) } satisfies ToMain),
    )
  } else if (msg.type === 'assist-run') {
    void help(msg)
  } else if (msg.type === 'assist-start') {
    offers.get(msg.reqId)?.start(msg.helpers)
  } else if (msg.type === 'assist-result') {
    offers.get(msg.reqId)?.result(msg)
  } else if (msg.type === 'assist-end') {
    offers.get(msg.reqId)?.end()
  } else if (msg.type === 'idle') {
    idleWorkers = msg.count
  } else if (msg.type === 'cancel') {
    running.get(msg.id)?.abort()
  } else if (msg.type === 'close') {
    void (async () => {
      for (const b of backends.values()) await b.then((x) => x.dispose()).catch(() => undefined)
      await backendSet.close()
      port.postMessage({ type: 'closed' } satisfies ToMain)
    })()
  }
})

try {
  if (!settings.remote) await warmUp()
  port.postMessage({ type: 'ready' } satisfies ToMain)
} catch (err) {
  port.postMessage({ type: 'init-error', error: serializeError(err) } satisfies ToMain)
}
