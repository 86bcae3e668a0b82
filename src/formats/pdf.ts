/**
 * Searchable PDF: each page image with an invisible, selectable text layer on the detected lines —
 * the technique of Tesseract's pdfrenderer.cpp and OCRmyPDF. The text is drawn in render mode 3
 * (neither filled nor stroked) with a glyph-less TrueType font (glyphless-font.ts) embedded as a
 * Type0 / CIDFontType2 font with Identity-H encoding: each character, at each width the layer
 * needs, gets its own 2-byte code (CID) whose advance the /W array gives, the CIDToGIDMap sends
 * every CID to the one blank glyph, and a ToUnicode CMap maps each CID back to its code point
 * (astral characters as UTF-16 surrogate pairs), so CJK and any Unicode text copies out exactly.
 *
 * The text layer itself (pdf-text.ts) lays each word's text over the word's own box, and wraps the
 * lines poppler would cut (tilted ones, mostly) in ActualText so pdftotext reads them whole and in
 * order.
 *
 * Sources: a PDF (its pages copied; a text layer added to pages whose `source` is 'ocr'), a JPEG
 * or PNG (embedded as is when it needs no EXIF rotation), a multi-page TIFF (one PDF page per
 * page) or any other image ocrserve reads (decoded, then PNG; JPEGs needing rotation are
 * re-encoded as JPEG).
 */
import { PDFDocument, PDFString, type PDFImage, type PDFPage, type PDFRef } from 'pdf-lib'
import sharp, { type Metadata } from 'sharp'
import { isPdfDocument } from '../document/document.js'
import { OcrError } from '../errors.js'
import { isBmp } from '../image/bmp.js'
import { openImage } from '../image/decode.js'
import type { OcrResult, PageResult } from '../types.js'
import { GLYPHLESS_EM, glyphlessFont } from './glyphless-font.js'
import { GlyphCodes, textLayerContent, type PixelMap } from './pdf-text.js'

/**
 * Resolution assumed for an image with no (or an implausible) density in its header: 72, so one
 * pixel is one point. libvips reports 72 for an image that records none, so the two agree.
 */
export const DEFAULT_IMAGE_DPI = 72
/** Densities outside this range are treated as missing (headers often say 1 or 72 by accident of the tool). */
const PLAUSIBLE_DPI: readonly [number, number] = [50, 4800]
/** JPEG quality when a rotated JPEG has to be re-encoded. */
const JPEG_QUALITY = 90
/** The font resource name used on every page. */
const FONT_TAG = 'OcrText'

export interface PdfRenderOptions {
  /** The bytes the result was read from (an image or a PDF). Required. */
  source?: Uint8Array
  /** Title of the document (metadata). */
  fileName?: string
}

/** The Type0 font and its parts, registered once per document after every page is encoded. */
function assignFont(doc: PDFDocument, ref: PDFRef, codes: GlyphCodes): void {
  const ctx = doc.context
  const font = glyphlessFont()
  const fontFile = ctx.register(ctx.flateStream(font, { Length1: font.length }))
  const descriptor = ctx.register(
    ctx.obj({ Type: 'FontDescriptor', FontName: 'GlyphLessFont', Flags: 5, FontBBox: [0, 0, GLYPHLESS_EM, GLYPHLESS_EM], ItalicAngle: 0, Ascent: GLYPHLESS_EM, Descent: -1, CapHeight: GLYPHLESS_EM, StemV: 80, FontFile2: fontFile }),
  )
  const gids = new Uint8Array(2 * (codes.size + 1))
  for (let cid = 1; cid <= codes.size; cid++) gids[2 * cid + 1] = 1 // every CID → glyph 1 (blank)
  const cidToGid = ctx.register(ctx.flateStream(gids))
  const cidFont = ctx.register(
    ctx.obj({
      Type: 'Font',
      Subtype: 'CIDFontType2',
      BaseFont: 'GlyphLessFont',
      CIDSystemInfo: ctx.obj({ Registry: PDFString.of('Adobe'), Ordering: PDFString.of('Identity'), Supplement: 0 }),
      FontDescriptor: descriptor,
      DW: GLYPHLESS_EM,
      // each code's advance (GlyphCodes): the glyph is blank, its width places the next one
      ...(codes.size > 0 ? { W: [1, codes.widths()] } : {}),
      CIDToGIDMap: cidToGid,
    }),
  )
  const toUnicode = ctx.register(ctx.flateStream(codes.toUnicode()))
  ctx.assign(ref, ctx.obj({ Type: 'Font', Subtype: 'Type0', BaseFont: 'GlyphLessFont', Encoding: 'Identity-H', DescendantFonts: [cidFont], ToUnicode: toUnicode }))
}

function addTextLayer(doc: PDFDocument, pdfPage: PDFPage, page: PageResult, map: PixelMap, codes: GlyphCodes, fontRef: PDFRef, wrap: boolean): void {
  if (page.lines.length === 0) return
  // a fresh resource name: a copied page may already use ours for a font of its own
  const font = pdfPage.node.newFontDictionary(FONT_TAG, fontRef)
  const content = textLayerContent(page.lines, map, codes, font.asString())
  if (!content) return
  const ctx = doc.context
  // an existing page's content may leave the graphics state changed: isolate it in q … Q first
  if (wrap) pdfPage.node.wrapContentStreams(ctx.register(ctx.stream('q\n')), ctx.register(ctx.stream('\nQ\n')))
  pdfPage.node.addContentStream(ctx.register(ctx.flateStream(content)))
}

