/** JSON schemas of the API (they drive validation, serialisation and the OpenAPI document). */
import { FORMATS, RENDERERS } from '../formats/index.js'
import { JOB_STATES } from '../jobs/store.js'
import { PDF_DPI_RANGE, PDF_TEXT_MODES } from '../config.js'

const point = { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } as const
const box = { type: 'array', items: point, minItems: 4, maxItems: 4, description: 'Four [x, y] points, clockwise from the text’s own top-left corner, in image pixels' } as const
const word = {
  type: 'object',
  required: ['text', 'box', 'score'],
  properties: {
    text: { type: 'string', description: 'A run of Latin letters and digits (with its punctuation) between spaces, or one CJK character' },
    box,
    score: { type: 'number', description: 'Mean confidence of its characters, 0..1' },
  },
} as const
const line = {
  type: 'object',
  required: ['text', 'score', 'box'],
  properties: {
    text: { type: 'string' },
    score: { type: 'number', description: 'Recognition confidence 0..1' },
    box,
    words: { type: 'array', items: word, description: 'With `words=true`: the line’s words; joined with the line’s spacing they give `text`' },
  },
} as const

const timing = {
  type: 'object',
  description: 'Milliseconds per stage',
  required: ['decode', 'det', 'cls', 'rec', 'total'],
  properties: {
    decode: { type: 'number' },
    det: { type: 'number' },
    cls: { type: 'number' },
    rec: { type: 'number' },
    total: { type: 'number' },
  },
} as const

export const ocrResultSchema = {
  $id: 'OcrResult',
  type: 'object',
  required: ['model', 'width', 'height', 'rotation', 'lines', 'pages', 'timing_ms'],
  properties: {
    model: { type: 'string', description: 'The model pack that read it (GET /v1/models)' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    rotation: { type: 'integer', enum: [0, 90, 180, 270], description: 'Clockwise turn the engine applied to read the page' },
    lines: { type: 'array', items: line },
    pages: {
      type: 'array',
      description: 'Every page read, in order: one for a plain image, one per page for a TIFF or PDF',
      items: {
        type: 'object',
        required: ['page', 'width', 'height', 'rotation', 'lines', 'source', 'timing_ms'],
        properties: {
          page: { type: 'integer', description: '1-based page number in the input' },
          width: { type: 'integer' },
          height: { type: 'integer' },
          rotation: { type: 'integer', enum: [0, 90, 180, 270] },
          lines: { type: 'array', items: line },
          source: { type: 'string', enum: ['ocr', 'embedded'], description: 'ocr, or the PDF page\'s own text layer' },
          dpi: { type: 'number', description: 'PDF pages: render resolution' },
          timing_ms: timing,
        },
      },
    },
    timing_ms: timing,
  },
} as const

/** The read options every document route takes (query parameters, JSON fields, multipart fields). */
const readOptions = {
  model: { type: 'string', maxLength: 64, description: 'The model pack to read with (GET /v1/models lists them; default: the first of OCR_MODELS)' },
  cls: { type: 'boolean', description: 'Run the 0/180° angle classifier (default: OCR_USE_CLS)' },
  pages: { type: 'string', maxLength: 200, description: 'Pages of a document to read: `1-3,7`, `5-` (1-based; default all)' },
  dpi: { type: 'integer', minimum: PDF_DPI_RANGE.min, maximum: PDF_DPI_RANGE.max, description: 'PDF render resolution (default: OCR_PDF_DPI)' },
  pdf_text: { type: 'string', enum: [...PDF_TEXT_MODES], description: 'PDF pages with a text layer: use it (`auto`), `ocr` anyway, or `embedded` only (default: OCR_PDF_TEXT)' },
  words: { type: 'boolean', description: 'JSON: give every line its words with their boxes (default false; hOCR, ALTO and PDF output always use them)' },
} as const

const format = {
  type: 'string',
  enum: [...FORMATS],
  description: 'Output format (default json, or from the Accept header): ' + FORMATS.join(', '),
} as const

export const ocrQuerySchema = {
  type: 'object',
  properties: { ...readOptions, format },
  additionalProperties: false,
} as const

/** Where a JSON body's input comes from: exactly one of these (checked by document-input.ts). */
const inputSource = {
  image: { type: 'string', description: 'The image or document, base64 (or a data: URL)' },
  url: { type: 'string', maxLength: 2048, description: 'An http(s) URL to fetch the image from; only hosts on the server\'s OCR_URL_ALLOWLIST (off by default)' },
} as const

export const ocrJsonBodySchema = {
  type: 'object',
  description: 'Exactly one of `image` and `url`',
  properties: { ...inputSource, ...readOptions, format },
  additionalProperties: false,
} as const

export const jobQuerySchema = {
  type: 'object',
  properties: readOptions,
  additionalProperties: false,
} as const

export const jobJsonBodySchema = {
  type: 'object',
  description: 'Exactly one of `image` and `url`',
  properties: { ...inputSource, ...readOptions },
  additionalProperties: false,
} as const

export const jobParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64, description: 'The job id POST /v1/jobs returned' } },
} as const

