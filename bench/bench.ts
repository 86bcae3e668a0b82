/**
 * Speed, cost and scale: `npm run bench [-- --quick] [--sections a,b] [--profile] [--write-doc]
 * [--ocrserve-settings JSON]`.
 *
 * Sections (all by default, in this order):
 *   seq      ocrserve library, one image at a time: per-image latency, stage breakdown (timing_ms)
 *   floor    the same pipeline in-process over a recording backend; the recorded tensors replayed
 *            on bare ONNX sessions = the model-only floor; ocrserve's latency / floor
 *   sat      ocrserve saturated (all images submitted at once), default workers
 *   sweep    saturated throughput for workers × threadsPerWorker settings (skipped by --quick)
 *   guten    @gutenye/ocr-node: sequential latency, throughput
 *   tesseract  tesseract CLI (chi_sim+eng): sequential latency, 2 processes in parallel
 *   scaling  latency vs page size (0.3–12 MP) and vs number of text lines
 *   http     `ocrserve serve` under closed-loop load at concurrency 1, 4, 16; /healthz during c=16
 *   remote   the same load with `ocrserve model-server` behind (kserve-http binary, kserve-grpc)
 *   jobs     async jobs on 24-page PDFs: how a page task gets its page, the memory store with one
 *            worker per document vs pages spread, two replicas on one Redis (bench/jobs.ts)
 *
 * Human tables go to stdout as sections finish, then a summary; the LAST line of stdout is one
 * JSON object with the headline numbers. Progress goes to stderr. Full results are saved to
 * .cache/bench/results.json; --write-doc puts the tables into docs/BENCHMARKS.md between the
 * results markers. --profile CPU-profiles the in-process pipeline (floor section) and prints the
 * functions with the most self time.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Ocr, OcrResult } from '../src/index.js'
import type { Backend, ModelRole } from '../src/inference/backend.js'
import { benchJobs } from './jobs.js'
import { hotSpots, profile } from './lib/cpuprofile.js'
import { createEngine, EngineUnavailable, type EvalEngine } from './lib/engines.js'
import { createPool as createGutenPool } from './lib/guten-pool.js'
import { type BenchImage, contentType, lineSeries, loadBenchSet, type ScaledImage, sizeSeries } from './lib/images.js'
import { type LoadResult, type RequestBody, runLoad, startProbe } from './lib/load.js'
import { type Child, freePort, rssMiB, startNode, waitReady } from './lib/procs.js'
import { describeCall, type RecordedCall, RecordingBackend, replay, type RoleTimes, zeroRoleTimes } from './lib/recording.js'
import { fmt, markdownTable, mean, median, percentile, ratio, round, sum, summarize } from './lib/stats.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = join(ROOT, '.cache', 'bench')
const EVAL_REAL = resolve(ROOT, '..', 'shared', 'eval-real')
const DOC = join(ROOT, 'docs', 'BENCHMARKS.md')
const DOC_START = '<!-- bench:results:start -->'
const DOC_END = '<!-- bench:results:end -->'
const BIN = join(ROOT, 'bin', 'ocrserve.js')

/**
 * Per-read time limit for the library engines: a job's limit counts its time in the queue, and a
 * saturated run queues the whole set at once (the limit does not change how fast a job runs).
 */
const LIBRARY_TIMEOUT_MS = 30 * 60_000

/** The sweep runs on the core set (--quick's images): warm-up, then the set this many times at once. */
const SWEEP_PASSES = 2

const SECTIONS = ['seq', 'floor', 'sat', 'sweep', 'guten', 'tesseract', 'scaling', 'http', 'remote', 'jobs'] as const
type Section = (typeof SECTIONS)[number]

/**
 * Everything that differs between a full run and --quick. Budgets: a pass of the full set takes
 * ~40 s on the 2-core reference machine when it is quiet, a pass of the core set (--quick's 9
 * images) ~8 s; the full run stays under 15 min and --quick under 3 min.
 */
interface Plan {
  quick: boolean
  /** Sequential read() passes after the warm-up (per-image latency = median over them). */
  seqReps: number
  /** Warm-up passes before measuring (sequential, saturated, Guten, scaling). */
  warmUp: boolean
  /** Times the set is submitted at once for the saturated measurement. */
  satPasses: number
  gutenReps: number
  /** Tesseract: a sequential pass as well as the 2-process pass (else latency from the 2-process pass). */
  tesseractSequential: boolean
  scalingReps: number
  /** The size series: 'tiled' costs most (a 12 MP page of ~500 lines). */
  sizeSeries: readonly ('upscaled' | 'tiled')[]
  /** Requests per HTTP run as multiples of the core set, per concurrency. */
  httpPasses: Record<1 | 4 | 16, number>
  /** Concurrencies of the remote-mode runs. */
  remoteConcurrency: readonly (1 | 4)[]
  httpMaxMs: number
  /** workers × threadsPerWorker settings tried saturated on the core set. */
  sweep: readonly { workers: number; threadsPerWorker: number }[]
}

const FULL: Plan = {
  quick: false,
  seqReps: 2,
  warmUp: true,
  satPasses: 2,
  gutenReps: 1,
  tesseractSequential: true,
  scalingReps: 1,
  sizeSeries: ['upscaled', 'tiled'],
  httpPasses: { 1: 2, 4: 3, 16: 4 },
  remoteConcurrency: [1, 4],
  httpMaxMs: 120_000,
  sweep: [
    { workers: 1, threadsPerWorker: 2 },
    { workers: 2, threadsPerWorker: 1 },
    { workers: 2, threadsPerWorker: 2 },
    { workers: 1, threadsPerWorker: 1 },
  ],
}

const QUICK: Plan = {
  quick: true,
  seqReps: 1,
  warmUp: true,
  satPasses: 1,
  gutenReps: 1,
  tesseractSequential: false,
  scalingReps: 1,
  sizeSeries: ['upscaled'],
  httpPasses: { 1: 1, 4: 1, 16: 2 },
  remoteConcurrency: [4],
  httpMaxMs: 30_000,
  sweep: [],
}

// ---------------------------------------------------------------------------------------------
// The built package: what ships (worker threads need the compiled worker).

type DistIndex = typeof import('../src/index.js')
type DistConfig = typeof import('../src/config.js')
type DistPipeline = typeof import('../src/pipeline/pipeline.js')
type DistDecode = typeof import('../src/image/decode.js')
type DistLocal = typeof import('../src/inference/local.js')
type DistAssets = typeof import('../src/models/assets.js')
type DistRec = typeof import('../src/models/rec-ctc.js')
type DistRewrite = typeof import('../src/models/graph-rewrite.js')

interface Dist {
  index: DistIndex
  config: DistConfig
  pipeline: DistPipeline
  decode: DistDecode
  local: DistLocal
  assets: DistAssets
  rec: DistRec
  rewrite: DistRewrite
}

