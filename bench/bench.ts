/**
 * Speed, cost and scale: `npm run bench [-- --quick] [--sections a,b] [--profile] [--write-doc]
 * [--ocrserve-settings JSON]`.
 *
 * Sections (all by default, in this order):
 *   seq      ocrserve library, one image at a time: per-image latency, stage breakdown (timing_ms)
 *   floor    the same pipeline in-process over a recording backend; the recorded tensors replayed
 *            on bare ONNX sessions = the model-only floor; ocrserve's latency / floor, per pass
 *   guten, ppu, tesseract
 *            the peers: Guten OCR (@gutenye/ocr-node), ppu-paddle-ocr (both on the same PP-OCRv4
 *            files), the tesseract CLI (chi_sim+eng): one image at a time (full run), then
 *   sat      ocrserve saturated (all images submitted at once), default workers, in throughput
 *            rounds with the peers: images/s and CPU seconds per image, ratios per round
 *   sweep    saturated throughput for workers × threadsPerWorker settings (never with --quick)
 *   extras   ocrserve's extra work (angle classifier, page orientation, second detection pass),
 *            each turned off in turn, in rounds: what each costs in CPU per image
 *   startup  each engine started in a fresh process: until ready, and its first read
 *   scaling  latency vs page size (0.3–12 MP) and vs number of text lines
 *            (--quick leaves out extras, startup, scaling and jobs unless --sections names them)
 *   http     `ocrserve serve` under closed-loop load at concurrency 1, 4, 16; /healthz during c=16
 *   remote   the same load with `ocrserve model-server` behind (kserve-http binary, kserve-grpc)
 *   jobs     async jobs on 24-page PDFs: how a page task gets its page, the memory store with one
 *            worker per document vs pages spread, two replicas on one Redis (bench/jobs.ts)
 *
 * Every measure a printed ratio is formed from is repeated (rounds, passes or runs: 3 in a full
 * run, 2 with --quick) and each ratio is formed within a round and printed as median (min–max).
 *
 * Human tables go to stdout as sections finish, then a summary; the LAST line of stdout is one
 * JSON object with the headline numbers (a ratio's median under its key, its spread under
 * `<key>_spread`). Progress goes to stderr. Full results are saved to .cache/bench/results.json;
 * --write-doc puts the tables into docs/BENCHMARKS.md between the results markers. --profile
 * CPU-profiles the in-process pipeline (floor section) and prints the functions with the most
 * self time.
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import type { Ocr, OcrResult } from '../src/index.js'
import type { Backend, ModelRole } from '../src/inference/backend.js'
import { benchJobs } from './jobs.js'
import { hotSpots, profile } from './lib/cpuprofile.js'
import { EVAL_REAL } from './lib/eval-real.js'
import { createEngine, type EngineName, EngineUnavailable, type EvalEngine } from './lib/engines.js'
import { FloorPool } from './lib/floor-pool.js'
import { createPool } from './lib/peer-pool.js'
import { type BenchImage, contentType, lineSeries, loadBenchSet, type ScaledImage, sizeSeries } from './lib/images.js'
import { type LoadResult, pairedLatencyRatio, type RequestBody, runLoad, startProbe } from './lib/load.js'
import { type Child, freePort, rssMiB, startModelServer, startNode, waitReady } from './lib/procs.js'
import { describeCall, floorBackends, type RecordedCall, RecordingBackend, replay, type RoleTimes, zeroRoleTimes } from './lib/recording.js'
import { type Companion, type Contestant, pooled, type RoundsResult, throughputRounds } from './lib/rounds.js'
import { fmt, fmtSpread, markdownTable, mean, median, pairedRatios, percentile, ratio, relativeRange, rotation, round, type Spread, spread, spreadJson, sum, summarize } from './lib/stats.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The build the bench measures (npm run bench builds it first). */
const DIST = join(ROOT, 'dist')
const CACHE = join(ROOT, '.cache', 'bench')
const DOC = join(ROOT, 'docs', 'BENCHMARKS.md')
const DOC_START = '<!-- bench:results:start -->'
const DOC_END = '<!-- bench:results:end -->'
const BIN = join(ROOT, 'bin', 'ocrserve.js')
const STARTUP = join(ROOT, 'bench', 'lib', 'startup.ts')
const execFileAsync = promisify(execFile)

/**
 * Per-read time limit for the library engines: a job's limit counts its time in the queue, and a
 * saturated run queues the whole set at once (the limit does not change how fast a job runs).
 */
const LIBRARY_TIMEOUT_MS = 30 * 60_000

/** The sweep runs on the core set (--quick's images): warm-up, then the set this many times at once. */
const SWEEP_PASSES = 2

const SECTIONS = ['seq', 'floor', 'sat', 'sweep', 'guten', 'ppu', 'tesseract', 'extras', 'startup', 'scaling', 'http', 'remote', 'jobs'] as const
type Section = (typeof SECTIONS)[number]

/**
 * Everything that differs between a full run and --quick. Every measure a ratio is formed from is
 * taken `rounds` (or `seqReps`) times, so each ratio is printed with its spread over the rounds.
 * Budgets: a pass of the full set takes ~40 s on the 2-core reference machine when it is quiet, a
 * pass of the core set (--quick's 9 images) ~8 s; --quick stays under 3 min, the full run takes
 * about half an hour (the extras and the throughput rounds are most of it; --sections picks).
 */
interface Plan {
  quick: boolean
  /** Sequential read() passes after the warm-up, each with its floor (per-image latency = median over them). */
  seqReps: number
  /** Warm-up passes before measuring (sequential, saturated, peers, scaling). */
  warmUp: boolean
  /** Rounds of the throughput measures (ocrserve and peers; ocrserve's extra work) and of the start-ups. */
  rounds: number
  /** Copies of the set each engine reads at once in a throughput round. */
  satCopies: number
  /** The peers also read one image at a time in one default instance (their latency; else from the rounds). */
  peerSequential: boolean
  scalingReps: number
  /** The size series: 'tiled' costs most (a 12 MP page of ~500 lines). */
  sizeSeries: readonly ('upscaled' | 'tiled')[]
  /** Requests per HTTP run as multiples of the core set, per concurrency. */
  httpPasses: Record<1 | 4 | 16, number>
  /** Runs at each of c = 1 and c = 4 (single and remote mode); c = 16 runs once. */
  httpRounds: number
  /** Concurrencies of the remote-mode runs. */
  remoteConcurrency: readonly (1 | 4)[]
  httpMaxMs: number
  /** workers × threadsPerWorker settings tried saturated on the core set. */
  sweep: readonly { workers: number; threadsPerWorker: number }[]
}

const FULL: Plan = {
  quick: false,
  seqReps: 3,
  warmUp: true,
  rounds: 3,
  satCopies: 2,
  peerSequential: true,
  scalingReps: 1,
  sizeSeries: ['upscaled', 'tiled'],
  // c = 16 runs long enough for ≥ 500 /healthz probes (8 passes gave 454 in a run at 8.0 req/s;
  // the summary prints the count beside the p99)
  httpPasses: { 1: 1, 4: 2, 16: 12 },
  httpRounds: 3,
  remoteConcurrency: [1, 4],
  httpMaxMs: 120_000,
  sweep: [
    { workers: 1, threadsPerWorker: 2 },
    { workers: 2, threadsPerWorker: 1 },
    { workers: 2, threadsPerWorker: 2 },
    { workers: 1, threadsPerWorker: 1 },
  ],
}

/** Sections --quick leaves out unless --sections names them (its 3-minute budget); the sweep it never runs. */
const QUICK_SKIPS: readonly Section[] = ['sweep', 'extras', 'startup', 'scaling', 'jobs']

