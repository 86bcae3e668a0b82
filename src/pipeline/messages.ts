/**
 * Messages between the scheduler (main thread) and pipeline workers, beside the worker host's own
 * (start, logs, close: workers/host.ts). Idle-worker help's messages are assist.ts's.
 */
import type { EngineSettings } from '../config.js'
import type { SerializedError } from '../errors.js'
import type { LocalModels } from './backends.js'
import type { PageRange } from '../document/pages.js'
import type { PackSpec } from '../packs/spec.js'
import type { OcrResult, PageResult, PdfTextMode } from '../types.js'
import type { AssistToMain, AssistToWorker } from './assist.js'

export interface WorkerInit {
  settings: EngineSettings
  threads: number
  index: number
  /** The model packs, the default first (src/packs/spec.ts). */
  packs: PackSpec[]
  /** The default pack's model bytes, prepared once in the main thread (backends.ts prepareLocalModels). */
  models?: LocalModels
  /** Workers with no job help busy ones with their classifier and recogniser calls (assist.ts). */
  assist: boolean
}

export interface JobMessage {
  type: 'job'
  id: number
  /** Encoded image bytes (transferred) or a file path read by the worker. */
  input: Uint8Array | string
  /** The pack that reads it (a name from WorkerInit.packs). */
  model: string
  useCls: boolean
  /** Pages to read (parsed in the main thread; resolved against the page count in the worker). */
  pages?: PageRange[]
  /** Most pages this job reads after selection (more → TOO_MANY_PAGES). */
  maxPages: number
  dpi: number
  pdfText: PdfTextMode
  /** Send a 'page' message after each page. */
  progress: boolean
  /** Only open the document and list the pages it would read (answered with 'planned'). */
  plan?: boolean
  /** Give each line its words (OcrLine.words). */
  words: boolean
}

export type ToWorker = JobMessage | { type: 'cancel'; id: number } | AssistToWorker

export type ToMain =
  | { type: 'result'; id: number; result: OcrResult }
  /** A plan job's answer: the 0-based pages the read selects, in order. */
  | { type: 'planned'; id: number; pages: number[] }
  | { type: 'page'; id: number; page: PageResult; done: number; total: number }
  | { type: 'error'; id: number; error: SerializedError }
  | AssistToMain