async function loadDist(): Promise<Dist> {
  const at = (p: string): string => join(ROOT, 'dist', p)
  if (!existsSync(at('index.js'))) throw new Error('ocrserve is not built: run npm run build (npm run bench does)')
  const imp = <T>(p: string): Promise<T> => import(at(p)) as Promise<T>
  return {
    index: await imp<DistIndex>('index.js'),
    config: await imp<DistConfig>('config.js'),
    pipeline: await imp<DistPipeline>('pipeline/pipeline.js'),
    decode: await imp<DistDecode>('image/decode.js'),
    local: await imp<DistLocal>('inference/local.js'),
    assets: await imp<DistAssets>('models/assets.js'),
    rec: await imp<DistRec>('models/rec-ctc.js'),
    rewrite: await imp<DistRewrite>('models/graph-rewrite.js'),
  }
}

/**
 * Extra createOcr() settings for the library sections (--ocrserve-settings '{"recBatchSize":8}'),
 * for experiments; validated by the engine's own schema. The HTTP sections use the defaults.
 */
let engineOverrides: Record<string, unknown> = {}

// ---------------------------------------------------------------------------------------------
// Output helpers

const started = performance.now()
function progress(msg: string): void {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`)
}

const report: string[] = []
function emit(title: string, body: string, note?: string): void {
  const block = `### ${title}\n\n${body}\n${note ? `\n${note}\n` : ''}`
  report.push(block)
  process.stdout.write(`\n${block}`)
}

const ms = (v: number | null | undefined, d = 0): string => fmt(v, d)

// ---------------------------------------------------------------------------------------------
// Sections

interface SeqResult {
  /** Per image: median read() latency over the reps (ms), default settings (idle workers help). */
  latency: number[]
  /**
   * Per image: median read() latency of an engine without that help (idleAssist false), read right
   * after: one worker does all of the image's work, which is what the model-only floor compares.
   */
  soloLatency: number[] | null
  /** Mean timing_ms over all measured reads. */
  stages: { decode: number; det: number; cls: number; rec: number; total: number }
  lines: number[]
  workers: number
  threadsPerWorker: number
}

async function timeSequential(read: (img: BenchImage) => Promise<number>, images: readonly BenchImage[], reps: number): Promise<number[][]> {
  const lat = images.map(() => [] as number[])
  for (let r = 0; r < reps; r++) {
    for (const [i, img] of images.entries()) {
      const t0 = performance.now()
      lat[i]!.push(await read(img).then(() => performance.now() - t0))
    }
  }
  return lat
}

interface FloorImage {
  /** In-process pipeline: decode + readPage (ms). */
  pipelineMs: number
  decodeMs: number
  stageMs: RoleTimes
  /** run() time inside the pipeline run, per role. */
  modelInPipeline: RoleTimes
  /** Replayed run() time per role. */
  floor: RoleTimes
  /** Replayed run() time in all. */
  floorMs: number
  calls: Record<ModelRole, number>
  /** Input shapes of the calls, e.g. "det 1×3×960×640". */
  shapes: string[]
  /** Input columns (summed over batch samples) and how many are zero padding, per role. */
  padding: Record<ModelRole, { columns: number; padded: number }>
  /** Tensor bytes in and out of run(), per role. */
  bytes: Record<ModelRole, { in: number; out: number }>
}

interface FloorResult {
  threads: number
  images: FloorImage[]
  hot?: { where: string; selfMs: number; share: number }[]
  profilePath?: string
}

/** The in-process pipeline over recording backends: what one default worker runs, on this thread. */
interface InProcess {
  threads: number
  /** Decode + pipeline for one image; returns the recorded run() calls with it. */
  read(img: BenchImage): Promise<{ pipelineMs: number; decodeMs: number; stageMs: RoleTimes; calls: RecordedCall[] }>
  /** The recorded calls run again on the same sessions: run() time per role. */
  replay(calls: readonly RecordedCall[]): Promise<RoleTimes>
  close(): Promise<void>
}

async function createInProcess(dist: Dist): Promise<InProcess> {
  const settings = dist.index.parseEngineSettings({ ...engineOverrides })
  const { threadsPerWorker: threads } = dist.config.resolveParallelism(settings)
  const paths = dist.assets.resolveModelPaths(settings.models)
  const charset = dist.rec.buildCharset(readFileSync(paths.keys, 'utf8'))
  // the same model bytes the engine loads (graph rewrites included), so the floor runs the same graphs
  const load = async (role: ModelRole): Promise<Backend> =>
    dist.local.createLocalBackend(await dist.rewrite.localModelSource(paths[role], settings.modelRewrite), { device: 'cpu', threads })
  const inner: Record<ModelRole, Backend> = { det: await load('det'), cls: await load('cls'), rec: await load('rec') }
  const log: RecordedCall[] = []
  const recording: Record<ModelRole, Backend> = {
    det: new RecordingBackend('det', inner.det, log),
    cls: new RecordingBackend('cls', inner.cls, log),
    rec: new RecordingBackend('rec', inner.rec, log),
  }
  const pipeline = new dist.pipeline.Pipeline((role) => Promise.resolve(recording[role]), charset, settings)
  return {
    threads,
    async read(img) {
      const bytes = readFileSync(img.path)
      log.length = 0
      const t0 = performance.now()
      const decoded = await dist.decode.decodeImage(bytes, { maxPixels: settings.maxPixels })
      const decodeMs = performance.now() - t0
      const stageMs = zeroRoleTimes()
      for (const page of decoded.pages) {
        const out = await pipeline.readPage(page, { useCls: settings.useCls })
        for (const role of ['det', 'cls', 'rec'] as const) stageMs[role] += out.timing[role]
      }
      return { pipelineMs: performance.now() - t0, decodeMs, stageMs, calls: log.splice(0) }
    },
    replay: (calls) => replay(calls, inner),
    async close() {
      for (const b of Object.values(inner)) await b.dispose()
    },
  }
}

/**
 * Sequential ocrserve (createOcr, default settings: worker threads) and, interleaved image by
 * image so both see the same machine conditions, the in-process pipeline and the replay of its
 * recorded tensors (the model-only floor).
 */
