/** A point in source-image pixels: [x, y]. */
export type Point = [number, number]
/** Four points, clockwise from the text's own top-left corner. */
export type Quad = [Point, Point, Point, Point]

/** A word: a run of Latin letters/digits (with the punctuation attached to it) between spaces, or one CJK character. */
export interface OcrWord {
  text: string
  /** Clockwise from the word's own top-left corner, in pixels of the image as given. */
  box: Quad
  /** Mean of its characters' probabilities (0..1). */
  score: number
}

export interface OcrLine {
  /** The line's text: words separated by single spaces (none between CJK characters). */
  text: string
  /** Mean max-probability of the CTC steps kept (0..1). */
  score: number
  box: Quad
  /** The line's words, when asked for (ReadOptions.words); joined with the line's spacing they give `text`. */
  words?: OcrWord[]
}

export interface StageTiming {
  decode: number
  det: number
  cls: number
  rec: number
  total: number
}

/** Where a page's lines came from: OCR, or a PDF page's own text layer (`pdfText: auto|embedded`). */
export type PageSource = 'ocr' | 'embedded'

export interface PageResult {
  /** 1-based page number in the input document (a page range keeps the original numbers). */
  page: number
  /** Page size in pixels: the decoded image, or a PDF page rendered at `dpi`. */
  width: number
  height: number
  /** Clockwise rotation (degrees) the engine applied to read the page: 0, 90, 180 or 270. */
  rotation: number
  lines: OcrLine[]
  source: PageSource
  /** PDF pages only: the resolution the page was rendered at (pixels per inch). */
  dpi?: number
  timing_ms: StageTiming
}

export interface OcrResult {
  /** The model pack that read it (OCR_MODELS; `builtin`: the shipped models). */
  model: string
  width: number
  height: number
  /** Rotation applied to the first page (see PageResult.rotation). */
  rotation: number
  /** The first page's lines (width, height and rotation above are also the first page's): a shorthand for single images. */
  lines: OcrLine[]
  /** Every page read, in order: one entry for a plain image, one per page for a TIFF or PDF. */
  pages: PageResult[]
  /** Whole-job totals over all pages. */
  timing_ms: StageTiming
}

export type ImageInput = Buffer | Uint8Array | string

/** How PDF pages are read: their own text layer when they have one (auto), always OCR, or never OCR. */
export type PdfTextMode = 'auto' | 'ocr' | 'embedded'

/**
 * Progress of a multi-page read: called once per finished page, in page order (with
 * `parallelPages` > 1, in the order the pages finish; `done` counts them).
 */
export type PageCallback = (page: PageResult, progress: { done: number; total: number }) => void

export interface ReadOptions {
  signal?: AbortSignal
  /** The model pack to read with, by name (default: the engine's first pack). Unknown → UNKNOWN_MODEL. */
  model?: string
  /** Run the 0/180 angle classifier (default: settings.useCls). */
  cls?: boolean
  /** Per-job timeout in ms (default: settings.timeoutMs). */
  timeoutMs?: number
  /** Pages of a document to read: "1-3,7", "5-" (1-based; default all). Malformed or past the end → BAD_PAGE_RANGE. */
  pages?: string
  /** Most pages this call reads, after `pages` selection; more → TOO_MANY_PAGES (default: settings.maxPages). */
  maxPages?: number
  /** PDF render resolution in dots per inch (default: settings.pdfDpi). */
  dpi?: number
  /** PDF pages with a text layer: use it (auto, default settings.pdfText), OCR anyway (ocr), or never OCR (embedded). */
  pdfText?: PdfTextMode
  /** Called after each page is read (multi-page documents: progress for long jobs). */
  onPage?: PageCallback
  /** `batch` jobs wait behind every `interactive` one in the queue (default interactive). */
  priority?: 'interactive' | 'batch'
  /**
   * Pages of a document read at once, each by a different worker (default 1: one worker reads the
   * pages in order). Above 1 one worker first opens the document and lists its pages, then every
   * page is a task of its own that a free worker takes, in page order; interactive reads still go
   * first at each page. Results are the same either way.
   */
  parallelPages?: number
  /** Give every line of every page its words with their boxes (OcrLine.words); default false. */
  words?: boolean
}

/** Ocr.stats(): the engine's workers and jobs. */
export interface EngineStats {
  /** Worker threads (one being replaced after a crash still counts). */
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

/** What pageNumbers() takes: read()'s options that decide which pages are read, and the queueing ones. */
export type PageNumbersOptions = Pick<ReadOptions, 'signal' | 'timeoutMs' | 'pages' | 'maxPages' | 'priority'>
