/**
 * PDF input with pdf.js (`pdfjs-dist/legacy/build/pdf.mjs`, the Node build; it runs its parser in
 * this thread, a pipeline worker). Each page is either rendered at a resolution (dpi) with pdf.js's
 * own Node canvas factory (@napi-rs/canvas) into RGB pixels on white for the OCR pipeline, or, when
 * it carries a text layer and the caller allows it (`pdfText`), read from that layer without
 * rendering: text items → lines with boxes in the pixel frame the page would be rendered in.
 *
 * No network and no eval: fonts come from the PDF or from the package's own `standard_fonts/`,
 * CMaps (CJK encodings) from its `cmaps/`, wasm decoders (JPEG 2000, JBIG2) from its `wasm/`.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { OcrError } from '../errors.js'
import type { RgbImage } from '../image/image.js'
import type { PdfTextMode } from '../types.js'
import { embeddedLines, glyphsFromOperators, hasRealText, linesRotation, type TextItemLike, type TextStyleLike } from './text-layer.js'
import type { DocumentPage, OpenedDocument } from './document.js'

/** Lowest resolution a page is rendered at: the floor of the `dpi` option (OCR_PDF_DPI). */
export const MIN_DPI = 36
/** Largest image inside a PDF that is decoded, as a multiple of maxPixels (see openPdf). */
export const EMBEDDED_IMAGE_FACTOR = 2
/** PDF user space is in points: 72 per inch. */
const POINTS_PER_INCH = 72
/** Readers accept junk before the header; like them we look for `%PDF-` in the first KiB. */
const HEADER_WINDOW = 1024
const HEADER = Buffer.from('%PDF-', 'latin1')

/** True when `bytes` holds a PDF header (`%PDF-`) within its first KiB. */
export function isPdf(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, HEADER_WINDOW + HEADER.length)).indexOf(HEADER) >= 0
}

export interface PdfOptions {
  maxPixels: number
  maxPages: number
  dpi: number
  pdfText: PdfTextMode
  /** Pages read from their text layer give their lines' words (OcrLine.words). */
  words?: boolean
}

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs')
type PdfDocumentProxy = Awaited<ReturnType<PdfJs['getDocument']>['promise']>
type PdfPageProxy = Awaited<ReturnType<PdfDocumentProxy['getPage']>>

interface CanvasAndContext {
  canvas: { width: number; height: number }
  context: {
    fillStyle: string
    fillRect(x: number, y: number, w: number, h: number): void
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray }
  }
}
interface CanvasFactory {
  create(width: number, height: number): CanvasAndContext
  destroy(c: CanvasAndContext): void
}

let pdfjsModule: Promise<PdfJs> | null = null
/** pdf.js is loaded on the first PDF (≈0.4 s), not when a worker starts. */
function loadPdfJs(): Promise<PdfJs> {
  pdfjsModule ??= import('pdfjs-dist/legacy/build/pdf.mjs')
  return pdfjsModule
}

/** The package's data folders (standard fonts, CMaps, wasm decoders) as local paths with a trailing slash. */
function pdfjsData(): { standardFontDataUrl: string; cMapUrl: string; wasmUrl: string } {
  const root = dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'))
  const dir = (name: string) => join(root, name) + '/'
  return { standardFontDataUrl: dir('standard_fonts'), cMapUrl: dir('cmaps'), wasmUrl: dir('wasm') }
}

/**
 * Opens a PDF: checks the page count against `maxPages`. Pages are rendered (or their text layer
 * read) one at a time by `page(i)`; `close()` frees the document and must be called.
 * Errors: a password-protected PDF → ENCRYPTED_DOCUMENT; an unreadable one → UNDECODABLE_IMAGE.
 */
export async function openPdf(bytes: Uint8Array, options: PdfOptions): Promise<OpenedDocument> {
  const pdfjs = await loadPdfJs()
  const task = pdfjs.getDocument({
    // a copy: pdf.js transfers (detaches) the ArrayBuffer it is given, which may be shared (a
    // Buffer from Node's pool, a view the caller still holds)
    data: new Uint8Array(bytes),
    ...pdfjsData(),
    cMapPacked: true,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    useWorkerFetch: false,
    isOffscreenCanvasSupported: false,
    // an embedded image over this is not decoded (a decompression bomb: a few KiB of Flate can
    // claim gigapixels). Twice the page limit: a scan is often stored above the resolution it is
    // rendered at (A3 at 600 dpi is 70 MP), and pdf.js scales it down while drawing
    maxImageSize: EMBEDDED_IMAGE_FACTOR * options.maxPixels,
    enableXfa: false,
    verbosity: pdfjs.VerbosityLevel.ERRORS,
  })
  let doc: PdfDocumentProxy
  try {
    doc = await task.promise
  } catch (err) {
    // the load failure is what the caller needs; a failure to tear down the half-open task adds nothing
    await task.destroy().catch(() => undefined)
    throw pdfError(err)
  }
  try {
    // a damaged or empty page tree: pdf.js reports 0 pages
    if (doc.numPages < 1) throw new OcrError('UNDECODABLE_IMAGE', 'PDF has no pages (an empty or damaged page tree)')
    if (doc.numPages > options.maxPages) {
      throw new OcrError('IMAGE_TOO_LARGE', `PDF has ${doc.numPages} pages; the limit is ${options.maxPages}`)
    }
  } catch (err) {
    await task.destroy()
    throw err
  }
  return {
    format: 'pdf',
    pageCount: doc.numPages,
    page: (index, signal) => readPage(doc, index, options, signal),
    close: () => task.destroy(),
  }
}