async function ocrserveSequential(dist: Dist, images: readonly BenchImage[], plan: Plan, withFloor: boolean): Promise<{ seq: SeqResult; floor: FloorResult | null }> {
  const ocr = await dist.index.createOcr({ ...engineOverrides, timeoutMs: LIBRARY_TIMEOUT_MS })
  const solo = withFloor ? await dist.index.createOcr({ ...engineOverrides, idleAssist: false, timeoutMs: LIBRARY_TIMEOUT_MS }) : null
  const inproc = withFloor ? await createInProcess(dist) : null
  try {
    const { workers, threadsPerWorker } = dist.config.resolveParallelism(ocr.settings)
    if (plan.warmUp) {
      // every image once, on both (ORT sizes its arenas per shape on first use)
      progress('ocrserve sequential: warm-up pass')
      for (const img of images) {
        await ocr.read(img.path)
        await solo?.read(img.path)
        await inproc?.read(img)
      }
    }
    const stages = { decode: 0, det: 0, cls: 0, rec: 0, total: 0 }
    const lines = images.map(() => 0)
    const lat = images.map(() => [] as number[])
    const soloLat = images.map(() => [] as number[])
    const runs: Awaited<ReturnType<InProcess['read']>>[] = []
    const replays: RoleTimes[] = []
    let reads = 0
    for (let r = 0; r < plan.seqReps; r++) {
      const last = r === plan.seqReps - 1
      progress(`ocrserve sequential: pass ${r + 1} of ${plan.seqReps}${last && inproc ? ', with the in-process pipeline and the floor' : ''}`)
      for (const [i, img] of images.entries()) {
        const soloRead = async (): Promise<void> => {
          if (!solo) return
          const t1 = performance.now()
          await solo.read(img.path)
          soloLat[i]!.push(performance.now() - t1)
        }
        // the two engines take turns going first (the second finds the image's file and the
        // machine's caches warmer), so each image's median sees both orders
        if (r % 2 === 1) await soloRead()
        const t0 = performance.now()
        const res: OcrResult = await ocr.read(img.path)
        lat[i]!.push(performance.now() - t0)
        for (const k of Object.keys(stages) as (keyof typeof stages)[]) stages[k] += res.timing_ms[k] ?? 0
        lines[i] = res.lines.length
        reads++
        if (r % 2 === 0) await soloRead()
        if (inproc && last) {
          const run = await inproc.read(img)
          replays.push(await inproc.replay(run.calls))
          run.calls.forEach((c) => (c.feeds = {})) // the tensors are not needed any more
          runs.push(run)
        }
      }
    }
    for (const k of Object.keys(stages) as (keyof typeof stages)[]) stages[k] /= reads
    const seq: SeqResult = { latency: lat.map((l) => median(l)), soloLatency: solo ? soloLat.map((l) => median(l)) : null, stages, lines, workers, threadsPerWorker }
    if (!inproc) return { seq, floor: null }
    const floorImages = runs.map((run, i): FloorImage => {
      const replayed = replays[i]!
      const modelInPipeline = zeroRoleTimes()
      const calls: Record<ModelRole, number> = { det: 0, cls: 0, rec: 0 }
      const padding: FloorImage['padding'] = { det: { columns: 0, padded: 0 }, cls: { columns: 0, padded: 0 }, rec: { columns: 0, padded: 0 } }
      const bytes: FloorImage['bytes'] = { det: { in: 0, out: 0 }, cls: { in: 0, out: 0 }, rec: { in: 0, out: 0 } }
      for (const c of run.calls) {
        bytes[c.role].in += c.inBytes
        bytes[c.role].out += c.outBytes
        modelInPipeline[c.role] += c.ms
        calls[c.role]++
        padding[c.role].columns += c.columns
        padding[c.role].padded += c.paddedColumns
      }
      return {
        pipelineMs: run.pipelineMs,
        decodeMs: run.decodeMs,
        stageMs: run.stageMs,
        modelInPipeline,
        floor: replayed,
        floorMs: replayed.det + replayed.cls + replayed.rec,
        calls,
        shapes: run.calls.map(describeCall),
        padding,
        bytes,
      }
    })
    return { seq, floor: { threads: inproc.threads, images: floorImages } }
  } finally {
    await ocr.close()
    await solo?.close()
    await inproc?.close()
  }
}

/**
 * read() latency over the floor: median of the per-image ratios, and Σ read() / Σ floor. By
 * default the latency of the engine without idle workers' help (the floor is one worker's work);
 * `helped` compares the default engine's latency instead.
 */
function floorRatios(seq: SeqResult, floor: readonly FloorImage[], helped = false): { median: number; total: number } {
  const latency = helped ? seq.latency : (seq.soloLatency ?? seq.latency)
  const ratios = floor.map((f, i) => latency[i]! / f.floorMs).filter((r) => Number.isFinite(r))
  return { median: median(ratios), total: sum(latency) / sum(floor.map((f) => f.floorMs)) }
}

/** One in-process pass over the set under the V8 sampling profiler: where the non-model time goes. */
async function profilePipeline(dist: Dist, images: readonly BenchImage[]): Promise<{ hot: FloorResult['hot']; profilePath: string }> {
  const inproc = await createInProcess(dist)
  try {
    for (const img of images) await inproc.read(img) // warm-up
    const { profile: prof } = await profile(async () => {
      for (const img of images) await inproc.read(img)
    })
    const profilePath = join(CACHE, 'pipeline.cpuprofile')
    writeFileSync(profilePath, JSON.stringify(prof))
    return { hot: hotSpots(prof, `${ROOT}/`).slice(0, 30), profilePath }
  } finally {
    await inproc.close()
  }
}

/** Images/s with every image of `passes` passes submitted at once. */
async function saturated(dist: Dist, images: readonly BenchImage[], passes: number, warmUp: boolean, settings: { workers?: number; threadsPerWorker?: number }): Promise<{ imgPerSec: number; workers: number; threadsPerWorker: number }> {
  // every job is queued at once: no queue limit or time limit may cut the measurement short
  const ocr: Ocr = await dist.index.createOcr({ ...engineOverrides, ...settings, maxQueue: Math.max(64, images.length * passes), timeoutMs: LIBRARY_TIMEOUT_MS })
  try {
    const { workers, threadsPerWorker } = dist.config.resolveParallelism(ocr.settings)
    if (warmUp) await Promise.all(images.map((img) => ocr.read(img.path)))
    const jobs = Array.from({ length: passes }, () => images).flat()
    const t0 = performance.now()
    await Promise.all(jobs.map((img) => ocr.read(img.path)))
    return { imgPerSec: jobs.length / ((performance.now() - t0) / 1000), workers, threadsPerWorker }
  } finally {
    await ocr.close()
  }
}

interface PeerResult {
  describe: string
  latency: number[]
  lines: number[]
  /** Throughput and how it was obtained. */
  imgPerSec: number
  mode: string
  alternatives: { mode: string; imgPerSec: number }[]
}

async function withEngine<T>(name: 'guten' | 'tesseract', fn: (e: EvalEngine) => Promise<T>): Promise<T | string> {
  let engine: EvalEngine
  try {
    engine = await createEngine(name)
  } catch (err) {
    if (err instanceof EngineUnavailable) return err.message
    throw err
  }
  try {
    return await fn(engine)
  } finally {
    await engine.close()
  }
}

async function peerSequential(engine: EvalEngine, images: readonly BenchImage[], reps: number): Promise<{ latency: number[]; lines: number[] }> {
  const lines = images.map(() => 0)
  const lat = await timeSequential(
    async (img) => {
      const n = (await engine.read(img.path)).length
      lines[images.indexOf(img)] = n
      return n
    },
    images,
    reps,
  )
  return { latency: lat.map((l) => median(l)), lines }
}

/** Reads the set with `parallel` reads in flight (a pool over the image list): images/s and each read's latency. */
async function pooled(read: (img: BenchImage) => Promise<number>, images: readonly BenchImage[], parallel: number): Promise<{ imgPerSec: number; latency: number[]; lines: number[] }> {
  let next = 0
  const latency = images.map(() => 0)
  const lines = images.map(() => 0)
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < images.length) {
        const i = next++
        const started = performance.now()
        lines[i] = await read(images[i]!)
        latency[i] = performance.now() - started
      }
    }),
  )
  return { imgPerSec: images.length / ((performance.now() - t0) / 1000), latency, lines }
}

