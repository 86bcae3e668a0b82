/** The public engine interface returned by createOcr(). */
import type { EngineSettings } from './config.js'
import type { ImageInput, OcrResult, PageNumbersOptions, ReadOptions } from './types.js'

export interface EngineStats {
  workers: number
  /** Jobs waiting for a worker. */
  queued: number
  /** Jobs running on a worker. */
  running: number
  completed: number
  failed: number
  /** Cumulative milliseconds each worker spent running jobs. */
  busyMs: number[]
  /** Pages each worker has read (a plain image is one page). */
  pagesRead: number[]
  /**
   * Batch-priority work: tasks waiting for a worker and tasks on one. A task is a whole read, or
   * the page list or one page of a read split over workers (`parallelPages`).
   */
  batch: { waiting: number; running: number }
  /** Classifier and recogniser calls idle workers ran for busy ones (single mode; pipeline/assist.ts). */
  assistRuns: number
}

export interface Ocr {
  readonly settings: EngineSettings
  /** OCR one image (Buffer of an encoded image, or a file path). Rejects with OcrError. */
  read(input: ImageInput, options?: ReadOptions): Promise<OcrResult>
  /**
   * The 1-based numbers of the pages `read(input, options)` would read: the document is opened
   * in a worker and `pages` resolved against it (the same errors as read: UNSUPPORTED_MEDIA,
   * UNDECODABLE_IMAGE, BAD_PAGE_RANGE, TOO_MANY_PAGES, IMAGE_TOO_LARGE past maxPages); nothing is
   * decoded or read.
   */
  pageNumbers(input: ImageInput, options?: PageNumbersOptions): Promise<number[]>
  /** True when models are loaded and warmed up (remote: the model server reports ready). */
  ready(): Promise<boolean>
  stats(): EngineStats
  /** Stop taking jobs, let running ones finish, terminate workers and release sessions. */
  close(): Promise<void>
}
