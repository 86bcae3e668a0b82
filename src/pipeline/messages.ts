/** Messages between the scheduler (main thread) and pipeline workers. */
import type { EngineSettings } from '../config.js'
import type { SerializedError } from '../errors.js'
import type { OcrResult } from '../types.js'

export interface WorkerInit {
  settings: EngineSettings
  threads: number
  index: number
}

export interface JobMessage {
  type: 'job'
  id: number
  /** Encoded image bytes (transferred) or a file path read by the worker. */
  input: Uint8Array | string
  useCls: boolean
}

export type ToWorker = JobMessage | { type: 'cancel'; id: number } | { type: 'close' }

export type ToMain =
  | { type: 'ready' }
  | { type: 'init-error'; error: SerializedError }
  | { type: 'result'; id: number; result: OcrResult }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: object | string; msg?: string | undefined }
  | { type: 'closed' }