async function guten(images: readonly BenchImage[], plan: Plan): Promise<PeerResult | string> {
  return withEngine('guten', async (engine) => {
    if (plan.warmUp) for (const img of images) await engine.read(img.path) // as for ocrserve
    const { latency, lines } = await peerSequential(engine, images, plan.gutenReps)
    // Guten OCR is one in-process pipeline whose ONNX Runtime run() is synchronous on the main
    // thread with all cores as intra-op threads, so reads cannot overlap in one instance (2 reads
    // in flight measured the same as 1). Its other configuration: one instance per core in worker
    // threads, 1 ORT thread each (as ocrserve's default). Its throughput is the better of the two.
    const sequential = { mode: 'sequential (one read at a time; its sessions use all cores)', imgPerSec: images.length / (sum(latency) / 1000) }
    const alternatives = [sequential]
    const cores = os.availableParallelism()
    if (cores > 1) {
      const pool = await createGutenPool(cores, 1)
      try {
        const paths = images.map((i) => i.path)
        if (plan.warmUp) await pool.run(paths)
        alternatives.push({ mode: `${cores} worker threads × 1 ORT thread, all images at once`, imgPerSec: await pool.run(paths) })
      } finally {
        await pool.close()
      }
    }
    const best = alternatives.reduce((a, b) => (b.imgPerSec > a.imgPerSec ? b : a))
    return { describe: engine.describe, latency, lines, imgPerSec: best.imgPerSec, mode: best.mode, alternatives: alternatives.filter((x) => x !== best) }
  })
}

async function tesseract(images: readonly BenchImage[], plan: Plan): Promise<PeerResult | string> {
  return withEngine('tesseract', async (engine) => {
    const read = async (img: BenchImage): Promise<number> => (await engine.read(img.path)).length
    const alternatives: PeerResult['alternatives'] = []
    let seq: { latency: number[]; lines: number[] } | null = null
    if (plan.tesseractSequential) {
      seq = await peerSequential(engine, images, 1)
      alternatives.push({ mode: 'sequential (1 process)', imgPerSec: images.length / (sum(seq.latency) / 1000) })
    }
    const par = await pooled(read, images, 2)
    alternatives.push({ mode: '2 processes in parallel', imgPerSec: par.imgPerSec })
    // without a sequential pass, latency comes from the 2-process pass (one core each)
    const { latency, lines } = seq ?? par
    return { describe: engine.describe, latency, lines, imgPerSec: par.imgPerSec, mode: '2 processes in parallel', alternatives }
  })
}

interface ScalingRow {
  series: string
  image: ScaledImage
  latency: number
  stages: OcrResult['timing_ms']
  lines: number
}

async function scaling(dist: Dist, plan: Plan): Promise<ScalingRow[]> {
  const series: { name: string; images: ScaledImage[] }[] = []
  for (const how of plan.sizeSeries) series.push({ name: `size (${how})`, images: await sizeSeries(CACHE, how) })
  series.push({ name: 'lines', images: await lineSeries(CACHE) })
  const ocr = await dist.index.createOcr({ ...engineOverrides, timeoutMs: LIBRARY_TIMEOUT_MS })
  const rows: ScalingRow[] = []
  try {
    for (const s of series) {
      for (const img of s.images) {
        progress(`scaling: ${img.name}`)
        let last: OcrResult = await ocr.read(img.path) // warm-up for this shape
        const lat: number[] = []
        for (let r = 0; r < plan.scalingReps; r++) {
          const t0 = performance.now()
          last = await ocr.read(img.path)
          lat.push(performance.now() - t0)
        }
        rows.push({ series: s.name, image: img, latency: median(lat), stages: last.timing_ms, lines: last.lines.length })
      }
    }
  } finally {
    await ocr.close()
  }
  return rows
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface HttpRun {
  concurrency: number
  load: LoadResult
  rssBefore: number | null
  rssAfter: number | null
  healthz?: { latencies: number[]; failures: number }
}

interface Service {
  child: Child
  url: string
  stop(): Promise<void>
}

async function startServe(env: Record<string, string>): Promise<Service> {
  const port = await freePort()
  const child = startNode([BIN, 'serve'], { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env }, ROOT)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitReady(`${url}/readyz`, child, 120_000)
  } catch (err) {
    await child.stop()
    throw err
  }
  return { child, url, stop: () => child.stop() }
}

async function httpLoad(service: Service, bodies: readonly RequestBody[], concurrency: 1 | 4 | 16, plan: Plan, probeHealth: boolean): Promise<HttpRun> {
  const rssBefore = rssMiB(service.child.pid)
  const probe = probeHealth ? startProbe(`${service.url}/healthz`, 50) : null
  const load = await runLoad({
    url: `${service.url}/v1/ocr`,
    bodies,
    concurrency,
    requests: bodies.length * plan.httpPasses[concurrency],
    maxDurationMs: plan.httpMaxMs,
    timeoutMs: 120_000,
  })
  const healthz = probe ? await probe.stop() : undefined
  return { concurrency, load, rssBefore, rssAfter: rssMiB(service.child.pid), ...(healthz ? { healthz } : {}) }
}

function okLatencies(r: LoadResult): number[] {
  return r.samples.filter((s) => s.status === 200).map((s) => s.ms)
}

async function httpSingle(bodies: readonly RequestBody[], plan: Plan): Promise<{ runs: HttpRun[]; rssIdle: number | null }> {
  const service = await startServe({ OCR_MODE: 'single' })
  try {
    // warm-up: each image once (the workers warmed up on a tiny page only)
    await runLoad({ url: `${service.url}/v1/ocr`, bodies, concurrency: 4, requests: bodies.length, maxDurationMs: plan.httpMaxMs })
    const rssIdle = rssMiB(service.child.pid)
    const runs: HttpRun[] = []
    for (const c of [1, 4, 16] as const) {
      progress(`http: single mode, concurrency ${c}`)
      runs.push(await httpLoad(service, bodies, c, plan, c === 16))
    }
    return { runs, rssIdle }
  } finally {
    await service.stop()
  }
}

interface RemoteRun {
  protocol: 'kserve-http' | 'kserve-grpc'
  runs: HttpRun[]
}