const QUICK: Plan = {
  quick: true,
  seqReps: 2,
  warmUp: true,
  rounds: 2,
  satCopies: 1,
  peerSequential: false,
  scalingReps: 1,
  sizeSeries: ['upscaled'],
  httpPasses: { 1: 1, 4: 1, 16: 2 },
  httpRounds: 2,
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
type DistAssets = typeof import('../src/models/assets.js')
type DistBuiltin = typeof import('../src/packs/builtin.js')

interface Dist {
  index: DistIndex
  config: DistConfig
  pipeline: DistPipeline
  decode: DistDecode
  assets: DistAssets
  builtin: DistBuiltin
}

async function loadDist(): Promise<Dist> {
  const at = (p: string): string => join(DIST, p)
  if (!existsSync(at('index.js'))) throw new Error('ocrserve is not built: run npm run build (npm run bench does)')
  const imp = <T>(p: string): Promise<T> => import(at(p)) as Promise<T>
  return {
    index: await imp<DistIndex>('index.js'),
    config: await imp<DistConfig>('config.js'),
    pipeline: await imp<DistPipeline>('pipeline/pipeline.js'),
    decode: await imp<DistDecode>('image/decode.js'),
    assets: await imp<DistAssets>('models/assets.js'),
    builtin: await imp<DistBuiltin>('packs/builtin.js'),
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
  /** Per pass, per image: read() latency of the default engine (ms). */
  latencyByPass: number[][]
  /** Per pass, per image: read() latency of the one-worker engine (ms), when it ran. */
  soloByPass: number[][] | null
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
  /** Per image, from the last pass: the detail tables. */
  images: FloorImage[]
  /** Per pass, per image: the in-process pipeline (ms) and the replayed floor (ms). */
  passes: { pipelineMs: number[]; floorMs: number[] }[]
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
  const pack = await dist.builtin.builtinPack(settings, { onnx: 'required' })
  const inner = await floorBackends({ dist: DIST, models: dist.assets.resolveModelPaths(settings.models), rewrite: settings.modelRewrite, threads })
  const log: RecordedCall[] = []
  const recording: Record<ModelRole, Backend> = {
    det: new RecordingBackend('det', inner.det, log),
    cls: new RecordingBackend('cls', inner.cls, log),
    rec: new RecordingBackend('rec', inner.rec, log),
  }
  const pipeline = new dist.pipeline.Pipeline((role) => Promise.resolve(recording[role as ModelRole]), pack, settings)
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
async function ocrserveSequential(dist: Dist, images: readonly BenchImage[], plan: Plan, withFloor: boolean): Promise<{ seq: SeqResult; floor: FloorResult | null; calls: RecordedCall[] }> {
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
    let runs: Awaited<ReturnType<InProcess['read']>>[] = []
    let replays: RoleTimes[] = []
    const floorPasses: FloorResult['passes'] = []
    let reads = 0
    for (let r = 0; r < plan.seqReps; r++) {
      progress(`ocrserve sequential: pass ${r + 1} of ${plan.seqReps}${inproc ? ', with the in-process pipeline and the floor' : ''}`)
      // every pass measures the floor too, so each pass gives its own latency / floor ratios
      runs = []
      replays = []
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
        if (inproc) {
          const run = await inproc.read(img)
          replays.push(await inproc.replay(run.calls))
          // the last pass's tensors are replayed again by the saturated floor; the others are not needed
          if (r < plan.seqReps - 1) run.calls.forEach((c) => (c.feeds = {}))
          runs.push(run)
        }
      }
      if (inproc) floorPasses.push({ pipelineMs: runs.map((x) => x.pipelineMs), floorMs: replays.map((x) => x.det + x.cls + x.rec) })
    }
    for (const k of Object.keys(stages) as (keyof typeof stages)[]) stages[k] /= reads
    const byPass = (perImage: number[][]): number[][] => Array.from({ length: plan.seqReps }, (_, r) => perImage.map((l) => l[r]!))
    const seq: SeqResult = {
      latency: lat.map((l) => median(l)),
      soloLatency: solo ? soloLat.map((l) => median(l)) : null,
      stages,
      lines,
      workers,
      threadsPerWorker,
      latencyByPass: byPass(lat),
      soloByPass: solo ? byPass(soloLat) : null,
    }
    if (!inproc) return { seq, floor: null, calls: [] }
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
    return { seq, floor: { threads: inproc.threads, images: floorImages, passes: floorPasses }, calls: runs.flatMap((x) => x.calls) }
  } finally {
    await ocr.close()
    await solo?.close()
    await inproc?.close()
  }
}

/** The saturated floor (bench/lib/floor-pool.ts), per round. */
interface SaturatedFloor {
  workers: number
  threads: number
  images: number
  /** Per round: images/s of every worker replaying the set's calls side by side. */
  imgPerSec: number[]
  /** Per round: Σ run() of one worker replaying the set alone (ms), the others idle. */
  aloneMs: number[]
  /** Per round: Σ run() per worker (mean over the workers) replaying the set side by side (ms). */
  togetherMs: number[]
}

/**
 * The recorded calls of the last sequential pass replayed on as many threads as ocrserve's default
 * workers, each with its own sessions: side by side (the machine's limit for these networks in
 * this layout) and one alone (the same calls without company: the sequential floor, measured in the
 * same round), taking turns going first. A companion of the library rounds: it takes its turn in
 * every round, so ocrserve's rate and the floor's are measured under the same machine conditions.
 */
async function startSaturatedFloor(dist: Dist, calls: readonly RecordedCall[], images: number): Promise<{ companion: Companion; result: SaturatedFloor; close: () => Promise<void> }> {
  const settings = dist.index.parseEngineSettings({ ...engineOverrides })
  const { workers, threadsPerWorker: threads } = dist.config.resolveParallelism(settings)
  const pool = await FloorPool.start({ dist: DIST, models: dist.assets.resolveModelPaths(settings.models), rewrite: settings.modelRewrite, workers, threads }, calls)
  const total = (t: RoleTimes): number => t.det + t.cls + t.rec
  try {
    progress('saturated floor: warm-up pass')
    await pool.pass()
  } catch (err) {
    await pool.close()
    throw err
  }
  const result: SaturatedFloor = { workers, threads, images, imgPerSec: [], aloneMs: [], togetherMs: [] }
  const companion: Companion = {
    label: 'saturated floor',
    async round(r) {
      const alone = async (): Promise<void> => void result.aloneMs.push(total((await pool.pass(true)).times[0]!))
      if (r % 2 === 1) await alone()
      const together = await pool.pass()
      result.imgPerSec.push((workers * images) / (together.wallMs / 1000))
      result.togetherMs.push(mean(together.times.map(total)))
      if (r % 2 === 0) await alone()
    },
  }
  return { companion, result, close: () => pool.close() }
}

/**
 * read() latency over the floor, per pass (each pass measures both): the median of the per-image
 * ratios and Σ read() / Σ floor, as spreads over the passes. By default the latency of the engine
 * without idle workers' help (the floor is one worker's work); `helped` compares the default
 * engine's latency instead.
 */
function floorRatios(seq: SeqResult, floor: FloorResult, helped = false): { median: Spread | null; total: Spread | null } {
  const byPass = helped ? seq.latencyByPass : (seq.soloByPass ?? seq.latencyByPass)
  const medians: number[] = []
  const totals: number[] = []
  for (const [r, p] of floor.passes.entries()) {
    const latency = byPass[r]
    if (!latency) continue
    medians.push(median(pairedRatios(latency, p.floorMs)))
    totals.push(sum(latency) / sum(p.floorMs))
  }
  return { median: spread(medians), total: spread(totals) }
}

/** The in-process pipeline over the floor, per pass: median of the per-image ratios and Σ / Σ. */
function inProcessRatios(floor: FloorResult): { median: Spread | null; total: Spread | null } {
  return {
    median: spread(floor.passes.map((p) => median(pairedRatios(p.pipelineMs, p.floorMs)))),
    total: spread(floor.passes.map((p) => ratio(sum(p.pipelineMs), sum(p.floorMs)))),
  }
}

/** Per image: read() / floor over the passes (one-worker engine, or the default one with `helped`). */
function imageFloorRatios(seq: SeqResult, floor: FloorResult, i: number, helped = false): Spread | null {
  const byPass = helped ? seq.latencyByPass : (seq.soloByPass ?? seq.latencyByPass)
  return spread(floor.passes.map((p, r) => ratio(byPass[r]?.[i], p.floorMs[i])))
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

// ---------------------------------------------------------------------------------------------
// Library throughput in rounds (bench/lib/rounds.ts): ocrserve against its peers, and ocrserve
// with parts of its extra work turned off

type PeerName = Exclude<EngineName, 'ocrserve'>
const PEERS: readonly PeerName[] = ['guten', 'ppu', 'tesseract']
const LABEL: Record<EngineName, string> = { ocrserve: 'ocrserve', guten: 'Guten OCR', ppu: 'ppu-paddle-ocr', tesseract: 'Tesseract' }

/**
 * ocrserve's work beyond PaddleOCR's pipeline (and beyond the peers', which have none of it), each
 * turned off in turn; the last row turns all three off.
 */
const EXTRA_WORK: readonly { key: string; label: string; settings: Record<string, unknown>; read?: { words: boolean }; what: string }[] = [
  { key: 'default', label: 'default settings', settings: {}, what: '–' },
  { key: 'no-cls', label: '`useCls: false`', settings: { useCls: false }, what: 'angle classifier (0/180° per line)' },
  { key: 'no-auto-rotate', label: '`autoRotate: false`', settings: { autoRotate: false }, what: 'page orientation (pages turned 90/180/270°)' },
  { key: 'no-second-det', label: '`detMaxSideLen: 0`', settings: { detMaxSideLen: 0 }, what: 'the finer second detection pass' },
  { key: 'none', label: 'all three off', settings: { useCls: false, autoRotate: false, detMaxSideLen: 0 }, what: 'all three' },
  // what words cost (issue 18): the default read restores spaces and settles punctuation width from
  // the characters' positions; `words: true` also boxes every word
  { key: 'no-spaces', label: '`restoreSpaces: false, asciiPunctuation: false`', settings: { restoreSpaces: false, asciiPunctuation: false }, what: "spaces restored and punctuation width (the words code's default share)" },
  { key: 'words', label: 'read with `words: true`', settings: {}, read: { words: true }, what: 'nothing; adds every word with its box' },
]

/** ocrserve (createOcr from the build) reading a pass's images all at once. */
async function ocrserveContestant(dist: Dist, images: readonly BenchImage[], key: string, label: string, settings: Record<string, unknown>): Promise<Contestant<BenchImage>> {
  // every job is queued at once: no queue limit or time limit may cut the measurement short
  const ocr: Ocr = await dist.index.createOcr({ ...engineOverrides, ...settings, maxQueue: Math.max(64, 4 * images.length), timeoutMs: LIBRARY_TIMEOUT_MS })
  const { workers, threadsPerWorker } = dist.config.resolveParallelism(ocr.settings)
  const custom = { ...engineOverrides, ...settings }
  return {
    key,
    label,
    describe: `ocrserve (dist), ${Object.keys(custom).length ? `settings ${JSON.stringify(custom)}` : 'default settings'}`,
    mode: `all at once, ${workers} workers × ${threadsPerWorker} threads${Object.keys(settings).length ? '' : ' (default)'}`,
    childProcesses: false,
    warmUp: true,
    async pass(imgs) {
      const lines = imgs.map(() => 0)
      const latency = imgs.map(() => 0)
      await Promise.all(
        imgs.map(async (img, i) => {
          const t0 = performance.now()
          lines[i] = (await ocr.read(img.path)).lines.length
          latency[i] = performance.now() - t0
        }),
      )
      return { lines, latency }
    },
    close: () => ocr.close(),
  }
}

/** ocrserve with one part of its extra work turned off (EXTRA_WORK), read one image at a time. */
interface ExtraResult {
  key: string
  label: string
  what: string
  /** Per round: CPU seconds per image (the bench process, all threads: the workers and the main thread). */
  cpuPerImage: number[]
  /** Per round: mean read() latency (ms). */
  latency: number[]
  /** Mean timing_ms per stage over the measured reads. */
  stages: { det: number; cls: number; rec: number }
  /** Lines found in the last round, and on how many images the text differs from the default's. */
  lines: number
  imagesChanged: number
}

/**
 * What each part of ocrserve's extra work costs: one engine per EXTRA_WORK setting, all loaded,
 * reading each image one after the other (the order rotating image by image), so every image's
 * CPU time is compared across the settings under the same machine conditions; per round, the CPU
 * time per image over the set (process.cpuUsage around each read: the engine's worker threads and
 * the main thread; the other engines are idle).
 */
async function extraWork(dist: Dist, images: readonly BenchImage[], rounds: number, warmUp: boolean): Promise<ExtraResult[]> {
  const engines: Ocr[] = []
  try {
    for (const v of EXTRA_WORK) engines.push(await dist.index.createOcr({ ...engineOverrides, ...v.settings, timeoutMs: LIBRARY_TIMEOUT_MS }))
    if (warmUp) {
      progress('extra work: warm-up pass')
      for (const img of images) for (const [j, e] of engines.entries()) await e.read(img.path, EXTRA_WORK[j]!.read)
    }
    const n = EXTRA_WORK.length
    const cpu = EXTRA_WORK.map(() => [] as number[])
    const wall = EXTRA_WORK.map(() => [] as number[])
    const stages = EXTRA_WORK.map(() => ({ det: 0, cls: 0, rec: 0 }))
    const texts = EXTRA_WORK.map(() => images.map(() => ''))
    const lines = EXTRA_WORK.map(() => 0)
    for (let r = 0; r < rounds; r++) {
      progress(`extra work: round ${r + 1} of ${rounds}`)
      const cpuRound = EXTRA_WORK.map(() => 0)
      const wallRound = EXTRA_WORK.map(() => 0)
      lines.fill(0)
      for (const [i, img] of images.entries()) {
        for (const j of rotation(n, r * images.length + i)) {
          const c0 = process.cpuUsage()
          const t0 = performance.now()
          const res = await engines[j]!.read(img.path, EXTRA_WORK[j]!.read)
          wallRound[j]! += performance.now() - t0
          const c = process.cpuUsage(c0)
          cpuRound[j]! += (c.user + c.system) / 1e6
          for (const k of ['det', 'cls', 'rec'] as const) stages[j]![k] += res.timing_ms[k] ?? 0
          texts[j]![i] = res.lines.map((l) => l.text).join('\n')
          lines[j]! += res.lines.length
        }
      }
      for (let j = 0; j < n; j++) {
        cpu[j]!.push(cpuRound[j]! / images.length)
        wall[j]!.push(wallRound[j]! / images.length)
      }
    }
    const reads = rounds * images.length
    return EXTRA_WORK.map((v, j) => ({
      key: v.key,
      label: v.label,
      what: v.what,
      cpuPerImage: cpu[j]!,
      latency: wall[j]!,
      stages: { det: stages[j]!.det / reads, cls: stages[j]!.cls / reads, rec: stages[j]!.rec / reads },
      lines: lines[j]!,
      imagesChanged: texts[j]!.filter((t, i) => t !== texts[0]![i]).length,
    }))
  } finally {
    for (const e of engines) await e.close()
  }
}

/**
 * A peer at its throughput layout: Guten OCR and ppu-paddle-ocr as one instance per core in worker
 * threads, 1 ONNX Runtime thread each (bench/lib/peer-pool.ts; ocrserve's own default layout: in
 * one instance their run() blocks the thread, so reads cannot overlap); Tesseract as one process
 * per core. Throws EngineUnavailable for a Tesseract that cannot run here.
 */
async function peerContestant(name: PeerName): Promise<Contestant<BenchImage>> {
  const cores = os.availableParallelism()
  if (name === 'tesseract') {
    const engine = await createEngine('tesseract')
    return {
      key: name,
      label: LABEL[name],
      describe: engine.describe,
      mode: `${cores} processes in parallel`,
      childProcesses: true,
      warmUp: false,
      pass: (imgs) => pooled(async (img) => (await engine.read(img.path)).length, imgs, cores),
      close: () => engine.close(),
    }
  }
  const pool = await createPool(name, cores, 1)
  return {
    key: name,
    label: LABEL[name],
    describe: pool.describe,
    mode: `${cores} worker threads × 1 ORT thread, all images at once`,
    childProcesses: false,
    warmUp: true,
    async pass(imgs) {
      await pool.run(imgs.map((i) => i.path))
      const got = imgs.map((i) => pool.last.get(i.path)!)
      return { lines: got.map((g) => g.lines), latency: got.map((g) => g.ms) }
    },
    close: () => pool.close(),
  }
}

/** A peer read one image at a time in one instance with its default settings (all cores to its ONNX Runtime). */
interface PeerSequential {
  describe: string
  /** Per image, ms (median of the passes; one pass). */
  latency: number[]
  lines: number[]
  /** images / Σ latency: its rate read this way. */
  imgPerSec: number
}

async function peerSequential(name: PeerName, images: readonly BenchImage[], warmUp: boolean): Promise<PeerSequential | string> {
  let engine: EvalEngine
  try {
    engine = await createEngine(name)
  } catch (err) {
    if (err instanceof EngineUnavailable) return err.message
    throw err
  }
  try {
    // a warm-up pass as for ocrserve (not Tesseract: a process per image)
    if (warmUp && name !== 'tesseract') for (const img of images) await engine.read(img.path)
    const lines = images.map(() => 0)
    const lat = await timeSequential(
      async (img) => {
        const n = (await engine.read(img.path)).length
        lines[images.indexOf(img)] = n
        return n
      },
      images,
      1,
    )
    const latency = lat.map((l) => median(l))
    return { describe: engine.describe, latency, lines, imgPerSec: images.length / (sum(latency) / 1000) }
  } finally {
    await engine.close()
  }
}

/**
 * Runs the contestants made by `make` in rounds and closes them; a contestant that cannot be made
 * (EngineUnavailable) is left out with its reason in `skipped`.
 */
async function roundsOf(
  makers: readonly { key: string; make: () => Promise<Contestant<BenchImage>> }[],
  images: readonly BenchImage[],
  rounds: number,
  copies: number,
  what: string,
  companions: readonly Companion[] = [],
): Promise<{ results: RoundsResult[]; skipped: string[] }> {
  const contestants: Contestant<BenchImage>[] = []
  const skipped: string[] = []
  try {
    for (const m of makers) {
      progress(`${what}: starting ${m.key}`)
      try {
        contestants.push(await m.make())
      } catch (err) {
        if (!(err instanceof EngineUnavailable)) throw err
        skipped.push(`${m.key}: ${err.message}`)
      }
    }
    return { results: await throughputRounds(contestants, images, rounds, (turn) => progress(`${what}: ${turn}`), copies, companions), skipped }
  } finally {
    for (const c of contestants) await c.close()
  }
}

/** Start-up of each engine in a fresh process (bench/lib/startup.ts), engines taking turns, per round. */
interface StartupResult {
  engine: EngineName
  createMs: number[]
  firstReadMs: number[]
  unavailable?: string
}

async function startup(engines: readonly EngineName[], image: BenchImage, rounds: number): Promise<StartupResult[]> {
  const out: StartupResult[] = engines.map((engine) => ({ engine, createMs: [], firstReadMs: [] }))
  for (let r = 0; r < rounds; r++) {
    for (const j of rotation(engines.length, r)) {
      const o = out[j]!
      if (o.unavailable) continue
      progress(`startup: ${o.engine}, round ${r + 1} of ${rounds}`)
      const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', STARTUP, o.engine, image.path], { cwd: ROOT, maxBuffer: 1 << 20 })
      const m = JSON.parse(stdout.trim().split('\n').at(-1)!) as { createMs: number; firstReadMs: number } | { unavailable: string }
      if ('unavailable' in m) o.unavailable = m.unavailable
      else {
        o.createMs.push(m.createMs)
        o.firstReadMs.push(m.firstReadMs)
      }
    }
  }
  return out
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
  /** Which round of the runs at this concurrency (0-based). */
  round: number
  load: LoadResult
  rssBefore: number | null
  rssAfter: number | null
  healthz?: { latencies: number[]; failures: number }
  /** The server's event-loop delay over the load (ms; prom-client's monitorEventLoopDelay gauges). */
  eventLoop?: { p50: number; p99: number; max: number }
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

async function httpLoad(service: Service, bodies: readonly RequestBody[], concurrency: 1 | 4 | 16, plan: Plan, probeHealth: boolean, round: number): Promise<HttpRun> {
  const rssBefore = rssMiB(service.child.pid)
  // a scrape resets the server's event-loop delay histogram: the next one covers this load alone
  if (probeHealth) await eventLoopDelay(service.url)
  const probe = probeHealth ? startProbe(`${service.url}/healthz`, HEALTHZ_PROBE_MS) : null
  const load = await runLoad({
    url: `${service.url}/v1/ocr`,
    bodies,
    concurrency,
    requests: bodies.length * plan.httpPasses[concurrency],
    maxDurationMs: plan.httpMaxMs,
    timeoutMs: 120_000,
  })
  const eventLoop = probeHealth ? await eventLoopDelay(service.url) : null
  const healthz = probe ? await probe.stop() : undefined
  return { concurrency, round, load, rssBefore, rssAfter: rssMiB(service.child.pid), ...(healthz ? { healthz } : {}), ...(eventLoop ? { eventLoop } : {}) }
}

/** /healthz is probed this often during the c=16 load (a probe waits for the answer before the next). */
const HEALTHZ_PROBE_MS = 20

/**
 * prom-client samples the event loop with a timer of this period (its eventLoopMonitoringPrecision
 * default), and monitorEventLoopDelay records the time between two of its ticks: an idle loop
 * reads p50 ≈ 10.1 ms. The bench reports the delay beyond it, the time the loop was held.
 */
const EVENT_LOOP_SAMPLE_MS = 10

/**
 * The event-loop delay gauges of the server's /metrics (since its previous scrape), beyond the
 * sampling period (ms); null when absent.
 */
async function eventLoopDelay(url: string): Promise<{ p50: number; p99: number; max: number } | null> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text()
    const gauge = (name: string): number | null => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text)
      return m ? Math.max(0, Number(m[1]) * 1000 - EVENT_LOOP_SAMPLE_MS) : null
    }
    const [p50, p99, max] = ['nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds'].map(gauge)
    return p50 === null || p99 === null || max === null ? null : { p50: p50!, p99: p99!, max: max! }
  } catch {
    return null
  }
}

