/** JSON schemas of the API (they drive validation, serialisation and the OpenAPI document). */

const point = { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } as const
const box = { type: 'array', items: point, minItems: 4, maxItems: 4, description: 'Four [x, y] points, clockwise from the text’s own top-left corner, in image pixels' } as const
const line = {
  type: 'object',
  required: ['text', 'score', 'box'],
  properties: {
    text: { type: 'string' },
    score: { type: 'number', description: 'Recognition confidence 0..1' },
    box,
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
  required: ['width', 'height', 'rotation', 'lines', 'pages', 'timing_ms'],
  properties: {
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

export const ocrQuerySchema = {
  type: 'object',
  properties: {
    cls: { type: 'boolean', description: 'Run the 0/180° angle classifier (default: OCR_USE_CLS)' },
    format: { type: 'string', enum: ['json', 'text'], default: 'json', description: '`text`: the lines in reading order as text/plain' },
  },
  additionalProperties: false,
} as const

export const ocrJsonBodySchema = {
  type: 'object',
  description: 'Exactly one of `image` and `url`',
  properties: {
    image: { type: 'string', description: 'The image, base64 (or a data: URL)' },
    url: { type: 'string', maxLength: 2048, description: 'An http(s) URL to fetch the image from; only hosts on the server\'s OCR_URL_ALLOWLIST (off by default)' },
    cls: { type: 'boolean' },
    format: { type: 'string', enum: ['json', 'text'] },
  },
  additionalProperties: false,
} as const