async function httpRemote(bodies: readonly RequestBody[], plan: Plan): Promise<{ runs: RemoteRun[]; modelServerRss: number | null }> {
  const repo = join(CACHE, 'model-repo')
  execFileSync(process.execPath, [BIN, 'models-repo', '--out', repo, '--force'], { cwd: ROOT, stdio: 'ignore' })
  const httpPort = await freePort()
  const grpcPort = await freePort()
  const modelServer = startNode(
    [BIN, 'model-server', '--repository', repo, '--host', '127.0.0.1', '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--log-level', 'warn'],
    {},
    ROOT,
  )
  const out: RemoteRun[] = []
  try {
    await waitReady(`http://127.0.0.1:${httpPort}/v2/health/ready`, modelServer, 120_000)
    for (const protocol of ['kserve-http', 'kserve-grpc'] as const) {
      const url = protocol === 'kserve-http' ? `http://127.0.0.1:${httpPort}` : `127.0.0.1:${grpcPort}`
      const service = await startServe({ OCR_MODE: 'remote', OCR_REMOTE_URL: url, OCR_REMOTE_PROTOCOL: protocol, OCR_REMOTE_BINARY: 'true' })
      try {
        // warm-up: the model server's sessions (once is enough with --quick), this service's workers
        if (!plan.quick || out.length === 0) await runLoad({ url: `${service.url}/v1/ocr`, bodies, concurrency: 4, requests: bodies.length, maxDurationMs: plan.httpMaxMs })
        const runs: HttpRun[] = []
        for (const c of plan.remoteConcurrency) {
          progress(`remote: ${protocol}, concurrency ${c}`)
          runs.push(await httpLoad(service, bodies, c, plan, false))
        }
        out.push({ protocol, runs })
      } finally {
        await service.stop()
      }
    }
    return { runs: out, modelServerRss: rssMiB(modelServer.pid) }
  } finally {
    await modelServer.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// Machine

function machine(): { cpu: string; cores: number; memGiB: number; node: string; os: string; load: number[]; tesseract: string | null } {
  let tess: string | null = null
  try {
    tess = execFileSync('tesseract', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim()
  } catch {
    tess = null
  }
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    load: os.loadavg().map((l) => Math.round(l * 100) / 100),
    tesseract: tess,
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      sections: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'write-doc': { type: 'boolean', default: false },
      'ocrserve-settings': { type: 'string' },
    },
    strict: true,
  })
  const plan = values.quick ? QUICK : FULL
  const sections = new Set<Section>(
    values.sections
      ? values.sections.split(',').map((s) => {
          const t = s.trim() as Section
          if (!SECTIONS.includes(t)) throw new RangeError(`unknown section "${s}" (known: ${SECTIONS.join(', ')})`)
          return t
        })
      : SECTIONS,
  )
  if (plan.quick) sections.delete('sweep')
  if (values['ocrserve-settings']) {
    const parsed: unknown = JSON.parse(values['ocrserve-settings'])
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TypeError('--ocrserve-settings must be a JSON object')
    engineOverrides = parsed as Record<string, unknown>
    if (values['write-doc']) throw new RangeError('--write-doc records default settings only; drop --ocrserve-settings')
  }
  mkdirSync(CACHE, { recursive: true })
  const mach = machine()
  progress(`${mach.cpu}, ${mach.cores} cores, Node ${mach.node}, load ${mach.load.join(' ')}; ${plan.quick ? 'quick' : 'full'} run; sections ${[...sections].join(',')}`)

  const dist = await loadDist()
  const images = await loadBenchSet(EVAL_REAL, CACHE, plan.quick)
  // the core set: --quick's images; the sweep and the HTTP sections use it in both modes
  const core = plan.quick ? images : await loadBenchSet(EVAL_REAL, CACHE, true)
  const kinds = ['page', 'scene', 'line', 'generated'].map((k) => `${images.filter((i) => i.kind === k).length} ${k}`).join(', ')
  process.stdout.write(`# ocrserve benchmark (${plan.quick ? 'quick' : 'full'})\n\n${new Date().toISOString()} · ${mach.cpu} · ${mach.cores} cores · ${mach.memGiB} GiB · Node ${mach.node} · load at start ${mach.load.join(' ')}\n\n`)
  if (Object.keys(engineOverrides).length) process.stdout.write(`ocrserve library settings: ${JSON.stringify(engineOverrides)} (HTTP sections: defaults)\n\n`)
  process.stdout.write(`Image set: ${images.length} images (${kinds}), ${(sum(images.map((i) => i.width * i.height)) / 1e6).toFixed(1)} MP in all.\n`)

  const results: Record<string, unknown> = { machine: mach, quick: plan.quick, images: images.map(({ name, kind, width, height, bytes }) => ({ name, kind, width, height, bytes })) }
  const json: Record<string, unknown> = {}
  const failures: { section: string; error: string }[] = []
  /** Runs one section; a failure is reported (stderr, report, JSON) and the run goes on. */
  const attempt = async <T>(section: Section | 'profile', fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn()
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err)
      failures.push({ section, error })
      progress(`section ${section} failed: ${err instanceof Error ? (err.stack ?? error) : error}`)
      emit(`Section ${section} failed`, `\`${error.split('\n')[0]}\``)
      return null
    }
  }

  let seq: SeqResult | null = null
  let floor: FloorResult | null = null
  if (sections.has('seq')) {
    progress(`ocrserve: sequential${sections.has('floor') ? ', interleaved with the in-process pipeline and the model-only floor' : ''}`)
    const r = await attempt('seq', () => ocrserveSequential(dist, images, plan, sections.has('floor')))
    seq = r?.seq ?? null
    floor = r?.floor ?? null
    results.seq = seq
    results.floor = floor
  }
  if (values.profile) {
    progress('profiling the in-process pipeline')
    const p = await attempt('profile', () => profilePipeline(dist, images))
    if (p) floor = floor ? { ...floor, ...p } : { threads: 0, images: [], ...p }
  }

  let sat: Awaited<ReturnType<typeof saturated>> | null = null
  if (sections.has('sat')) {
    progress('ocrserve: saturated, default settings')
    sat = await attempt('sat', () => saturated(dist, images, plan.satPasses, plan.warmUp, {}))
    results.sat = sat
  }

  const sweep: { workers: number; threadsPerWorker: number; imgPerSec: number }[] = []
  if (sections.has('sweep')) {
    for (const s of plan.sweep) {
      progress(`ocrserve: saturated, workers ${s.workers} × threads ${s.threadsPerWorker}`)
      const r = await attempt('sweep', () => saturated(dist, core, SWEEP_PASSES, true, s))
      if (r) sweep.push({ ...s, imgPerSec: r.imgPerSec })
    }
    results.sweep = sweep
  }

  let gutenR: PeerResult | string | null = null
  if (sections.has('guten')) {
    progress('guten: sequential + throughput')
    gutenR = await attempt('guten', () => guten(images, plan))
    results.guten = gutenR
  }

  let tessR: PeerResult | string | null = null
  if (sections.has('tesseract')) {
    progress('tesseract: sequential + 2 processes')
    tessR = await attempt('tesseract', () => tesseract(images, plan))
    results.tesseract = tessR
  }

  // ---- library tables
  const peer = (r: PeerResult | string | null): PeerResult | null => (r && typeof r !== 'string' ? r : null)
  const g = peer(gutenR)
  const t = peer(tessR)
  if (seq || g || t) {
    const rows: string[][] = []
    const row = (name: string, lat: number[] | undefined, lines: number[] | undefined, imgs: number | null, how: string): void => {
      if (!lat) return
      const s = summarize(lat)
      rows.push([name, ms(s.p50), ms(s.p95), ms(s.mean), String(sum(lines ?? [])), fmt(imgs, 2), how])
    }
    if (seq) row('ocrserve', seq.latency, seq.lines, sat?.imgPerSec ?? null, sat ? `all at once, ${sat.workers} workers × ${sat.threadsPerWorker} threads (default)` : '–')
    if (g) row('Guten OCR', g.latency, g.lines, g.imgPerSec, g.mode)
    if (t) row('Tesseract', t.latency, t.lines, t.imgPerSec, t.mode)
    const skipped = [gutenR, tessR].filter((r): r is string => typeof r === 'string')
    emit(
      'Library: per-image latency (sequential) and throughput (saturated)',
      markdownTable(['engine', 'p50 ms', 'p95 ms', 'mean ms', 'lines found', 'images/s', 'throughput measured as'], rows),
      [
        `Same ${images.length} images for every engine, read from files; latency = median of ${plan.seqReps} sequential pass${plan.seqReps > 1 ? 'es' : ''} (Guten ${plan.gutenReps}${plan.tesseractSequential ? ', Tesseract 1' : '; Tesseract: its 2-process pass, one core each'})${plan.warmUp ? ' after a warm-up pass (not Tesseract: separate processes)' : ''}.`,
        t ? `Tesseract: ${t.describe}; ${t.alternatives.map((a) => `${a.mode} ${fmt(a.imgPerSec, 2)}`).join('; ')} images/s.` : '',
        g && g.alternatives.length ? `Guten OCR, its other configuration: ${g.alternatives.map((a) => `${a.mode} ${fmt(a.imgPerSec, 2)}`).join('; ')} images/s (the table shows the better one).` : '',
        skipped.length ? `Not run: ${skipped.join('; ')}.` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    )
  }

  if (seq) {
    const st = seq.stages
    emit(
      'ocrserve stage breakdown (mean timing_ms per image, sequential)',
      markdownTable(
        ['decode', 'det', 'cls', 'rec', 'total (in worker)', 'latency seen by read()'],
        [[ms(st.decode, 1), ms(st.det, 1), ms(st.cls, 1), ms(st.rec, 1), ms(st.total, 1), ms(mean(seq.latency), 1)]],
        ['r', 'r', 'r', 'r', 'r', 'r'],
      ),
      'det = detector pre-processing + run + DB post-processing + crops (second detector pass included); cls and rec include tensor packing and decoding. read() latency adds the hop to the worker thread and back.',
    )
  }

  if (floor && floor.images.length > 0) {
    const f = floor.images
    const tot = (pick: (x: FloorImage) => number): number => sum(f.map(pick)) / f.length
    const roleRow = (role: ModelRole): string[] => {
      const stage = tot((x) => x.stageMs[role])
      const model = tot((x) => x.modelInPipeline[role])
      const fl = tot((x) => x.floor[role])
      const mb = (pick: (b: { in: number; out: number }) => number): string => fmt(tot((x) => pick(x.bytes[role])) / 1e6, 1)
      return [role, ms(stage, 1), ms(model, 1), ms(stage - model, 1), ms(fl, 1), String(sum(f.map((x) => x.calls[role]))), mb((b) => b.in), mb((b) => b.out)]
    }
    const allMb = (pick: (b: { in: number; out: number }) => number): string => fmt(tot((x) => pick(x.bytes.det) + pick(x.bytes.cls) + pick(x.bytes.rec)) / 1e6, 1)
    const pipelineMean = tot((x) => x.pipelineMs)
    const decodeMean = tot((x) => x.decodeMs)
    emit(
      `Model-only floor (in-process pipeline, ${floor.threads} ORT thread${floor.threads > 1 ? 's' : ''} as one default worker)`,
      markdownTable(
        ['stage', 'stage ms', 'run() in pipeline ms', 'outside run() ms', 'floor: replayed run() ms', 'run() calls', 'tensors in MB', 'tensors out MB'],
        [
          ['decode', ms(decodeMean, 1), '–', ms(decodeMean, 1), '–', '–', '–', '–'],
          roleRow('det'),
          roleRow('cls'),
          roleRow('rec'),
          ['total', ms(pipelineMean, 1), ms(tot((x) => x.modelInPipeline.det + x.modelInPipeline.cls + x.modelInPipeline.rec), 1), ms(pipelineMean - tot((x) => x.modelInPipeline.det + x.modelInPipeline.cls + x.modelInPipeline.rec), 1), ms(tot((x) => x.floorMs), 1), String(sum(f.map((x) => x.calls.det + x.calls.cls + x.calls.rec))), allMb((b) => b.in), allMb((b) => b.out)],
        ],
      ),
      [
        `Means per image, from the last sequential pass. The floor replays the exact tensors the pipeline fed (recorded), on the same sessions, right after the pipeline ran.`,
        `Zero padding inside the model inputs (computed, then thrown away): ${(['cls', 'rec'] as const)
          .map((role) => {
            const cols = sum(f.map((x) => x.padding[role].columns))
            const pad = sum(f.map((x) => x.padding[role].padded))
            return `${role} ${fmt(cols ? (100 * pad) / cols : null, 1)} % of input columns (≈ ${ms(cols ? (tot((x) => x.floor[role]) * pad) / cols : null, 0)} ms of its floor per image, if time is linear in width)`
          })
          .join('; ')}.`,
      ].join('\n'),
    )
    if (seq) {
      const solo = seq.soloLatency ?? seq.latency
      const perImage = images.map((img, i) => [img.name, `${img.width}×${img.height}`, ms(solo[i], 0), ms(f[i]!.pipelineMs, 0), ms(f[i]!.floorMs, 0), fmt(ratio(solo[i], f[i]!.floorMs), 2), ms(seq!.latency[i], 0), fmt(ratio(seq!.latency[i], f[i]!.floorMs), 2), String(seq!.lines[i])])
      emit(
        'Per image: ocrserve latency vs model-only floor',
        markdownTable(['image', 'size', 'read() ms, one worker', 'in-process ms', 'floor ms', 'read() / floor', 'read() ms, idle workers help (default)', 'helped / floor', 'lines'], perImage),
        [
          `read(), one worker: an engine with idleAssist off, so that one worker does all of the image's work, as the floor counts it; idle workers help: the default engine, where the other (idle) worker runs some of the classifier's and recogniser's calls; the two engines read each image one right after the other, taking turns going first.`,
          `overhead_vs_floor = median over images of one-worker read() / floor = ${fmt(floorRatios(seq, f).median, 3)} (in-process pipeline / floor: ${fmt(median(f.map((x) => x.pipelineMs / x.floorMs)), 3)}; default engine with help: ${fmt(floorRatios(seq, f, true).median, 3)}).`,
          `Over the whole set (time-weighted, dominated by the largest pages): Σ read() / Σ floor = ${fmt(floorRatios(seq, f).total, 3)} (with help ${fmt(floorRatios(seq, f, true).total, 3)}); Σ in-process / Σ floor = ${fmt(ratio(sum(f.map((x) => x.pipelineMs)), sum(f.map((x) => x.floorMs))), 3)}.`,
        ].join('\n'),
      )
    }
  }
  if (floor?.hot) {
    emit(
      'CPU profile of the in-process pipeline (main thread, self time)',
      markdownTable(['function', 'self ms', 'share'], floor.hot.map((h) => [h.where, ms(h.selfMs, 0), `${(h.share * 100).toFixed(1)} %`])),
      `Profile: ${floor.profilePath} (open in Chrome DevTools / speedscope). ONNX Runtime's own threads are not sampled; its time on the main thread shows under the run() caller or (program).`,
    )
  }

  if (sweep.length || sat) {
    const rows: string[][] = []
    if (sat) rows.push([`${sat.workers} × ${sat.threadsPerWorker} (default)`, `full (${images.length} images)`, fmt(sat.imgPerSec, 2)])
    const defaultSetting = sat ? `${sat.workers}x${sat.threadsPerWorker}` : null
    for (const r of sweep) rows.push([`${r.workers} × ${r.threadsPerWorker}${`${r.workers}x${r.threadsPerWorker}` === defaultSetting ? ' (default)' : ''}`, `core (${core.length} images)`, fmt(r.imgPerSec, 2)])
    emit(
      'ocrserve saturated throughput: workers × ONNX threads per worker',
      markdownTable(['workers × threads', 'set', 'images/s'], rows),
      `Full set: submitted ${plan.satPasses}× at once${plan.warmUp ? ' after a warm-up pass' : ''}. Sweep: the core set submitted ${SWEEP_PASSES}× at once after a warm-up pass, for each setting.`,
    )
  }

  let scalingRows: ScalingRow[] = []
  if (sections.has('scaling')) {
    progress('scaling')
    scalingRows = (await attempt('scaling', () => scaling(dist, plan))) ?? []
    if (scalingRows.length) results.scaling = scalingRows.map((r) => ({ series: r.series, name: r.image.name, width: r.image.width, height: r.image.height, param: r.image.param, latency: r.latency, stages: r.stages, lines: r.lines, linesDrawn: r.image.linesDrawn }))
    if (scalingRows.length) emit(
      'Scaling: latency vs page size and number of lines (ocrserve, sequential)',
      markdownTable(
        ['series', 'image', 'size', 'lines drawn', 'lines found', 'latency ms', 'decode', 'det', 'cls', 'rec'],
        scalingRows.map((r) => [r.series, r.image.name, `${r.image.width}×${r.image.height}`, String(r.image.linesDrawn), String(r.lines), ms(r.latency), ms(r.stages.decode), ms(r.stages.det), ms(r.stages.cls), ms(r.stages.rec)]),
      ),
      `Median of ${plan.scalingReps} reads after a warm-up read. upscaled = one 0.3 MP page of 12 lines resized (text grows with the page); tiled = that page repeated (text keeps its size, lines grow with the area; lines cut at tile edges count as found when read); lines = 1000×1400 pages with 20 px text.`,
    )
  }

  const bodies: RequestBody[] = core.map((img) => ({ data: readFileSync(img.path), contentType: contentType(img.path), name: img.name }))
  let single: Awaited<ReturnType<typeof httpSingle>> | null = null
  if (sections.has('http')) {
    progress('http: single mode')
    single = await attempt('http', () => httpSingle(bodies, plan))
  }
  if (single) {
    results.http = single.runs.map((r) => ({ concurrency: r.concurrency, seconds: r.load.seconds, completed: r.load.completed, errors: r.load.errors, statuses: r.load.statuses, latency: summarize(okLatencies(r.load)), rssBefore: r.rssBefore, rssAfter: r.rssAfter, healthz: r.healthz ? { ...summarize(r.healthz.latencies), failures: r.healthz.failures } : null }))
    emit(
      'HTTP: `ocrserve serve` (single mode, default workers), closed-loop load',
      markdownTable(
        ['concurrency', 'requests', 'req/s (= images/s)', 'p50 ms', 'p99 ms', 'errors', 'RSS before MiB', 'RSS after MiB'],
        single.runs.map((r) => {
          const s = summarize(okLatencies(r.load))
          return [String(r.concurrency), String(r.load.completed), fmt(r.load.completed / r.load.seconds, 2), ms(s.p50), ms(s.p99), String(r.load.errors), ms(r.rssBefore), ms(r.rssAfter)]
        }),
      ),
      (() => {
        const h = single.runs.find((r) => r.healthz)?.healthz
        const hs = h ? summarize(h.latencies) : null
        return [
          `Raw image bodies (Content-Type image/*), the core set's ${bodies.length} images in turn, after a warm-up pass; requests = set size × ${plan.httpPasses[1]}/${plan.httpPasses[4]}/${plan.httpPasses[16]} for c = 1/4/16. RSS (VmRSS of the server process, workers included) after warm-up: ${ms(single.rssIdle)} MiB.`,
          hs ? `/healthz every 50 ms during the c=16 load: ${hs.n} probes, p50 ${fmt(hs.p50, 1)} ms, p99 ${fmt(hs.p99, 1)} ms, max ${fmt(hs.max, 1)} ms, ${h!.failures} failed.` : '',
        ]
          .filter(Boolean)
          .join('\n')
      })(),
    )
  }

  let remote: Awaited<ReturnType<typeof httpRemote>> | null = null
  if (sections.has('remote')) {
    progress('remote: model server + serve in remote mode')
    remote = await attempt('remote', () => httpRemote(bodies, plan))
  }
  if (remote) {
    results.remote = remote.runs.map((p) => ({ protocol: p.protocol, runs: p.runs.map((r) => ({ concurrency: r.concurrency, seconds: r.load.seconds, completed: r.load.completed, errors: r.load.errors, latency: summarize(okLatencies(r.load)), rssAfter: r.rssAfter })) }))
    const singleAt = (c: number): HttpRun | undefined => single?.runs.find((r) => r.concurrency === c)
    const rows: string[][] = []
    for (const c of [1, 4]) {
      const s = singleAt(c)
      if (s) rows.push(['single (in-process ONNX)', String(c), fmt(s.load.completed / s.load.seconds, 2), ms(percentile(okLatencies(s.load), 50)), ms(percentile(okLatencies(s.load), 99)), String(s.load.errors), '1.00'])
      for (const p of remote.runs) {
        const r = p.runs.find((x) => x.concurrency === c)
        if (!r) continue
        const p50 = percentile(okLatencies(r.load), 50)
        rows.push([`remote ${p.protocol}${p.protocol === 'kserve-http' ? ' (binary)' : ''}`, String(c), fmt(r.load.completed / r.load.seconds, 2), ms(p50), ms(percentile(okLatencies(r.load), 99)), String(r.load.errors), fmt(ratio(p50, s ? percentile(okLatencies(s.load), 50) : null), 2)])
      }
    }
    emit(
      'Remote mode: `ocrserve serve` → `ocrserve model-server` on loopback',
      markdownTable(['mode', 'concurrency', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'p50 / single p50'], rows),
      [
        `Same request mix as single mode (the core set). The model server (default workers, dynamic batching) runs on the same machine, so it competes with the service for the same cores. Model server RSS: ${ms(remote.modelServerRss)} MiB.`,
        floor?.images.length
          ? `Tensors a model server must move per image (full set, from the floor section): ${fmt(mean(floor.images.map((x) => x.bytes.det.in + x.bytes.cls.in + x.bytes.rec.in)) / 1e6, 1)} MB in, ${fmt(mean(floor.images.map((x) => x.bytes.det.out + x.bytes.cls.out + x.bytes.rec.out)) / 1e6, 1)} MB out, of which the recogniser's softmax output is ${fmt(mean(floor.images.map((x) => x.bytes.rec.out)) / 1e6, 1)} MB.`
          : '',
      ]
        .filter(Boolean)
        .join('\n'),
    )
  }

  let jobs: Awaited<ReturnType<typeof benchJobs>> | null = null
  if (sections.has('jobs')) {
    progress('jobs')
    jobs = await attempt('jobs', () => benchJobs(ROOT, EVAL_REAL, plan.quick, progress))
  }
  if (jobs) {
    results.jobs = jobs.results
    for (const b of jobs.blocks) emit(b.title, b.body, b.note)
  }

  // ---- headline numbers
  const floorSum = floor ? sum(floor.images.map((x) => x.floorMs)) : null
  const best = sweep.reduce<{ workers: number; threadsPerWorker: number; imgPerSec: number } | null>((a, b) => (!a || b.imgPerSec > a.imgPerSec ? b : a), null)
  const sweepDefault = sat ? sweep.find((x) => x.workers === sat!.workers && x.threadsPerWorker === sat!.threadsPerWorker) : undefined
  const remoteRatio = (protocol: string, c: number): number | null => {
    const s = single?.runs.find((r) => r.concurrency === c)
    const r = remote?.runs.find((p) => p.protocol === protocol)?.runs.find((x) => x.concurrency === c)
    return s && r ? ratio(percentile(okLatencies(r.load), 50), percentile(okLatencies(s.load), 50)) : null
  }
  const c16 = single?.runs.find((r) => r.concurrency === 16)
  const httpAt = (c: number): HttpRun | undefined => single?.runs.find((r) => r.concurrency === c)
  Object.assign(json, {
    ocrserve_img_s: round(sat?.imgPerSec, 3),
    guten_img_s: round(g?.imgPerSec, 3),
    tesseract_img_s: round(t?.imgPerSec, 3),
    speedup_vs_guten: round(ratio(sat?.imgPerSec, g?.imgPerSec), 2),
    overhead_vs_floor: seq && floor?.images.length ? round(floorRatios(seq, floor.images).median, 3) : null,
    overhead_vs_floor_total: seq && floor?.images.length ? round(floorRatios(seq, floor.images).total, 3) : null,
    helped_latency_vs_floor: seq && floor?.images.length ? round(floorRatios(seq, floor.images, true).median, 3) : null,
    healthz_p99_ms: c16?.healthz ? round(percentile(c16.healthz.latencies, 99), 1) : null,
    remote_http_ratio: round(remoteRatio('kserve-http', 4), 3),
    remote_grpc_ratio: round(remoteRatio('kserve-grpc', 4), 3),
    remote_http_ratio_c1: round(remoteRatio('kserve-http', 1), 3),
    remote_grpc_ratio_c1: round(remoteRatio('kserve-grpc', 1), 3),
    sweep_best_setting: best ? `${best.workers}x${best.threadsPerWorker}` : null,
    sweep_best_img_s: round(best?.imgPerSec, 3),
    sweep_default_img_s: round(sweepDefault?.imgPerSec, 3),
    ocrserve_seq_p50_ms: seq ? round(percentile(seq.latency, 50), 1) : null,
    ocrserve_seq_p95_ms: seq ? round(percentile(seq.latency, 95), 1) : null,
    guten_seq_p50_ms: g ? round(percentile(g.latency, 50), 1) : null,
    tesseract_seq_p50_ms: t ? round(percentile(t.latency, 50), 1) : null,
    floor_mean_ms: floor && floorSum ? round(floorSum / floor.images.length, 1) : null,
    http_c1_rps: round(httpAt(1) ? httpAt(1)!.load.completed / httpAt(1)!.load.seconds : null, 2),
    http_c4_rps: round(httpAt(4) ? httpAt(4)!.load.completed / httpAt(4)!.load.seconds : null, 2),
    http_c16_rps: round(c16 ? c16.load.completed / c16.load.seconds : null, 2),
    http_c16_p99_ms: c16 ? round(percentile(okLatencies(c16.load), 99), 0) : null,
    http_errors: single ? sum(single.runs.map((r) => r.load.errors)) : null,
    ...(jobs?.json ?? {}),
    images: images.length,
    quick: plan.quick,
    failed_sections: failures.map((f) => f.section),
    seconds: round((performance.now() - started) / 1000, 0),
  })
  results.summary = json
  results.failures = failures
  writeFileSync(join(CACHE, plan.quick ? 'results-quick.json' : 'results.json'), JSON.stringify(results, null, 2))

  const headline = [
    ['ocrserve images/s (default, saturated)', fmt(json.ocrserve_img_s as number | null, 2), ''],
    ['Guten OCR images/s', fmt(json.guten_img_s as number | null, 2), ''],
    ['Tesseract images/s (2 processes)', fmt(json.tesseract_img_s as number | null, 2), ''],
    ['speedup vs Guten', fmt(json.speedup_vs_guten as number | null, 2), '≥ 3'],
    ['sequential latency / model-only floor (median image)', fmt(json.overhead_vs_floor as number | null, 3), '≤ 1.15'],
    ['the same with idle workers helping (default engine)', fmt(json.helped_latency_vs_floor as number | null, 3), ''],
    ['/healthz p99 under c=16 load (ms)', fmt(json.healthz_p99_ms as number | null, 1), '< 20'],
    ['remote kserve-http p50 / single (c=4)', fmt(json.remote_http_ratio as number | null, 3), '≤ 1.10'],
    ['remote kserve-grpc p50 / single (c=4)', fmt(json.remote_grpc_ratio as number | null, 3), '≤ 1.10'],
    ['24-page job, pages spread / one worker per document (2 workers)', fmt(json.jobs_memory_spread_over_one as number | null, 3), '≤ 0.6'],
    ['the same against one worker without idle help', fmt(json.jobs_memory_spread_over_one_alone as number | null, 3), ''],
    ['job status GET p99 with 2 replicas on Redis, while jobs run (ms)', fmt(json.jobs_redis_status_p99_ms as number | null, 1), '< 20'],
  ]
  emit('Summary against the targets', markdownTable(['measure', 'value', 'target'], headline))

  if (values['write-doc']) writeDoc(plan, mach)
  progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s${failures.length ? `; failed sections: ${failures.map((f) => f.section).join(', ')}` : ''}`)
  process.stdout.write(`\n${JSON.stringify(json)}\n`)
  if (failures.length) process.exitCode = 1
}

function writeDoc(plan: Plan, mach: ReturnType<typeof machine>): void {
  if (!existsSync(DOC)) throw new Error(`${DOC} is missing: it holds the results markers`)
  const doc = readFileSync(DOC, 'utf8')
  const a = doc.indexOf(DOC_START)
  const b = doc.indexOf(DOC_END)
  if (a < 0 || b < a) throw new Error(`${DOC} has no ${DOC_START} … ${DOC_END} markers`)
  const header = `Run: \`npm run bench${plan.quick ? ' -- --quick' : ''}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${mach.cpu}, ${mach.cores} cores, ${mach.memGiB} GiB, Node ${mach.node}, ${mach.os}; load average at start ${mach.load.join(' ')}.\n\n`
  const body = `${DOC_START}\n${header}${report.join('\n')}\n${DOC_END}`
  writeFileSync(DOC, doc.slice(0, a) + body + doc.slice(b + DOC_END.length))
  progress(`results written to ${DOC}`)
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