function okLatencies(r: LoadResult): number[] {
  return r.samples.filter((s) => s.status === 200).map((s) => s.ms)
}

const p50Of = (r: HttpRun): number => percentile(okLatencies(r.load), 50)

/** Table cells for the runs at one concurrency: runs, requests, req/s, p50, p99 (spreads over the runs), errors. */
function httpCells(runs: readonly HttpRun[]): string[] {
  return [
    String(runs.length),
    String(sum(runs.map((r) => r.load.completed))),
    fmtSpread(spread(runs.map((r) => r.load.completed / r.load.seconds)), 2),
    fmtSpread(spread(runs.map(p50Of)), 0),
    fmtSpread(spread(runs.map((r) => percentile(okLatencies(r.load), 99))), 0),
    String(sum(runs.map((r) => r.load.errors))),
  ]
}

/**
 * Remote ÷ single mode, per round (runs at one concurrency, paired by their round), by `of`:
 * the two p50s (p50Ratio), or the latency of the same image (pairedLatencyRatio: the median over
 * the images of each image's ratio). The second does not depend on which image's latency happens
 * to sit in the middle: with nine images of 17–420 ms the p50 of a run is one image's latency,
 * and which one moves with small shifts (single mode's c=1 p50 read 185 ms in one full run and
 * 247 ms in the next).
 */
