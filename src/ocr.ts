/**
 * The composition root: settings → worker pool (each worker: backends → pipeline) → the Ocr face.
 */
import { MAX_PAGES_LIMIT, parseEngineSettings, PDF_DPI_RANGE, PDF_TEXT_MODES, resolveParallelism, type EngineSettingsInput } from './config.js'
import type { Ocr } from './engine.js'
import { OcrError, toOcrError } from './errors.js'
import { createBackendSet, prepareLocalModels } from './pipeline/backends.js'
import { silentLogger, type Logger } from './logger.js'
import { parsePageRanges } from './document/pages.js'
import { loadEnginePacks, packInfo } from './packs/index.js'
import type { WorkerInit } from './pipeline/messages.js'
import { Scheduler, type JobSpec } from './pipeline/scheduler.js'
import type { EngineStats, ImageInput, OcrResult, PageNumbersOptions, ReadOptions } from './types.js'
import type { WorkerFactory } from './workers/host.js'

export interface CreateOcrOptions extends EngineSettingsInput {
  logger?: Logger
}

/** Most pages one read may have in flight at once (more than any machine has workers). */
const MAX_PARALLEL_PAGES = 256

/** A per-call numeric option: the default when absent, BAD_REQUEST when not an integer in range. */
function checkLimit(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min || value > max) throw new OcrError('BAD_REQUEST', `${name} must be an integer from ${min} to ${max}, got ${value}`)
  return value
}

export function createOcr(options: CreateOcrOptions = {}): Promise<Ocr> {
  return createEngine(options)
}

/** How an engine's parts are made, where tests replace one (not on the library face, index.ts). */
export interface EngineParts {
  /** Makes the pipeline worker threads (default: scheduler.ts pipelineThreads). */
  workers?: WorkerFactory<WorkerInit>
}

/** createOcr() with some of its parts replaced. */
export async function createEngine(options: CreateOcrOptions = {}, parts: EngineParts = {}): Promise<Ocr> {
  const { logger = silentLogger, ...input } = options
  const settings = parseEngineSettings(input)
  const { workers, threadsPerWorker } = resolveParallelism(settings)
  // every pack is read and checked before anything starts: nothing is served half-configured
  const packs = await loadEnginePacks(settings)
  const defaultPack = packs[0]!
  const names = packs.map((p) => p.name)
  // readiness of a remote model server is checked from the main thread with its own client
  const probe = settings.remote ? await createBackendSet({ settings, threads: 1, logger }) : null
  // read (and rewrite) the default pack's models once, for every worker and every replacement of
  // one; the other packs' are read by a worker when it first reads with them
  const models = await prepareLocalModels(settings, defaultPack, logger)
  // idle workers help busy ones with their own sessions: single mode only (a model server already
  // shares a page's calls among its instances, OCR_REMOTE_CALLS_IN_FLIGHT)
  const assist = settings.idleAssist && !settings.remote && workers > 1
  const scheduler = new Scheduler({
    size: workers,
    maxQueue: settings.maxQueue,
    logger,
    assist,
    init: (index) => ({ settings, packs, threads: threadsPerWorker, index, assist, ...(models ? { models } : {}) }),
    ...(parts.workers ? { workers: parts.workers } : {}),
  })
  await scheduler.start()
  logger.info({ workers, threadsPerWorker, device: settings.device, remote: settings.remote?.url ?? null, models: names }, 'ocr engine ready')
  let closed = false
  const resolveModel = (name: string | undefined): string => {
    if (name === undefined) return defaultPack.name
    if (!names.includes(name)) throw new OcrError('UNKNOWN_MODEL', `unknown model "${name}"; this service has ${names.join(', ')}`)
    return name
  }

  /** The job spec of a call's options; throws BAD_REQUEST for a value out of range, UNKNOWN_MODEL for an unknown pack. */
  const specOf = (opts: ReadOptions): JobSpec => {
    const spec: JobSpec = {
      model: resolveModel(opts.model),
      useCls: opts.cls ?? settings.useCls,
      maxPages: checkLimit('maxPages', opts.maxPages, settings.maxPages, 1, MAX_PAGES_LIMIT),
      dpi: checkLimit('dpi', opts.dpi, settings.pdfDpi, PDF_DPI_RANGE.min, PDF_DPI_RANGE.max),
      pdfText: opts.pdfText ?? settings.pdfText,
      progress: opts.onPage !== undefined,
      words: opts.words ?? false,
      ...(opts.pages !== undefined ? { pages: parsePageRanges(opts.pages) } : {}),
    }
    if (!PDF_TEXT_MODES.includes(spec.pdfText)) throw new OcrError('BAD_REQUEST', `pdfText must be one of ${PDF_TEXT_MODES.join(', ')}`)
    if (typeof spec.words !== 'boolean') throw new OcrError('BAD_REQUEST', 'words must be true or false')
    return spec
  }
  /** The input and spec of a call, or the reason it is refused before any work. */
  const accept = (input: ImageInput, opts: ReadOptions): { spec: JobSpec } | { refused: OcrError } => {
    if (closed) return { refused: new OcrError('SHUTTING_DOWN', 'the engine is closed') }
    if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
      return { refused: new OcrError('BAD_REQUEST', 'input must be a Buffer/Uint8Array of an encoded image or a file path') }
    }
    try {
      checkLimit('parallelPages', opts.parallelPages, 1, 1, MAX_PARALLEL_PAGES)
      return { spec: specOf(opts) }
    } catch (err) {
      return { refused: toOcrError(err) }
    }
  }
  const queueing = (opts: ReadOptions) => ({
    timeoutMs: opts.timeoutMs ?? settings.timeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.priority ? { priority: opts.priority } : {}),
  })

  return {
    settings,
    models: packs.map((p) => packInfo(p, p === defaultPack)),
    resolveModel,
    read(input: ImageInput, opts: ReadOptions = {}): Promise<OcrResult> {
      const a = accept(input, opts)
      if ('refused' in a) return Promise.reject(a.refused)
      return scheduler.submit(input, a.spec, {
        ...queueing(opts),
        ...(opts.onPage ? { onPage: opts.onPage } : {}),
        ...(opts.parallelPages !== undefined ? { parallelPages: opts.parallelPages } : {}),
      })
    },
    async pageNumbers(input: ImageInput, opts: PageNumbersOptions = {}): Promise<number[]> {
      const a = accept(input, opts)
      if ('refused' in a) throw a.refused
      const indices = await scheduler.pageIndices(input, a.spec, queueing(opts))
      return indices.map((i) => i + 1)
    },
    async ready(): Promise<boolean> {
      if (closed) return false
      if (!probe) return scheduler.stats().workers > 0
      try {
        return await probe.ready(defaultPack)
      } catch {
        return false
      }
    },
    stats(): EngineStats {
      return scheduler.stats()
    },
    async close(): Promise<void> {
      if (closed) return
      closed = true
      await scheduler.close()
      await probe?.close()
    },
  }
}
