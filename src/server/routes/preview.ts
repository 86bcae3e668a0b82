/**
 * POST /v1/preview: one page of an image document as a PNG the browser can draw. Browsers cannot
 * draw TIFF, so the web page asks for the page it shows and draws the line boxes over it.
 *
 * The page comes out upright in the frame the OCR result's boxes use (EXIF/TIFF orientation
 * applied, as the engine decodes it), scaled down to fit `max_side`: a box [x, y] of that page
 * lands on the preview at [x, y] × preview width / page width. `X-Page-Width` / `X-Page-Height`
 * give the page's full size and `X-Page-Count` the document's pages. The same header limits as
 * reading apply (OCR_MAX_PIXELS, OCR_MAX_PAGES) before any pixel is decoded; decoding runs in
 * sharp's thread pool, never on the event loop, at most PREVIEW_CONCURRENCY at a time.
 * PDF pages are not rendered here (pdf.js would run on the event loop): the page draws them
 * itself with pdf.js from /static/pdfjs/. BMP is not previewed either: browsers draw it.
 */
import type { FastifyInstance } from 'fastify'
import sharp from 'sharp'
import { isPdfDocument } from '../../document/document.js'
import type { Ocr } from '../../engine.js'
import { OcrError } from '../../errors.js'
import { isBmp } from '../../image/bmp.js'
import { openImage } from '../../image/decode.js'

export interface PreviewRouteOptions {
  ocr: Ocr
  /** Largest body: the largest document the page can send to either /v1/ocr or /v1/jobs. */
  maxBodyBytes: number
}

/** Previews being rendered at once; more → 503 OVERLOADED (each decodes a whole page). */
export const PREVIEW_CONCURRENCY = 2
/** The preview's longest side: default, and the most a client may ask for. */
export const PREVIEW_MAX_SIDE = { default: 1600, min: 16, max: 4096 } as const

const previewQuerySchema = {
  type: 'object',
  properties: {
    page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1, description: 'The page to draw, 1-based' },
    max_side: {
      type: 'integer',
      minimum: PREVIEW_MAX_SIDE.min,
      maximum: PREVIEW_MAX_SIDE.max,
      default: PREVIEW_MAX_SIDE.default,
      description: 'Longest side of the PNG in pixels; a smaller page is not enlarged',
    },
  },
  additionalProperties: false,
} as const

const SOURCE = 'JPEG, PNG, WebP, GIF or TIFF'

export function registerPreviewRoute(app: FastifyInstance, deps: PreviewRouteOptions): void {
  const { maxPixels, maxPages } = deps.ocr.settings
  let rendering = 0
  app.post<{ Querystring: { page: number; max_side: number } }>(
    '/v1/preview',
    {
      bodyLimit: deps.maxBodyBytes,
      schema: {
        summary: 'One page of an image or multi-page TIFF as a PNG (for drawing boxes over it)',
        description:
          `The image as the raw body (\`Content-Type: image/*\` or \`application/octet-stream\`; ${SOURCE}), up to OCR_JOBS_MAX_BODY_BYTES. ` +
          'Answers the page upright, in the frame of the OCR result\'s boxes, scaled to fit `max_side`: scale a box by the PNG\'s width / `X-Page-Width`. ' +
          'PDF pages are not rendered here (415): draw them with pdf.js, which the service serves under /static/pdfjs/.',
        tags: ['web'],
        querystring: previewQuerySchema,
        // documentation only: raw bodies are Buffers, and a literal "image/*" body type is never parsed
        body: { content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } },
        security: [{ bearer: [] }, { apiKey: [] }],
        response: {
          200: {
            description: 'The page as a PNG; headers X-Page-Width, X-Page-Height (the page\'s full size) and X-Page-Count',
            content: { 'image/png': { schema: { type: 'string', format: 'binary' } } },
          },
          '4xx': { description: 'Client error (see docs/ERRORS.md)', $ref: 'Error#' },
          '5xx': { description: 'Busy rendering other previews (Retry-After), or shutting down', $ref: 'Error#' },
        },
      },
    },
    async (request, reply) => {
      const bytes = request.body
      if (!Buffer.isBuffer(bytes)) {
        throw new OcrError('UNSUPPORTED_MEDIA', `send the image as the raw body (Content-Type image/* or application/octet-stream; ${SOURCE})`)
      }
      if (bytes.length === 0) throw new OcrError('BAD_REQUEST', 'the image is empty')
      if (isPdfDocument(bytes)) throw new OcrError('UNSUPPORTED_MEDIA', `previews are drawn for ${SOURCE}; draw PDF pages with pdf.js (served under /static/pdfjs/)`)
      if (isBmp(bytes)) throw new OcrError('UNSUPPORTED_MEDIA', `previews are drawn for ${SOURCE}; browsers draw BMP themselves`)
      if (rendering >= PREVIEW_CONCURRENCY) {
        throw new OcrError('OVERLOADED', `${PREVIEW_CONCURRENCY} page previews are being drawn; retry in a moment`, { retryAfterSec: 1 })
      }
      rendering++
      try {
        request.bytesIn = bytes.length
        // the header checks of reading: format, pixels, aspect, page count (no pixel decoded yet)
        const image = await openImage(bytes, { maxPixels, maxPages })
        const { page, max_side: maxSide } = request.query
        if (page > image.pageCount) {
          throw new OcrError('BAD_PAGE_RANGE', `page ${page} was asked for, but the document has ${image.pageCount} page${image.pageCount === 1 ? '' : 's'}`)
        }
        const { data, full } = await renderPage(bytes, page - 1, maxSide, maxPixels)
        return reply
          .type('image/png')
          .header('cache-control', 'no-store')
          .header('x-page-count', String(image.pageCount))
          .header('x-page-width', String(full.width))
          .header('x-page-height', String(full.height))
          .send(data)
      } finally {
        rendering--
      }
    },
  )
}

/** One page, upright as the engine decodes it (EXIF/TIFF orientation), fitted inside maxSide × maxSide. */
async function renderPage(
  bytes: Buffer,
  index: number,
  maxSide: number,
  maxPixels: number,
): Promise<{ data: Buffer; full: { width: number; height: number } }> {
  const source = () => sharp(bytes, { page: index, pages: 1, limitInputPixels: maxPixels, failOn: 'error' })
  try {
    // the page's own size after orientation: the frame the OCR boxes are in
    const meta = await source().metadata()
    const turned = (meta.orientation ?? 1) >= 5
    const width = meta.width ?? 0
    const height = meta.pageHeight ?? meta.height ?? 0
    const full = turned ? { width: height, height: width } : { width, height }
    const data = await source()
      .rotate()
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .png({ compressionLevel: 6, adaptiveFiltering: false })
      .toBuffer()
    return { data, full }
  } catch (err) {
    const msg = (err as Error).message
    if (/pixel limit/i.test(msg)) throw new OcrError('IMAGE_TOO_LARGE', `image exceeds the pixel limit of ${maxPixels}`, { cause: err })
    throw new OcrError('UNDECODABLE_IMAGE', `image cannot be decoded: ${msg}`, { cause: err })
  }
}
