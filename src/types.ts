/** A point in source-image pixels: [x, y]. */
export type Point = [number, number]
/** Four points, clockwise from the text's own top-left corner. */
export type Quad = [Point, Point, Point, Point]

export interface OcrLine {
  text: string
  /** Mean max-probability of the CTC steps kept (0..1). */
  score: number
  box: Quad
}

export interface StageTiming {
  decode: number
  det: number
  cls: number
  rec: number
  total: number
}

export interface PageResult {
  page: number
  width: number
  height: number
  /** Clockwise rotation (degrees) the engine applied to read the page: 0, 90, 180 or 270. */
  rotation: number
  lines: OcrLine[]
}

export interface OcrResult {
  width: number
  height: number
  /** Rotation applied to the first page (see PageResult.rotation). */
  rotation: number
  lines: OcrLine[]
  /** Present only for multi-page inputs (multi-page TIFF): one entry per page, `lines` above = page 1. */
  pages?: PageResult[]
  timing_ms: StageTiming
}

export type ImageInput = Buffer | Uint8Array | string

export interface ReadOptions {
  signal?: AbortSignal
  /** Run the 0/180 angle classifier (default: settings.useCls). */
  cls?: boolean
  /** Per-job timeout in ms (default: settings.timeoutMs). */
  timeoutMs?: number
}