/**
 * Pixel → user-space map for a PDF page rendered at `dpi` with its /Rotate applied (pdf.js renders
 * the CropBox, turned clockwise by /Rotate; pixel (0, 0) is the top-left of what is shown).
 */
export function pdfPixelMap(box: { x: number; y: number; width: number; height: number }, rotate: number, dpi: number): PixelMap {
  const s = 72 / dpi
  const x0 = box.x
  const y0 = box.y
  const x1 = box.x + box.width
  const y1 = box.y + box.height
  switch (((rotate % 360) + 360) % 360) {
    case 90:
      return ([u, v]) => [x0 + v * s, y0 + u * s]
    case 180:
      return ([u, v]) => [x1 - u * s, y0 + v * s]
    case 270:
      return ([u, v]) => [x1 - v * s, y1 - u * s]
    default:
      return ([u, v]) => [x0 + u * s, y1 - v * s]
  }
}

async function fromPdf(doc: PDFDocument, result: OcrResult, source: Uint8Array, codes: GlyphCodes, fontRef: PDFRef): Promise<void> {
  let src: PDFDocument
  try {
    src = await PDFDocument.load(source, { updateMetadata: false })
  } catch (err) {
    throw new OcrError('BAD_REQUEST', `the source PDF cannot be read for PDF output: ${(err as Error).message}`, { cause: err })
  }
  const count = src.getPageCount()
  for (const p of result.pages) {
    if (p.page < 1 || p.page > count) throw new OcrError('BAD_REQUEST', `the result has page ${p.page} but the source PDF has ${count} pages`)
  }
  const copied = await doc.copyPages(src, result.pages.map((p) => p.page - 1))
  result.pages.forEach((p, i) => {
    const page = doc.addPage(copied[i]!)
    if (p.source !== 'ocr') return
    const box = page.getCropBox()
    const rotate = page.getRotation().angle
    const sideways = ((rotate % 180) + 180) % 180 === 90
    // the render resolution; a page without one is assumed to have been rendered to its pixel size
    const dpi = p.dpi ?? (72 * p.width) / (sideways ? box.height : box.width)
    addTextLayer(doc, page, p, pdfPixelMap(box, rotate, dpi), codes, fontRef, true)
  })
}

/** One page image ready to embed: the original bytes when they can go in as they are. */
async function pageImage(doc: PDFDocument, source: Uint8Array, index: number, page: PageResult, meta: Metadata | null): Promise<PDFImage> {
  const asIs = meta && index === 0 && (meta.orientation ?? 1) === 1 && meta.width === page.width && (meta.pageHeight ?? meta.height) === page.height && (meta.pages ?? 1) === 1
  if (asIs && meta.format === 'jpeg') {
    try {
      return await doc.embedJpg(source)
    } catch {
      // a JPEG pdf-lib cannot parse (rare markers): decode and re-encode below
    }
  }
  if (asIs && meta.format === 'png') {
    try {
      return await doc.embedPng(source)
    } catch {
      // e.g. a PNG variant pdf-lib's decoder rejects: decode and re-encode below
    }
  }
  const opened = await openImage(source, { maxPixels: Number.MAX_SAFE_INTEGER, allPages: true })
  if (index >= opened.pageCount) throw new OcrError('BAD_REQUEST', `the result has page ${index + 1} but the source image has ${opened.pageCount}`)
  const rgb = await opened.page(index)
  const raw = sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
  return opened.format === 'jpeg' ? doc.embedJpg(await raw.jpeg({ quality: JPEG_QUALITY }).toBuffer()) : doc.embedPng(await raw.png().toBuffer())
}

async function fromImage(doc: PDFDocument, result: OcrResult, source: Uint8Array, codes: GlyphCodes, fontRef: PDFRef): Promise<void> {
  let meta: Metadata | null = null
  if (!isBmp(source)) {
    try {
      meta = await sharp(source, { limitInputPixels: false }).metadata()
    } catch (err) {
      throw new OcrError('UNSUPPORTED_MEDIA', `the source is neither a PDF nor a readable image: ${(err as Error).message}`, { cause: err })
    }
  }
  const density = meta?.density && meta.density >= PLAUSIBLE_DPI[0] && meta.density <= PLAUSIBLE_DPI[1] ? meta.density : undefined
  for (const p of result.pages) {
    const image = await pageImage(doc, source, p.page - 1, p, meta)
    const dpi = p.dpi ?? density ?? DEFAULT_IMAGE_DPI
    const s = 72 / dpi
    const width = p.width * s
    const height = p.height * s
    const page = doc.addPage([width, height])
    page.drawImage(image, { x: 0, y: 0, width, height })
    addTextLayer(doc, page, p, ([u, v]) => [u * s, height - v * s], codes, fontRef, false)
  }
}

/** The searchable PDF for `result`, read from `options.source`. */
export async function renderPdf(result: OcrResult, options: PdfRenderOptions = {}): Promise<Uint8Array> {
  const { source } = options
  if (!source || source.length === 0) throw new OcrError('BAD_REQUEST', 'PDF output needs the source image or PDF the result was read from')
  const doc = await PDFDocument.create()
  doc.setProducer('ocrserve')
  doc.setCreator('ocrserve')
  if (options.fileName) doc.setTitle(options.fileName)
  const codes = new GlyphCodes()
  const fontRef = doc.context.nextRef()
  // the same test the engine used to read the source
  if (isPdfDocument(source)) await fromPdf(doc, result, source, codes, fontRef)
  else await fromImage(doc, result, source, codes, fontRef)
  assignFont(doc, fontRef, codes)
  return doc.save()
}
