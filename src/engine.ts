/** The public engine interface returned by createOcr(). */
import type { EngineSettings } from './config.js'
import type { ModelPackInfo } from './packs/index.js'
import type { EngineStats, ImageInput, OcrResult, PageNumbersOptions, ReadOptions } from './types.js'

export interface Ocr {
  readonly settings: EngineSettings
  /** The model packs, the default first (GET /v1/models). */
  readonly models: readonly ModelPackInfo[]
  /** The pack a read with `model` uses (the default when undefined); UNKNOWN_MODEL listing the packs otherwise. */
  resolveModel(model: string | undefined): string
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
