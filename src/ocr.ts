/**
 * The composition root: settings → worker pool (each worker: backends → pipeline) → the Ocr face.
 */
import { MAX_PAGES_LIMIT, parseEngineSettings, PDF_DPI_RANGE, PDF_TEXT_MODES, resolveParallelism, type EngineSettingsInput } from './config.js'
import type { EngineStats, Ocr } from './engine.js'
import { OcrError } from './errors.js'
import { createBackendSet, prepareLocalModels } from './inference/factory.js'
import { silentLogger, type Logger } from './logger.js'
import { parsePageRanges } from './document/pages.js'
import { Scheduler, type JobSpec } from './pipeline/scheduler.js'
import type { ImageInput, OcrResult, ReadOptions } from './types.js'

export interface CreateOcrOptions extends EngineSettingsInput {
  logger?: Logger
}

/** A per-call numeric option: the default when absent, BAD_REQUEST when not an integer in range. */
function checkLimit(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min || value > max) throw new OcrError('BAD_REQUEST', `${name} must be an integer from ${min} to ${max}, got ${value}`)
  return value
}

export async function createOcr(options: CreateOcrOptions = {}): Promise<Ocr> {
  const { logger = silentLogger, ...input } = options
  const settings = parseEngineSettings(input)
  const { workers, threadsPerWorker } = resolveParallelism(settings)
  // readiness of a remote model server is checked from the main thread with its own client
  const probe = settings.remote ? await createBackendSet({ settings, threads: 1, logger }) : null
  // read (and rewrite) the models once, for every worker and every replacement of one
  const models = await prepareLocalModels(settings, logger)
  // idle workers help busy ones with their own sessions: single mode only (a model server already
  // shares a page's calls among its instances, OCR_REMOTE_CALLS_IN_FLIGHT)
  const assist = settings.idleAssist && !settings.remote && workers > 1
  const scheduler = new Scheduler({
    size: workers,
    maxQueue: settings.maxQueue,
    logger,
    assist,
    init: (index) => ({ settings, threads: threadsPerWorker, index, assist, ...(models ? { models } : {}) }),
  })
  await scheduler.start()
  logger.info({ workers, threadsPerWorker, device: settings.device, remote: settings.remote?.url ?? null }, 'ocr engine ready')
  let closed = false

  return {
    settings,
    read(input: ImageInput, opts: ReadOptions = {}): Promise<OcrResult> {
      if (closed) return Promise.reject(new OcrError('SHUTTING_DOWN', 'the engine is closed'))
      if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
        return Promise.reject(new OcrError('BAD_REQUEST', 'input must be a Buffer/Uint8Array of an encoded image or a file path'))
      }
      let spec: JobSpec
      try {
        spec = {
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
      } catch (err) {
        return Promise.reject(err)
      }
      return scheduler.submit(input, spec, {
        timeoutMs: opts.timeoutMs ?? settings.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onPage ? { onPage: opts.onPage } : {}),
        ...(opts.priority ? { priority: opts.priority } : {}),
      })
    },
    async ready(): Promise<boolean> {
      if (closed) return false
      if (!probe) return scheduler.stats().workers > 0
      try {
        return await probe.ready()
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
