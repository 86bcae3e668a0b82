/** Builds the job store the service is configured for: Redis when OCR_REDIS_URL is set, else memory. */
import type { JobsConfig } from '../config.js'
import type { Ocr } from '../engine.js'
import type { Logger } from '../logger.js'
import { MemoryJobStore } from './memory.js'
import { RedisJobStore } from './redis.js'
import type { JobStore } from './store.js'

export function createJobStore(config: JobsConfig, ocr: Ocr, logger: Logger): JobStore {
  const pagesInFlight = config.pagesInFlight > 0 ? config.pagesInFlight : ocr.stats().workers
  const limits = { ttlMs: config.ttlMs, timeoutMs: config.timeoutMs, maxQueued: config.maxQueued, maxStoredBytes: config.maxStoredBytes }
  if (config.redis.url) {
    return new RedisJobStore({ ...limits, ocr, logger, url: config.redis.url, prefix: config.redis.prefix, pagesInFlight, attempts: config.attempts, stallMs: config.stallMs })
  }
  return new MemoryJobStore({ ...limits, ocr, logger, concurrency: config.concurrency, parallelPages: pagesInFlight })
}