function remoteRatios(single: readonly HttpRun[], remote: readonly HttpRun[], of: (remote: HttpRun, single: HttpRun) => number | null): number[] {
  return remote.flatMap((r) => {
    const s = single.find((x) => x.round === r.round)
    const q = s ? of(r, s) : null
    return q === null ? [] : [q]
  })
}

const p50Ratio = (remote: HttpRun, single: HttpRun): number | null => ratio(p50Of(remote), p50Of(single))
const imageRatio = (remote: HttpRun, single: HttpRun): number | null => pairedLatencyRatio(remote.load.samples, single.load.samples)

async function httpSingle(bodies: readonly RequestBody[], plan: Plan): Promise<{ runs: HttpRun[]; rssIdle: number | null }> {
  const service = await startServe({ OCR_MODE: 'single' })
  try {
    // warm-up: each image once (the workers warmed up on a tiny page only)
    await runLoad({ url: `${service.url}/v1/ocr`, bodies, concurrency: 4, requests: bodies.length, maxDurationMs: plan.httpMaxMs })
    const rssIdle = rssMiB(service.child.pid)
    const runs: HttpRun[] = []
    // c = 1 and 4 in rounds; c = 16 once, with the probe
    for (let r = 0; r < plan.httpRounds; r++) {
      for (const c of [1, 4] as const) {
        progress(`http: single mode, concurrency ${c}, round ${r + 1} of ${plan.httpRounds}`)
        runs.push(await httpLoad(service, bodies, c, plan, false, r))
      }
    }
    progress('http: single mode, concurrency 16')
    runs.push(await httpLoad(service, bodies, 16, plan, true, 0))
    return { runs, rssIdle }
  } finally {
    await service.stop()
  }
}

interface RemoteRun {
  protocol: 'single' | 'kserve-http' | 'kserve-grpc'
  runs: HttpRun[]
}

/**
 * Single mode and remote mode over both protocols, measured in the same rounds: all three services
 * (and the model server) stay up, and every round runs each of them in turn at each concurrency,
 * the order rotating per round, so each remote ratio compares runs minutes apart at most rather
 * than against the http section's single-mode runs (the machine's speed drifts between sections).
 */
