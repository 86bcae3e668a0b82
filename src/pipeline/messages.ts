/** Messages between the scheduler (main thread) and pipeline workers. */
import type { EngineSettings } from '../config.js'
import type { SerializedError } from '../errors.js'
import type { Feeds, Tensor } from '../inference/backend.js'
import type { LocalModels } from '../inference/factory.js'
import type { PageRange } from '../document/pages.js'
import type { OcrResult, PageResult, PdfTextMode } from '../types.js'

export interface WorkerInit {
  settings: EngineSettings
  threads: number
  index: number
  /** Model bytes prepared once in the main thread (inference/factory.ts prepareLocalModels). */
  models?: LocalModels
  /** Workers with no job help busy ones with their classifier and recogniser calls (assist.ts). */
  assist: boolean
}

/** The networks whose calls an idle worker may run for a busy one. */
export type AssistRole = 'cls' | 'rec'

/**
 * A busy worker's calls, offered to idle workers: each of them (and the busy worker) takes the
 * next call by incrementing `next[0]` (a SharedArrayBuffer) until it reaches calls.length.
 */
export interface SharedCalls {
  role: AssistRole
  calls: Feeds[]
  outputs?: string[] | undefined
  next: Int32Array
}

/** One call's outputs (or error), run by a helper. */
export interface AssistOutcome {
  index: number
  outputs?: Record<string, Tensor>
  error?: SerializedError
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
  /** Give each line its words (OcrLine.words). */
  words: boolean
}

export type ToWorker =
  | JobMessage
  | { type: 'cancel'; id: number }
  | { type: 'close' }
  /** How many workers have no job now (sent when it changes). */
  | { type: 'idle'; count: number }
  /** Help with another worker's calls (answer each with 'assist-done', then 'assist-end'). */
  | ({ type: 'assist-run'; id: number } & SharedCalls)
  /** To the worker that offered calls `reqId`: how many helpers took them (0: run them all here)… */
  | { type: 'assist-start'; reqId: number; helpers: number }
  /** …each call a helper ran… */
  | ({ type: 'assist-result'; reqId: number } & AssistOutcome)
  /** …and each helper that stopped taking calls (done, got a job, or exited). */
  | { type: 'assist-end'; reqId: number }

export type ToMain =
  | { type: 'ready' }
  | { type: 'init-error'; error: SerializedError }
  | { type: 'result'; id: number; result: OcrResult }
  | { type: 'page'; id: number; page: PageResult; done: number; total: number }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: object | string; msg?: string | undefined }
  | { type: 'closed' }
  /** Offer calls to idle workers. */
  | ({ type: 'assist'; reqId: number } & SharedCalls)
  | ({ type: 'assist-done'; id: number } & AssistOutcome)
  | { type: 'assist-end'; id: number }