async function readPage(doc: PdfDocumentProxy, index: number, options: PdfOptions, signal?: AbortSignal): Promise<DocumentPage> {
  let page: PdfPageProxy
  try {
    page = await doc.getPage(index + 1)
  } catch (err) {
    throw pdfError(err, `page ${index + 1}`)
  }
  try {
    const dpi = fitDpi(page, options.dpi, options.maxPixels, index)
    const viewport = page.getViewport({ scale: dpi / POINTS_PER_INCH })
    const width = Math.max(1, Math.round(viewport.width))
    const height = Math.max(1, Math.round(viewport.height))
    if (options.pdfText !== 'ocr') {
      const content = await page.getTextContent().catch((err: unknown) => {
        throw pdfError(err, `page ${index + 1}`)
      })
      const items = content.items.filter((it): it is TextItemLike & (typeof content.items)[number] => 'str' in it)
      if (options.pdfText === 'embedded' || hasRealText(items)) {
        const toPixels = (x: number, y: number): [number, number] => viewport.convertToViewportPoint(x, y) as [number, number]
        // words need each character's place: the glyphs as the operator list draws them
        const glyphs = options.words ? await pageGlyphs(page, index) : undefined
        const lines = embeddedLines(items, content.styles as Record<string, TextStyleLike>, toPixels, width, height, glyphs)
        return { kind: 'text', width, height, dpi, rotation: linesRotation(lines), lines }
      }
    }
    return { kind: 'image', image: await render(doc, page, viewport, width, height, index, signal), dpi }
  } finally {
    page.cleanup()
  }
}

/** Every glyph page `index` draws, from its operator list (see glyphsFromOperators). */
async function pageGlyphs(page: PdfPageProxy, index: number): Promise<ReturnType<typeof glyphsFromOperators>> {
  const { OPS } = await loadPdfJs()
  const list = await page.getOperatorList().catch((err: unknown) => {
    throw pdfError(err, `page ${index + 1}`)
  })
  return glyphsFromOperators(list.fnArray, list.argsArray, OPS)
}

/**
 * The resolution page `index` is rendered at: `dpi`, or the highest whole dpi at which it fits in
 * `maxPixels` (a large-format page is read at a lower resolution rather than refused; the page
 * records the dpi used). A page that does not fit even at MIN_DPI → IMAGE_TOO_LARGE.
 */
export function fitDpi(page: { getViewport(p: { scale: number }): { width: number; height: number } }, dpi: number, maxPixels: number, index: number): number {
  const unit = page.getViewport({ scale: 1 / POINTS_PER_INCH }) // inches
  const pixels = (d: number) => Math.max(1, Math.round(unit.width * d)) * Math.max(1, Math.round(unit.height * d))
  if (pixels(dpi) <= maxPixels) return dpi
  let fit = Math.floor(Math.sqrt(maxPixels / (unit.width * unit.height)))
  while (fit >= MIN_DPI && pixels(fit) > maxPixels) fit--
  if (fit < MIN_DPI) {
    throw new OcrError(
      'IMAGE_TOO_LARGE',
      `PDF page ${index + 1} is ${unit.width.toFixed(1)}×${unit.height.toFixed(1)} in: even at ${MIN_DPI} dpi it has ${pixels(MIN_DPI)} pixels; the limit is ${maxPixels}`,
    )
  }
  return fit
}

async function render(
  doc: PdfDocumentProxy,
  page: PdfPageProxy,
  viewport: ReturnType<PdfPageProxy['getViewport']>,
  width: number,
  height: number,
  index: number,
  signal?: AbortSignal,
): Promise<RgbImage> {
  const factory = doc.canvasFactory as CanvasFactory
  const target = factory.create(width, height)
  try {
    const { canvas, context } = target
    context.fillStyle = '#ffffff'
    context.fillRect(0, 0, width, height)
    const params = { canvas, canvasContext: context, viewport, background: '#ffffff' } as unknown as Parameters<PdfPageProxy['render']>[0]
    const task = page.render(params)
    const onAbort = () => task.cancel()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await task.promise
    } catch (err) {
      if (signal?.aborted) throw new OcrError('CANCELLED', 'job cancelled', { cause: err })
      throw pdfError(err, `page ${index + 1}`)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    const rgba = context.getImageData(0, 0, width, height).data
    const data = new Uint8Array(width * height * 3)
    for (let s = 0, d = 0; s < rgba.length; s += 4, d += 3) {
      data[d] = rgba[s]!
      data[d + 1] = rgba[s + 1]!
      data[d + 2] = rgba[s + 2]!
    }
    return { data, width, height }
  } finally {
    factory.destroy(target)
  }
}

/** pdf.js failures as catalogue errors: a password → ENCRYPTED_DOCUMENT, anything else → UNDECODABLE_IMAGE. */
function pdfError(err: unknown, where = 'PDF'): OcrError {
  if (err instanceof OcrError) return err
  const e = err as { name?: string; message?: string }
  if (e?.name === 'PasswordException') {
    return new OcrError('ENCRYPTED_DOCUMENT', 'the PDF is encrypted with a password; ocrserve reads only PDFs that open without one', { cause: err })
  }
  return new OcrError('UNDECODABLE_IMAGE', `${where === 'PDF' ? 'PDF' : `PDF ${where}`} cannot be read: ${e?.message ?? String(err)}`, { cause: err })
}
