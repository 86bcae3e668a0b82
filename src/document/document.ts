/**
 * One page model for every input: a plain image (one page), a multi-page TIFF, a PDF. A document
 * is opened once (header, page count and limits checked), then its pages are produced one at a
 * time, so a long document never sits in memory whole.
 */
import { readFile } from 'node:fs/promises'
import { OcrError } from '../errors.js'
import { isBmp } from '../image/bmp.js'
import { openImage, sniffFormat } from '../image/decode.js'
import type { RgbImage } from '../image/image.js'
import type { OcrLine, PdfTextMode } from '../types.js'
import { isPdf, openPdf } from './pdf.js'

/** A page to OCR (pixels), or a PDF page read from its own text layer (lines, no pixels). */
export type DocumentPage =
  | { kind: 'image'; image: RgbImage; /** PDF pages: the resolution rendered at. */ dpi?: number }
  | { kind: 'text'; width: number; height: number; dpi: number; rotation: number; lines: OcrLine[] }

export interface OpenedDocument {
  format: string
  pageCount: number
  /** Page `index` (0-based); a PDF render stops early when `signal` fires. */
  page(index: number, signal?: AbortSignal): Promise<DocumentPage>
  /** Frees what the document holds (pdf.js documents); call it in `finally`. */
  close(): Promise<void>
}

export interface OpenOptions {
  maxPixels: number
  maxPages: number
  dpi: number
  pdfText: PdfTextMode
  /** PDF pages read from their text layer give their lines' words (OcrLine.words). */
  words?: boolean
}

/** The bytes of an input given by path; an unreadable file is NOT_FOUND naming the path and why. */
export async function readInputFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path)
  } catch (err) {
    throw new OcrError('NOT_FOUND', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
}

/** Whether openDocument reads `bytes` as a PDF: no image signature, and a `%PDF-` header near the start. */
export function isPdfDocument(bytes: Uint8Array): boolean {
  return !sniffFormat(bytes) && !isBmp(bytes) && isPdf(bytes)
}

/**
 * Opens `bytes` as an image (sharp, BMP) when they start with an image signature, else as a PDF
 * when a `%PDF-` header is near the start, else as an image (whose decoder names the problem).
 */
export async function openDocument(bytes: Uint8Array, options: OpenOptions): Promise<OpenedDocument> {
  if (isPdfDocument(bytes)) return openPdf(bytes, options)
  const image = await openImage(bytes, { maxPixels: options.maxPixels, maxPages: options.maxPages })
  return {
    format: image.format,
    pageCount: image.pageCount,
    page: async (index) => ({ kind: 'image', image: await image.page(index) }),
    close: async () => undefined,
  }
}
