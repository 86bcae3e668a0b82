/** The public engine interface returned by createOcr(). */
import type { EngineSettings } from './config.js'
import type { EngineStats, ImageInput, OcrResult, ReadOptions } from './types.js'

export interface Ocr {
  readonly settings: EngineSettings
  /** OCR one image (Buffer of an encoded image, or a file path). Rejects with OcrError. */
  read(input: ImageInput, options?: ReadOptions): Promise<OcrResult>
  /** True when models are loaded and warmed up (remote: the model server reports ready). */
  ready(): Promise<boolean>
  stats(): EngineStats
  /** Stop taking jobs, let running ones finish, terminate workers and release sessions. */
  close(): Promise<void>
}