export const jobResultQuerySchema = {
  type: 'object',
  properties: {
    format,
    partial: { type: 'boolean', default: false, description: 'A queued or running job answers with the pages read so far instead of 409 JOB_NOT_FINISHED' },
    words: { type: 'boolean', description: 'JSON: include every line’s words, also when the job was submitted without `words=true`' },
  },
  additionalProperties: false,
} as const

export const jobAcceptedSchema = {
  type: 'object',
  required: ['id', 'status', 'status_url', 'result_url'],
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: [...JOB_STATES] },
    status_url: { type: 'string', description: 'Poll this for progress' },
    result_url: { type: 'string', description: 'The result once status is succeeded (add ?format=...)' },
  },
} as const

export const jobStatusSchema = {
  $id: 'JobStatus',
  type: 'object',
  required: ['id', 'status', 'pages_done', 'pages_total', 'created_at', 'status_url', 'result_url'],
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: [...JOB_STATES], description: 'queued → running → succeeded | failed | cancelled; a finished job becomes expired after OCR_JOBS_TTL_SECONDS' },
    pages_done: { type: 'integer', description: 'Pages read so far' },
    pages_total: { type: ['integer', 'null'], description: 'Pages the job reads (after `pages=`); null until the document is opened' },
    created_at: { type: 'string', format: 'date-time' },
    started_at: { type: ['string', 'null'], format: 'date-time' },
    finished_at: { type: ['string', 'null'], format: 'date-time' },
    expires_at: { type: ['string', 'null'], format: 'date-time', description: 'Finished: when the result is dropped. Expired: when the id is forgotten (then 404)' },
    file_name: { type: ['string', 'null'] },
    options: {
      type: 'object',
      properties: { model: readOptions.model, cls: readOptions.cls, pages: readOptions.pages, dpi: readOptions.dpi, pdf_text: readOptions.pdf_text, words: readOptions.words },
    },
    error: {
      type: ['object', 'null'],
      description: 'Why a failed or cancelled job ended (a code of docs/ERRORS.md)',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
    status_url: { type: 'string' },
    result_url: { type: 'string' },
  },
} as const

const roleInfo = {
  type: 'object',
  required: ['model_name', 'input_shape'],
  properties: {
    model_name: { type: 'string', description: 'Global.model_name of its inference.yml (PaddleOCR 2.x models: the file name)' },
    input_shape: { type: 'array', items: { type: ['integer', 'null'] }, description: '[n, c, h, w] as the ONNX graph declares its input; null = any size' },
    characters: { type: 'integer', description: 'rec: the characters it reads (with the space when it has one)' },
  },
} as const

export const modelsSchema = {
  type: 'object',
  required: ['models'],
  properties: {
    models: {
      type: 'array',
      description: 'Every model pack of the service (OCR_MODELS), the default first',
      items: {
        type: 'object',
        required: ['name', 'default', 'roles'],
        properties: {
          name: { type: 'string', description: 'What `model=` takes' },
          default: { type: 'boolean', description: 'Reads requests that name no model' },
          roles: {
            type: 'object',
            description: 'det and rec always; cls (0/180° line classifier) and doc_ori (page classifier) when the pack has them',
            properties: { det: roleInfo, cls: roleInfo, rec: roleInfo, doc_ori: roleInfo },
          },
        },
      },
    },
  },
} as const

/** The 200 response of a result in every output format, one media type each (for the OpenAPI document). */
export const resultResponseContent = Object.fromEntries(
  FORMATS.map((f) => {
    const info = RENDERERS[f]
    const schema = f === 'json' ? { $ref: 'OcrResult#' } : { type: 'string', ...(info.binary ? { format: 'binary' } : {}) }
    return [info.contentType.split(';')[0]!, { schema }]
  }),
)
