/**
 * Worker-thread entry: owns the backends (ONNX sessions or a remote client) and runs jobs (decode →
 * pipeline for each page selected: a whole document, or one page of a read split over workers; or
 * only the list of pages a read selects) so that no inference or pixel work touches the main thread.
 * Protocol: see ./messages.ts.
 */
import { setPriority } from 'node:os'
import { checkCancelled, OcrError, serializeError } from '../errors.js'
import { selectPages } from '../document/pages.js'
import { openDocument, readInputFile } from '../document/document.js'
import { resultFromPages, roundTiming } from '../document/result.js'
import type { Backend } from '../inference/backend.js'
import { packRoles, type PackRole, type PackSpec } from '../packs/spec.js'
import { createBackendSet, modelKey } from './backends.js'
import type { OcrResult, PageResult, StageTiming } from '../types.js'
import { hosted } from '../workers/hosted.js'
import { Pipeline } from './pipeline.js'
import { WorkerAssist } from './assist.js'
import type { JobMessage, ToMain, ToWorker, WorkerInit } from './messages.js'

const host = hosted<WorkerInit, ToWorker, ToMain>()
const { init, logger } = host

// Inference threads yield to the main thread: on Linux this lowers only this thread, and the ONNX
// Runtime threads created after it inherit the priority, so /healthz and /metrics stay prompt when
// the CPU is saturated (healthz p95 23-36 ms -> 8-10 ms measured at load ~5).
try {
  setPriority(0, 10)
} catch {
  // not permitted on this platform: run at normal priority
}

const settings = init.settings
const backendSet = await createBackendSet({ settings, threads: init.threads, logger, ...(init.models ? { models: init.models } : {}) })
// the backend set holds the model bytes until each session is made; workerData need not keep them
delete init.models
/** The packs by name; the first is the default, loaded and warmed up before the worker says ready. */
const packs = new Map(init.packs.map((p) => [p.name, p]))
const defaultPack = init.packs[0]!
function packOf(name: string): PackSpec {
  const pack = packs.get(name)
  if (!pack) throw new OcrError('INTERNAL', `no model pack "${name}" in this worker`)
  return pack
}
/**
 * A pack's backend of a role, made on its first use in this worker (a service with ten packs loads
 * what it is asked for); a failed creation (model server down) is dropped, so the next job tries again.
 */
const backends = new Map<string, Promise<Backend>>()
function backend(pack: string, role: PackRole): Promise<Backend> {
  const key = modelKey(pack, role)
  let b = backends.get(key)
  if (!b) {
    b = backendSet.factory(packOf(pack), role)
    backends.set(key, b)
    b.catch(() => backends.delete(key))
  }
  return b
}

const running = new Map<number, AbortController>()
// idle workers help with this worker's classifier and recogniser calls while it has a job (assist.ts)
const assist = init.assist
  ? new WorkerAssist((msg, transfer) => host.post(msg, transfer), { local: backend, loaded: (pack, role) => backends.get(modelKey(pack, role)) }, () => running.size > 0, logger)
  : null
const pipelineBackend =
  (pack: string) =>
  (role: PackRole): Promise<Backend> =>
    assist && (role === 'cls' || role === 'rec') ? assist.backend(pack, role) : backend(pack, role)

/** One pipeline per pack, made on its first job. */
const pipelines = new Map<string, Pipeline>()
function pipelineOf(name: string): Pipeline {
  let p = pipelines.get(name)
  if (!p) {
    p = new Pipeline(pipelineBackend(name), packOf(name), settings)
    pipelines.set(name, p)
  }
  return p
}

async function warmUp(): Promise<void> {
  // one small page through every stage: loads the sessions and lets ORT allocate its arenas
  const w = 160
  const h = 48
  const data = new Uint8Array(w * h * 3).fill(255)
  for (let y = 18; y < 30; y++) for (let x = 20; x < 140; x++) data.set([0, 0, 0], (y * w + x) * 3)
  await Promise.all(packRoles(defaultPack).map((role) => backend(defaultPack.name, role)))
  await pipelineOf(defaultPack.name).readPage({ data, width: w, height: h }, { useCls: true })
}

/** The bytes of a job's input: a file read here, or ours (copied out of shared memory, which the decoders refuse). */
async function inputBytes(input: Uint8Array | string): Promise<Uint8Array> {
  if (typeof input === 'string') return readInputFile(input)
  return input.buffer instanceof SharedArrayBuffer ? new Uint8Array(input) : input
}

/** A whole read, or (job.plan) the 0-based pages it would read. */
async function runJob(job: JobMessage): Promise<OcrResult | number[]> {
  const ac = new AbortController()
  running.set(job.id, ac)
  try {
    const t0 = performance.now()
    const bytes = await inputBytes(job.input)
    // pages are decoded (a PDF: rendered or read from its text layer) one at a time, so a long
    // document never sits in memory whole
    const doc = await openDocument(bytes, { maxPixels: settings.maxPixels, maxPages: settings.maxPages, dpi: job.dpi, pdfText: job.pdfText, words: job.words })
    const pages: PageResult[] = []
    try {
      const indices = selectPages(job.pages, doc.pageCount)
      if (indices.length > job.maxPages) {
        throw new OcrError('TOO_MANY_PAGES', `the document has ${indices.length} pages to read; this call reads at most ${job.maxPages}`)
      }
      if (job.plan) return indices
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
          const out = await pipelineOf(job.model).readPage(img, { useCls: job.useCls, signal: ac.signal, words: job.words })
          const pageTiming: StageTiming = { decode, det: out.timing.det, cls: out.timing.cls, rec: out.timing.rec, total: performance.now() - td + lead }
          page = { page: i + 1, width: img.width, height: img.height, rotation: out.rotation, lines: out.lines, source: 'ocr', ...(src.dpi !== undefined ? { dpi: src.dpi } : {}), timing_ms: roundTiming(pageTiming) }
        }
        pages.push(page)
        if (job.progress) host.post({ type: 'page', id: job.id, page, done: pages.length, total: indices.length })
      }
    } finally {
      await doc.close()
    }
    return resultFromPages(job.model, pages, performance.now() - t0)
  } finally {
    running.delete(job.id)
  }
}

host.serve({
  async load() {
    if (!settings.remote) await warmUp()
    return undefined
  },
  onMessage(msg) {
    switch (msg.type) {
      case 'job':
        runJob(msg).then(
          (out) => host.post(Array.isArray(out) ? { type: 'planned', id: msg.id, pages: out } : { type: 'result', id: msg.id, result: out }),
          (err: unknown) => host.post({ type: 'error', id: msg.id, error: serializeError(err) }),
        )
        return
      case 'cancel':
        running.get(msg.id)?.abort()
        return
      default:
        assist?.handle(msg)
    }
  },
  async release() {
    for (const b of backends.values()) await b.then((x) => x.dispose()).catch(() => undefined)
    await backendSet.close()
  },
})
