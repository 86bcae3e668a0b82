/**
 * The composition root: settings → worker pool (each worker: backends → pipeline) → the Ocr face.
 */
import { parseEngineSettings, resolveParallelism, type EngineSettingsInput } from './config.js'
import type { EngineStats, Ocr } from './engine.js'
import { OcrError } from './errors.js'
import { createBackendSet } from './inference/factory.js'
import { silentLogger, type Logger } from './logger.js'
import { Scheduler } from './pipeline/scheduler.js'
import type { ImageInput, OcrResult, ReadOptions } from './types.js'

export interface CreateOcrOptions extends EngineSettingsInput {
  logger?: Logger
}

export async function createOcr(options: CreateOcrOptions = {}): Promise<Ocr> {
  const { logger = silentLogger, ...input } = options
  const settings = parseEngineSettings(input)
  const { workers, threadsPerWorker } = resolveParallelism(settings)
  // readiness of a remote model server is checked from the main thread with its own client
  const probe = settings.remote ? await createBackendSet({ settings, threads: 1, logger }) : null
  const scheduler = new Scheduler({
    size: workers,
    maxQueue: settings.maxQueue,
    logger,
    init: (index) => ({ settings, threads: threadsPerWorker, index }),
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
      return scheduler.submit(input, opts.cls ?? settings.useCls, {
        timeoutMs: opts.timeoutMs ?? settings.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
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
