/** Messages between the scheduler (main thread) and pipeline workers. */
import type { EngineSettings } from '../config.js'
import type { SerializedError } from '../errors.js'
import type { LocalModels } from '../inference/factory.js'
import type { PageRange } from '../document/pages.js'
import type { OcrResult, PageResult, PdfTextMode } from '../types.js'

export interface WorkerInit {
  settings: EngineSettings
  threads: number
  index: number
  /** Model bytes prepared once in the main thread (inference/factory.ts prepareLocalModels). */
  models?: LocalModels
}

export interface JobMessage {
  type: 'job'
  id: number
  /** Encoded image bytes (transferred) or a file path read by the worker. */
  input: Uint8Array | string
  useCls: boolean
  /** Pages to read (parsed in the main thread; resolved against the page count in the worker). */
  pages?: PageRange[]
  /** Most pages this job reads after selection (more → TOO_MANY_PAGES). */
  maxPages: number
  dpi: number
  pdfText: PdfTextMode
  /** Send a 'page' message after each page. */
  progress: boolean
}

export type ToWorker = JobMessage | { type: 'cancel'; id: number } | { type: 'close' }

export type ToMain =
  | { type: 'ready' }
  | { type: 'init-error'; error: SerializedError }
  | { type: 'result'; id: number; result: OcrResult }
  | { type: 'page'; id: number; page: PageResult; done: number; total: number }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: object | string; msg?: string | undefined }
  | { type: 'closed' }