async function httpRemote(bodies: readonly RequestBody[], plan: Plan): Promise<{ runs: RemoteRun[]; modelServerRss: number | null }> {
  const repo = join(CACHE, 'model-repo')
  execFileSync(process.execPath, [BIN, 'models-repo', '--out', repo, '--force'], { cwd: ROOT, stdio: 'ignore' })
  const modelServer = await startModelServer(ROOT, repo)
  const services: Array<{ protocol: RemoteRun['protocol']; service: Service; runs: HttpRun[] }> = []
  try {
    services.push({ protocol: 'single', service: await startServe({ OCR_MODE: 'single' }), runs: [] })
    for (const protocol of ['kserve-http', 'kserve-grpc'] as const) {
      const url = protocol === 'kserve-http' ? modelServer.http : modelServer.grpc
      services.push({ protocol, service: await startServe({ OCR_MODE: 'remote', OCR_REMOTE_URL: url, OCR_REMOTE_PROTOCOL: protocol, OCR_REMOTE_BINARY: 'true' }), runs: [] })
    }
    // warm-up: every service's workers and, through them, the model server's sessions
    for (const { service } of services) await runLoad({ url: `${service.url}/v1/ocr`, bodies, concurrency: 4, requests: bodies.length, maxDurationMs: plan.httpMaxMs })
    for (let r = 0; r < plan.httpRounds; r++) {
      for (const c of plan.remoteConcurrency) {
        for (let j = 0; j < services.length; j++) {
          const s = services[(j + r) % services.length]!
          progress(`remote: ${s.protocol}, concurrency ${c}, round ${r + 1} of ${plan.httpRounds}`)
          s.runs.push(await httpLoad(s.service, bodies, c, plan, false, r))
        }
      }
    }
    return { runs: services.map(({ protocol, runs }) => ({ protocol, runs })), modelServerRss: rssMiB(modelServer.child.pid) }
  } finally {
    for (const { service } of services) await service.stop()
    await modelServer.child.stop()
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
      : SECTIONS.filter((s) => !(plan.quick && QUICK_SKIPS.includes(s))),
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
  let floorCalls: RecordedCall[] = []
  if (sections.has('seq')) {
    progress(`ocrserve: sequential${sections.has('floor') ? ', interleaved with the in-process pipeline and the model-only floor' : ''}`)
    const r = await attempt('seq', () => ocrserveSequential(dist, images, plan, sections.has('floor')))
    seq = r?.seq ?? null
    floor = r?.floor ?? null
    floorCalls = r?.calls ?? []
    results.seq = seq
    results.floor = floor
  }
  if (values.profile) {
    progress('profiling the in-process pipeline')
    const p = await attempt('profile', () => profilePipeline(dist, images))
    if (p) floor = floor ? { ...floor, ...p } : { threads: 0, images: [], passes: [], ...p }
  }

  // ---- library throughput: ocrserve and the peers in rounds, after each peer's sequential pass
  const peers = PEERS.filter((p) => sections.has(p))
  const peerSeq: Partial<Record<PeerName, PeerSequential | string>> = {}
  if (plan.peerSequential) {
    for (const p of peers) {
      progress(`${p}: sequential, one instance with its default settings`)
      const r = await attempt(p, () => peerSequential(p, images, plan.warmUp))
      if (r) peerSeq[p] = r
    }
  }
  // the saturated floor takes its turn in the same rounds as ocrserve's throughput
  let satFloor: SaturatedFloor | null = null
  let floorRun: Awaited<ReturnType<typeof startSaturatedFloor>> | null = null
  if (floorCalls.length && sections.has('sat')) floorRun = await attempt('floor', () => startSaturatedFloor(dist, floorCalls, images.length))
  floorCalls = []
  let lib: { results: RoundsResult[]; skipped: string[] } | null = null
  if (sections.has('sat') || peers.length) {
    const makers = [
      ...(sections.has('sat') ? [{ key: 'ocrserve', make: () => ocrserveContestant(dist, images, 'ocrserve', 'ocrserve', {}) }] : []),
      ...peers.filter((p) => typeof peerSeq[p] !== 'string').map((p) => ({ key: p, make: () => peerContestant(p) })),
    ]
    progress(`library throughput: ${makers.map((m) => m.key).join(', ')}, ${plan.rounds} rounds`)
    try {
      // a failing floor is reported as the floor section's failure and sits out the later rounds;
      // the engines' rounds go on
      let floorFailed = false
      const floorTurn = floorRun && {
        label: floorRun.companion.label,
        async round(r: number): Promise<void> {
          if (!floorFailed && (await attempt('floor', () => floorRun!.companion.round(r))) === null) floorFailed = true
        },
      }
      lib = await attempt(sections.has('sat') ? 'sat' : peers[0]!, () => roundsOf(makers, images, plan.rounds, plan.satCopies, 'throughput', floorTurn ? [floorTurn] : []))
    } finally {
      await floorRun?.close()
    }
    results.library = lib && { ...lib, sequential: peerSeq }
  }
  if (floorRun && floorRun.result.imgPerSec.length === plan.rounds) {
    satFloor = floorRun.result
    results.saturatedFloor = satFloor
  }
  const libOf = (key: string): RoundsResult | undefined => lib?.results.find((r) => r.key === key)
  const ocrLib = libOf('ocrserve')
  // against the peer's throughput layout in the same round (its sequential rate, measured at another
  // time, is printed beside but never mixed into a round's ratio)
  const speedup = (p: PeerName): Spread | null => spread(pairedRatios(ocrLib?.imgPerSec ?? [], libOf(p)?.imgPerSec ?? []))
  const cpuRatio = (p: PeerName): Spread | null => spread(pairedRatios(ocrLib?.cpuPerImage ?? [], libOf(p)?.cpuPerImage ?? []))

  /** The model-only floor per image (s): the median over the sequential passes of Σ floor / images. */
  const floorPerImage = floor?.passes.length ? median(floor.passes.map((p) => sum(p.floorMs) / p.floorMs.length)) / 1000 : null
  const cores = os.availableParallelism()
  // per round: ocrserve's rate × the floor per image replayed alone in the same round, ÷ cores
  // (without a saturated floor, the sequential section's floor, measured minutes earlier)
  const sameRoundFloor = (r: number): number | null => (satFloor?.aloneMs[r] !== undefined ? satFloor.aloneMs[r] / satFloor.images / 1000 : floorPerImage)
  const satOverCoresFloor = ocrLib && floorPerImage ? spread(ocrLib.imgPerSec.flatMap((rate, r) => (sameRoundFloor(r) === null ? [] : [(rate * sameRoundFloor(r)!) / cores]))) : null
  const satOverSatFloor = ocrLib && satFloor ? spread(pairedRatios(ocrLib.imgPerSec, satFloor.imgPerSec)) : null
  const floorContention = satFloor ? spread(pairedRatios(satFloor.togetherMs, satFloor.aloneMs)) : null
  if (satFloor && ocrLib && floorPerImage) {
    emit(
      'Saturated floor: the networks alone, on every worker at once',
      markdownTable(
        ['layout', 'cores ÷ floor per image, images/s', 'saturated floor images/s', 'one worker alone: Σ run() ms', 'side by side: Σ run() ms per worker', 'run() side by side ÷ alone', 'ocrserve images/s (saturated)', 'ocrserve ÷ (cores ÷ floor)', 'ocrserve ÷ saturated floor'],
        [
          [
            `${satFloor.workers} workers × ${satFloor.threads} threads`,
            fmtSpread(spread(satFloor.aloneMs.map((a) => cores / (a / satFloor!.images / 1000))), 2),
            fmtSpread(spread(satFloor.imgPerSec), 2),
            fmtSpread(spread(satFloor.aloneMs), 0),
            fmtSpread(spread(satFloor.togetherMs), 0),
            fmtSpread(floorContention, 3),
            fmtSpread(spread(ocrLib.imgPerSec), 2),
            fmtSpread(satOverCoresFloor, 3),
            fmtSpread(satOverSatFloor, 3),
          ],
        ],
      ),
      `The last sequential pass's recorded run() calls (${satFloor.images} images) replayed in ${satFloor.workers} worker threads, each with its own sessions loaded as a default ocrserve worker loads them (bench/lib/floor-pool.ts): all started together (images/s = workers × images ÷ the wall time until the last is done), and one alone with the others idle; after a warm-up pass, in each of the ${plan.rounds} library throughput rounds, taking its turn with ocrserve and the peers, median (min–max). cores ÷ floor per image = ${cores} ÷ (one worker alone: Σ run() ÷ images), per round: the rate if the networks lost nothing to running side by side (the sequential section's floor, measured earlier, was ${ms(floorPerImage * 1000, 0)} ms per image). ocrserve ÷ (cores ÷ floor) is formed per round, against the floor of its own round. run() side by side ÷ alone is what they do lose (shared caches, memory bandwidth, clock); the saturated floor includes it and nothing of ocrserve's own work, so ocrserve ÷ saturated floor is the share of the reachable rate that ocrserve reaches.`,
    )
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

  // ---- library tables
  if (seq || lib) {
    const rows: string[][] = []
    const row = (name: string, lat: number[] | undefined, lines: number[] | undefined, res: RoundsResult | undefined, how: string): void => {
      if (!lat && !res) return
      const s = lat ? summarize(lat) : null
      rows.push([name, ms(s?.p50), ms(s?.p95), ms(s?.mean), lines ? String(sum(lines)) : '–', fmtSpread(spread(res?.imgPerSec ?? []), 2), fmtSpread(spread(res?.cpuPerImage ?? []), 3), res ? how : '–'])
    }
    row('ocrserve', seq?.latency, seq?.lines ?? ocrLib?.lines, ocrLib, ocrLib?.mode ?? '')
    const alternatives: string[] = []
    for (const p of peers) {
      const res = libOf(p)
      const sq = typeof peerSeq[p] === 'object' ? (peerSeq[p] as PeerSequential) : undefined
      // without a sequential pass, latency comes from the last round (one core per read)
      row(LABEL[p], sq?.latency ?? res?.latency.at(-1), sq?.lines ?? res?.lines, res, res?.mode ?? '')
      if (sq && res) alternatives.push(`${LABEL[p]}, one instance reading one image at a time (its default threads), measured before the rounds: ${fmt(sq.imgPerSec, 2)} images/s${sq.imgPerSec > (spread(res.imgPerSec)?.median ?? 0) ? ' (above its layout\'s rate: parallel reads gained nothing on this machine at that time; the ratios below use the layout, read in the same rounds as ocrserve)' : ''}.`)
    }
    const skipped = [...peers.filter((p) => typeof peerSeq[p] === 'string').map((p) => `${p}: ${peerSeq[p] as string}`), ...(lib?.skipped ?? [])]
    emit(
      'Library: per-image latency (sequential) and throughput (saturated)',
      markdownTable(['engine', 'p50 ms', 'p95 ms', 'mean ms', 'lines found', 'images/s', 'CPU s per image', 'throughput measured as'], rows),
      [
        `Same ${images.length} images for every engine, read from files. Latency: ocrserve the median of ${plan.seqReps} sequential passes (default engine)${plan.peerSequential ? ', the peers one sequential pass of one instance with their default settings' : ', the peers from their last throughput round (each read on one core while the other core reads another image)'}${plan.warmUp ? ', after a warm-up pass (not Tesseract: a process per image)' : ''}.`,
        `Throughput and CPU: ${plan.rounds} rounds after a warm-up pass, the engines taking turns (the order rotates each round); in each round an engine reads the set ${plan.satCopies > 1 ? `${plan.satCopies}×, all ${plan.satCopies * images.length} reads at once` : 'once, all images at once'} at its layout; median (min–max) over the rounds. CPU s per image: the bench process's CPU time (all threads) over the round, Tesseract's exited processes included, divided by the images.`,
        ...(lib?.results ?? []).filter((r) => r.key !== 'ocrserve').map((r) => `${r.label}: ${r.describe}.`),
        ...alternatives,
        skipped.length ? `Not run: ${skipped.join('; ')}.` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    )
    if (ocrLib && peers.some((p) => libOf(p))) {
      emit(
        'ocrserve against each engine, round by round',
        markdownTable(
          ['engine', 'ocrserve images/s ÷ engine images/s', 'ocrserve CPU s per image ÷ engine CPU s per image', 'engine CPU s per image', 'ocrserve CPU s per image'],
          peers
            .filter((p) => libOf(p))
            .map((p) => [LABEL[p], fmtSpread(speedup(p), 2), fmtSpread(cpuRatio(p), 2), fmtSpread(spread(libOf(p)!.cpuPerImage), 3), fmtSpread(spread(ocrLib.cpuPerImage), 3)]),
        ),
        `Each ratio is formed within a round (both engines read the same set minutes apart at most) and shown as median (min–max) over the ${plan.rounds} rounds. Guten OCR and ppu-paddle-ocr read the same PP-OCRv4 detector and recogniser files as ocrserve; neither runs an angle classifier, page orientation or a second detection pass (ocrserve's extra work, priced in the next table).`,
      )
    }
  }

  // ---- ocrserve's extra work, each part turned off
  if (sections.has('extras')) {
    progress(`ocrserve's extra work: ${EXTRA_WORK.length} settings, ${plan.rounds} rounds`)
    const extras = await attempt('extras', () => extraWork(dist, images, plan.rounds, plan.warmUp))
    if (extras) {
      results.extras = extras
      const base = extras[0]!
      const rows = extras.map((x) => {
        const saved = spread(base.cpuPerImage.map((b, i) => (b - x.cpuPerImage[i]!) * 1000))
        return [
          x.label,
          x.what,
          fmtSpread(spread(x.cpuPerImage), 3),
          x === base ? '1.00' : fmtSpread(spread(pairedRatios(x.cpuPerImage, base.cpuPerImage)), 3),
          x === base ? '–' : fmtSpread(saved, 0),
          fmtSpread(spread(x.latency), 0),
          ms(x.stages.det, 0),
          ms(x.stages.cls, 0),
          ms(x.stages.rec, 0),
          String(x.lines),
          x === base ? '–' : String(x.imagesChanged),
        ]
      })
      emit(
        "ocrserve's extra work: what each part costs (each turned off in turn)",
        markdownTable(['settings', 'turns off', 'CPU s per image', 'CPU ÷ default', 'CPU ms per image saved', 'read() ms', 'det ms', 'cls ms', 'rec ms', 'lines found', 'images read differently'], rows),
        [
          `The same ${images.length} images read one at a time by ${EXTRA_WORK.length} engines (all loaded, default workers), one after the other on each image, the order rotating image by image; ${plan.rounds} rounds after a warm-up pass. CPU: process.cpuUsage() around each read (the engine's worker threads and the main thread), summed over the set per round; median (min–max) over the rounds, ratios and savings formed within each round. read() ms: mean latency; det/cls/rec: mean timing_ms (det includes the second pass, cls the page-orientation votes).`,
          `What each part buys is accuracy, not speed: without the classifier upside-down lines come out as garbage, without page orientation pages turned 90/180/270° are misread, without the second pass small text on large pages is lost (npm run eval: the rotated, small and eval-real sets; docs/ACCURACY.md). "images read differently": images whose text differs from the default engine's.`,
        ].join('\n'),
      )
    }
  }

  // ---- start-up of each engine in a fresh process
  let starts: StartupResult[] | null = null
  if (sections.has('startup')) {
    const small = [...images].sort((a, b) => a.width * a.height - b.width * b.height)[0]!
    starts = await attempt('startup', () => startup(['ocrserve', ...PEERS], small, plan.rounds))
    if (starts) {
      results.startup = starts
      emit(
        'Start-up: a fresh process to the first line read',
        markdownTable(
          ['engine', 'create ms', 'first read ms'],
          starts.map((x) => [LABEL[x.engine], x.unavailable ? 'not run' : fmtSpread(spread(x.createMs), 0), x.unavailable ? '–' : fmtSpread(spread(x.firstReadMs), 0)]),
        ),
        [
          `Each engine started ${plan.rounds}× in a fresh process (\`node --import tsx bench/lib/startup.ts ENGINE IMAGE\`), engines taking turns; median (min–max). create: from createEngine() to an engine ready to read: the package's import and its models loaded (ocrserve: its ${seq?.workers ?? 'default'} worker threads, each loading the three networks and reading a warm-up page). first read: then ${small.name} (${small.width}×${small.height}) read once. Tesseract has no start-up of its own beyond checking the binary: it starts a process and loads its traineddata for every image, which is its first-read time.`,
          starts.filter((x) => x.unavailable).map((x) => `${x.engine}: ${x.unavailable}`).join('; '),
        ]
          .filter(Boolean)
          .join('\n'),
      )
    }
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
      const passMedian = (pick: (p: FloorResult['passes'][number]) => number[], i: number): number => median(floor!.passes.map((p) => pick(p)[i]!))
      const perImage = images.map((img, i) => [
        img.name,
        `${img.width}×${img.height}`,
        ms(solo[i], 0),
        ms(passMedian((p) => p.pipelineMs, i), 0),
        ms(passMedian((p) => p.floorMs, i), 0),
        fmtSpread(imageFloorRatios(seq!, floor!, i), 2),
        ms(seq!.latency[i], 0),
        fmtSpread(imageFloorRatios(seq!, floor!, i, true), 2),
        String(seq!.lines[i]),
      ])
      const solo_ = floorRatios(seq, floor)
      const helped = floorRatios(seq, floor, true)
      const inproc = inProcessRatios(floor)
      emit(
        'Per image: ocrserve latency vs model-only floor',
        markdownTable(['image', 'size', 'read() ms, one worker', 'in-process ms', 'floor ms', 'read() / floor', 'read() ms, idle workers help (default)', 'helped / floor', 'lines'], perImage),
        [
          `read(), one worker: an engine with idleAssist off, so that one worker does all of the image's work, as the floor counts it; idle workers help: the default engine, where the other (idle) worker runs some of the classifier's and recogniser's calls; the two engines read each image one right after the other, taking turns going first. Times: medians of the ${plan.seqReps} passes; ratios: median (min–max) of the passes' ratios, each pass measuring read() and the floor.`,
          `overhead_vs_floor = median over images of one-worker read() / floor = ${fmtSpread(solo_.median, 3)} (in-process pipeline / floor: ${fmtSpread(inproc.median, 3)}; default engine with help: ${fmtSpread(helped.median, 3)}); median (min–max) over the passes.`,
          `Over the whole set (time-weighted, dominated by the largest pages): Σ read() / Σ floor = ${fmtSpread(solo_.total, 3)} (with help ${fmtSpread(helped.total, 3)}); Σ in-process / Σ floor = ${fmtSpread(inproc.total, 3)}.`,
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

  const layout = dist.config.resolveParallelism(dist.index.parseEngineSettings({ ...engineOverrides }))
  if (sweep.length || ocrLib) {
    const rows: string[][] = []
    if (ocrLib) rows.push([`${layout.workers} × ${layout.threadsPerWorker} (default)`, `${plan.quick ? 'core' : 'full'} (${images.length} images)`, fmtSpread(spread(ocrLib.imgPerSec), 2)])
    const defaultSetting = `${layout.workers}x${layout.threadsPerWorker}`
    for (const r of sweep) rows.push([`${r.workers} × ${r.threadsPerWorker}${`${r.workers}x${r.threadsPerWorker}` === defaultSetting ? ' (default)' : ''}`, `core (${core.length} images)`, fmt(r.imgPerSec, 2)])
    emit(
      'ocrserve saturated throughput: workers × ONNX threads per worker',
      markdownTable(['workers × threads', 'set', 'images/s'], rows),
      `${ocrLib ? `${plan.quick ? 'Core' : 'Full'} set: the library throughput rounds above (the set ${plan.satCopies}× at once, ${plan.rounds} rounds, median (min–max)). ` : ''}Sweep: the core set submitted ${SWEEP_PASSES}× at once after a warm-up pass, for each setting, once (a rate, no ratio is formed from it).`,
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
    results.http = single.runs.map((r) => ({ concurrency: r.concurrency, round: r.round, seconds: r.load.seconds, completed: r.load.completed, errors: r.load.errors, statuses: r.load.statuses, latency: summarize(okLatencies(r.load)), rssBefore: r.rssBefore, rssAfter: r.rssAfter, healthz: r.healthz ? { ...summarize(r.healthz.latencies), failures: r.healthz.failures } : null, event_loop_ms: r.eventLoop ?? null }))
    emit(
      'HTTP: `ocrserve serve` (single mode, default workers), closed-loop load',
      markdownTable(
        ['concurrency', 'runs', 'requests', 'req/s (= images/s)', 'p50 ms', 'p99 ms', 'errors', 'RSS before MiB', 'RSS after MiB'],
        ([1, 4, 16] as const).flatMap((c) => {
          const runs = single!.runs.filter((r) => r.concurrency === c)
          return runs.length ? [[String(c), ...httpCells(runs), ms(runs[0]!.rssBefore), ms(runs.at(-1)!.rssAfter)]] : []
        }),
      ),
      (() => {
        const probed = single.runs.find((r) => r.healthz)
        const h = probed?.healthz
        const hs = h ? summarize(h.latencies) : null
        const el = probed?.eventLoop
        return [
          `Raw image bodies (Content-Type image/*), the core set's ${bodies.length} images in turn, after a warm-up pass; a run sends set size × ${plan.httpPasses[1]}/${plan.httpPasses[4]}/${plan.httpPasses[16]} requests at c = 1/4/16; c = 1 and 4 run ${plan.httpRounds}× (alternating), c = 16 once. req/s, p50, p99: median (min–max) over the runs. RSS (VmRSS of the server process, workers included) after warm-up: ${ms(single.rssIdle)} MiB.`,
          hs ? `/healthz every ${HEALTHZ_PROBE_MS} ms during the c=16 load: ${hs.n} probes, p50 ${fmt(hs.p50, 1)} ms, p99 ${fmt(hs.p99, 1)} ms, max ${fmt(hs.max, 1)} ms, ${h!.failures} failed.` : '',
          el ? `The server's event-loop delay over the same load (its /metrics, nodejs_eventloop_lag_*, less the ${EVENT_LOOP_SAMPLE_MS} ms sampling period): p50 ${fmt(el.p50, 1)} ms, p99 ${fmt(el.p99, 1)} ms, max ${fmt(el.max, 1)} ms.` : '',
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
    results.remote = remote.runs.map((p) => ({ protocol: p.protocol, runs: p.runs.map((r) => ({ concurrency: r.concurrency, round: r.round, seconds: r.load.seconds, completed: r.load.completed, errors: r.load.errors, latency: summarize(okLatencies(r.load)), rssAfter: r.rssAfter })) }))
    const rows: string[][] = []
    const sameRound = remote.runs.find((p) => p.protocol === 'single')?.runs ?? []
    for (const c of [1, 4]) {
      const s = sameRound.filter((r) => r.concurrency === c)
      for (const p of remote.runs) {
        const r = p.runs.filter((x) => x.concurrency === c)
        if (!r.length) continue
        const label = p.protocol === 'single' ? 'single (in-process ONNX)' : `remote ${p.protocol}${p.protocol === 'kserve-http' ? ' (binary)' : ''}`
        rows.push([label, String(c), ...httpCells(r), ...(p.protocol === 'single' ? ['1.00', '1.00'] : [fmtSpread(spread(remoteRatios(s, r, p50Ratio)), 2), fmtSpread(spread(remoteRatios(s, r, imageRatio)), 2)])])
      }
    }
    emit(
      'Remote mode: `ocrserve serve` → `ocrserve model-server` on loopback',
      markdownTable(['mode', 'concurrency', 'runs', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'p50 / single p50', 'latency / single, per image'], rows),
      [
        `The core set, the same request mix as the http section; a single-mode service, the two remote-mode services and the model server all stay up, and each of ${plan.httpRounds} rounds runs the three services in turn at each concurrency (order rotating per round), so single and remote mode are measured minutes apart at most. Median (min–max) over the rounds; p50 / single p50 is formed per round (each remote run against the single-mode run of its round); latency / single, per image: in each round, every image's median latency remote ÷ the same image's in single mode, the median over the images (it compares like with like: a p50 over nine images of 17–420 ms is one image's latency, and which one moves with small shifts). The model server (default workers, dynamic batching) runs on the same machine, so it competes with the service for the same cores. RSS after the last run (VmRSS, workers included): model server ${ms(remote.modelServerRss)} MiB; services ${remote.runs.map((p) => `${p.protocol} ${ms(p.runs.at(-1)?.rssAfter ?? null)}`).join(', ')} MiB.`,
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

  // ---- headline numbers: a ratio's median in its key, its spread under <key>_spread
  const floorSum = floor ? sum(floor.images.map((x) => x.floorMs)) : null
  const best = sweep.reduce<{ workers: number; threadsPerWorker: number; imgPerSec: number } | null>((a, b) => (!a || b.imgPerSec > a.imgPerSec ? b : a), null)
  const sweepDefault = sweep.find((x) => x.workers === layout.workers && x.threadsPerWorker === layout.threadsPerWorker)
  /** The remote section's runs of one service at one concurrency (single mode's measured in the same rounds). */
  const remoteRuns = (protocol: string, c: number): HttpRun[] => remote?.runs.find((p) => p.protocol === protocol)?.runs.filter((x) => x.concurrency === c) ?? []
  const remoteRatio = (protocol: string, c: number, of = p50Ratio): Spread | null => spread(remoteRatios(remoteRuns('single', c), remoteRuns(protocol, c), of))
  const c16 = single?.runs.find((r) => r.concurrency === 16)
  const httpRps = (c: number): Spread | null => spread(single?.runs.filter((r) => r.concurrency === c).map((r) => r.load.completed / r.load.seconds) ?? [])
  const soloFloor = seq && floor?.passes.length ? floorRatios(seq, floor) : null
  const helpedFloor = seq && floor?.passes.length ? floorRatios(seq, floor, true) : null
  const rate = (key: string): Spread | null => spread(libOf(key)?.imgPerSec ?? [])
  const cpu = (key: string): Spread | null => spread(libOf(key)?.cpuPerImage ?? [])
  const startMs = (e: EngineName): Spread | null => spread(starts?.find((x) => x.engine === e)?.createMs ?? [])
  const spreads: Record<string, Spread | null> = {
    ocrserve_img_s: rate('ocrserve'),
    guten_img_s: rate('guten'),
    ppu_img_s: rate('ppu'),
    tesseract_img_s: rate('tesseract'),
    speedup_vs_guten: speedup('guten'),
    speedup_vs_ppu: speedup('ppu'),
    speedup_vs_tesseract: speedup('tesseract'),
    ocrserve_cpu_s_per_image: cpu('ocrserve'),
    guten_cpu_s_per_image: cpu('guten'),
    ppu_cpu_s_per_image: cpu('ppu'),
    tesseract_cpu_s_per_image: cpu('tesseract'),
    cpu_vs_guten: cpuRatio('guten'),
    cpu_vs_ppu: cpuRatio('ppu'),
    cpu_vs_tesseract: cpuRatio('tesseract'),
    sat_vs_cores_floor: satOverCoresFloor,
    sat_vs_saturated_floor: satOverSatFloor,
    floor_contention: floorContention,
    saturated_floor_img_s: satFloor ? spread(satFloor.imgPerSec) : null,
    overhead_vs_floor: soloFloor?.median ?? null,
    overhead_vs_floor_total: soloFloor?.total ?? null,
    helped_latency_vs_floor: helpedFloor?.median ?? null,
    remote_http_ratio: remoteRatio('kserve-http', 4),
    remote_grpc_ratio: remoteRatio('kserve-grpc', 4),
    remote_http_ratio_c1: remoteRatio('kserve-http', 1),
    remote_grpc_ratio_c1: remoteRatio('kserve-grpc', 1),
    remote_http_image_ratio: remoteRatio('kserve-http', 4, imageRatio),
    remote_grpc_image_ratio: remoteRatio('kserve-grpc', 4, imageRatio),
    remote_http_image_ratio_c1: remoteRatio('kserve-http', 1, imageRatio),
    remote_grpc_image_ratio_c1: remoteRatio('kserve-grpc', 1, imageRatio),
    http_c1_rps: httpRps(1),
    http_c4_rps: httpRps(4),
    ocrserve_startup_ms: startMs('ocrserve'),
    guten_startup_ms: startMs('guten'),
    ppu_startup_ms: startMs('ppu'),
  }
  const extraCpu = (results.extras as ExtraResult[] | undefined) ?? []
  for (const r of extraCpu.slice(1)) spreads[`extra_cpu_ratio_${r.key.replace(/-/g, '_')}`] = spread(pairedRatios(r.cpuPerImage, extraCpu[0]!.cpuPerImage))
  const extraOf = (key: string): ExtraResult | undefined => extraCpu.find((r) => r.key === key)
  // positions, spaces and word boxes together, against none of the words work
  if (extraOf('words') && extraOf('no-spaces')) spreads.words_cpu_ratio = spread(pairedRatios(extraOf('words')!.cpuPerImage, extraOf('no-spaces')!.cpuPerImage))
  for (const [key, sp] of Object.entries(spreads)) {
    json[key] = round(sp?.median, 3)
    if (sp && sp.n > 1) json[`${key}_spread`] = spreadJson(sp)
  }
  Object.assign(json, {
    healthz_p99_ms: c16?.healthz ? round(percentile(c16.healthz.latencies, 99), 1) : null,
    healthz_probes: c16?.healthz ? c16.healthz.latencies.length : null,
    eventloop_p99_ms: c16?.eventLoop ? round(c16.eventLoop.p99, 1) : null,
    sweep_best_setting: best ? `${best.workers}x${best.threadsPerWorker}` : null,
    sweep_best_img_s: round(best?.imgPerSec, 3),
    sweep_default_img_s: round(sweepDefault?.imgPerSec, 3),
    ocrserve_seq_p50_ms: seq ? round(percentile(seq.latency, 50), 1) : null,
    ocrserve_seq_p95_ms: seq ? round(percentile(seq.latency, 95), 1) : null,
    guten_seq_p50_ms: typeof peerSeq.guten === 'object' ? round(percentile(peerSeq.guten.latency, 50), 1) : null,
    ppu_seq_p50_ms: typeof peerSeq.ppu === 'object' ? round(percentile(peerSeq.ppu.latency, 50), 1) : null,
    tesseract_seq_p50_ms: typeof peerSeq.tesseract === 'object' ? round(percentile(peerSeq.tesseract.latency, 50), 1) : null,
    floor_mean_ms: floor && floorSum ? round(floorSum / floor.images.length, 1) : null,
    http_c16_rps: round(c16 ? c16.load.completed / c16.load.seconds : null, 2),
    http_c16_p99_ms: c16 ? round(percentile(okLatencies(c16.load), 99), 0) : null,
    http_errors: single ? sum(single.runs.map((r) => r.load.errors)) : null,
    ...(jobs?.json ?? {}),
    images: images.length,
    rounds: plan.rounds,
    quick: plan.quick,
    failed_sections: failures.map((f) => f.section),
    seconds: round((performance.now() - started) / 1000, 0),
  })
  results.summary = json
  results.failures = failures
  writeFileSync(join(CACHE, plan.quick ? 'results-quick.json' : 'results.json'), JSON.stringify(results, null, 2))

  const line = (measure: string, key: string, digits: number, target: string): string[] => {
    const sp = spreads[key] ?? null
    return [measure, fmt(sp?.median, digits), sp && sp.n > 1 ? `${fmt(sp.min, digits)}–${fmt(sp.max, digits)}` : '–', fmt(relativeRange(sp) === null ? null : relativeRange(sp)! * 100, 0), target]
  }
  /** A figure measured once in a run (no rounds to spread over). */
  const once = (measure: string, key: string, digits: number, target: string): string[] => [measure, fmt(json[key] as number | null, digits), '–', '–', target]
  const headline = [
    line('ocrserve images/s (default, saturated)', 'ocrserve_img_s', 2, ''),
    line('Guten OCR images/s', 'guten_img_s', 2, ''),
    line('ppu-paddle-ocr images/s', 'ppu_img_s', 2, ''),
    line('Tesseract images/s', 'tesseract_img_s', 2, ''),
    line('speedup vs Guten', 'speedup_vs_guten', 2, '≥ 3'),
    line('speedup vs ppu-paddle-ocr', 'speedup_vs_ppu', 2, ''),
    line('speedup vs Tesseract', 'speedup_vs_tesseract', 2, ''),
    line('ocrserve CPU s per image (saturated)', 'ocrserve_cpu_s_per_image', 3, ''),
    line('ppu-paddle-ocr CPU s per image (saturated)', 'ppu_cpu_s_per_image', 3, ''),
    line('CPU per image, ocrserve ÷ ppu-paddle-ocr', 'cpu_vs_ppu', 2, ''),
    line('CPU per image, ocrserve ÷ Guten', 'cpu_vs_guten', 2, ''),
    line('saturated images/s ÷ (cores ÷ floor per image)', 'sat_vs_cores_floor', 3, '≥ 0.85'),
    line('saturated floor images/s (networks only, every worker at once)', 'saturated_floor_img_s', 2, ''),
    line('floor run() side by side ÷ alone', 'floor_contention', 3, ''),
    line('saturated images/s ÷ saturated floor', 'sat_vs_saturated_floor', 3, ''),
    line('sequential latency / model-only floor (median image)', 'overhead_vs_floor', 3, '≤ 1.15'),
    line('the same with idle workers helping (default engine)', 'helped_latency_vs_floor', 3, ''),
    once(`/healthz p99 under c=16 load (ms; ${json.healthz_probes ?? '–'} probes)`, 'healthz_p99_ms', 1, '< 10 (≥ 500 probes)'),
    once(`event-loop delay p99 under c=16 load, beyond the ${EVENT_LOOP_SAMPLE_MS} ms sampling period (ms)`, 'eventloop_p99_ms', 1, ''),
    line('remote kserve-http latency / single, per image (c=4)', 'remote_http_image_ratio', 3, '≤ 1.10'),
    line('remote kserve-grpc latency / single, per image (c=4)', 'remote_grpc_image_ratio', 3, '≤ 1.10'),
    line('remote kserve-http latency / single, per image (c=1)', 'remote_http_image_ratio_c1', 3, '≤ 1.15'),
    line('remote kserve-grpc latency / single, per image (c=1)', 'remote_grpc_image_ratio_c1', 3, '≤ 1.15'),
    line('remote kserve-http p50 / single (c=4)', 'remote_http_ratio', 3, ''),
    line('remote kserve-grpc p50 / single (c=4)', 'remote_grpc_ratio', 3, ''),
    line('remote kserve-http p50 / single (c=1)', 'remote_http_ratio_c1', 3, ''),
    line('remote kserve-grpc p50 / single (c=1)', 'remote_grpc_ratio_c1', 3, ''),
    ...extraCpu.slice(1).map((r) => line(`ocrserve CPU per image, ${r.label.replace(/`/g, '')} ÷ default`, `extra_cpu_ratio_${r.key.replace(/-/g, '_')}`, 3, '')),
    line('words: CPU per image with word boxes ÷ with spaces and punctuation off', 'words_cpu_ratio', 3, '≤ 1.02'),
    line('ocrserve start-up ms (fresh process)', 'ocrserve_startup_ms', 0, ''),
    line('ppu-paddle-ocr start-up ms (fresh process)', 'ppu_startup_ms', 0, ''),
    once('24-page job, pages spread / one worker per document (2 workers)', 'jobs_memory_spread_over_one', 3, '≤ 0.6'),
    once('the same against one worker without idle help', 'jobs_memory_spread_over_one_alone', 3, ''),
    once('job status GET p99 with 2 replicas on Redis, while jobs run (ms)', 'jobs_redis_status_p99_ms', 1, '< 20'),
  ].filter((r) => r[1] !== '–')
  if (headline.length) emit(
    'Summary against the targets',
    markdownTable(['measure', 'median', 'min–max', 'range % of median', 'target'], headline),
    `Median and range over the rounds of this run (${plan.rounds} throughput rounds, ${plan.seqReps} sequential passes, ${plan.httpRounds} HTTP runs per concurrency); range % = (max − min) / median. A target is met in a run when the median meets it; the range says how far one round strays.`,
  )

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
