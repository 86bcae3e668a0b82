/**
 * A/B of engine variants on the bench images, in one process, interleaved: every round reads each
 * image with every variant (the variants' order rotates per round), so all variants see the same
 * machine conditions. Each variant is the in-process pipeline (the one a worker runs) on its own
 * ONNX Runtime sessions, with its own settings and recogniser form. Reports per variant: median
 * over rounds of the summed per-image time, its ratio to the first variant, the time inside the
 * recogniser's run(), the zero padding of the recogniser's inputs, and whether its lines equal the
 * first variant's (text, score, box).
 *
 *   node --import tsx bench/ab.ts --variants '{"ref":{},"softmax":{"recModel":"softmax"}}' [--rounds 3] [--quick] [--threads 1]
 *
 * A variant is {"recModel"?: "reduced" (default: what the engine's sessions run) | "softmax", "words"?: boolean, ...engine settings}
 * (`words`: the pages are read with their word boxes, ReadOptions.words). Last stdout line: JSON.
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parseEngineSettings, type EngineSettings } from '../src/config.js'
import { decodeImage } from '../src/image/decode.js'
import type { Backend, ModelRole } from '../src/inference/backend.js'
import { createLocalBackend } from '../src/inference/local.js'
import { resolveModelPaths } from '../src/models/assets.js'
import { builtinPack } from '../src/packs/builtin.js'
import type { PackRole } from '../src/packs/spec.js'
import { localModelSource } from '../src/models/onnx/model-file.js'
import { deriveReducedRecModel } from '../src/models/onnx/rec-reduced.js'
import { Pipeline } from '../src/pipeline/pipeline.js'
import type { OcrLine } from '../src/types.js'
import { loadBenchSet, type BenchImage } from './lib/images.js'
import { type RecordedCall, RecordingBackend } from './lib/recording.js'
import { markdownTable, median } from './lib/stats.js'
import { EVAL_REAL } from './lib/eval-real.js'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

interface VariantSpec {
  recModel?: 'softmax' | 'reduced'
  words?: boolean
  [setting: string]: unknown
}

interface Variant {
  name: string
  settings: EngineSettings
  words: boolean
  pipeline: Pipeline
  log: RecordedCall[]
  backends: Backend[]
}

async function createVariant(name: string, spec: VariantSpec, threads: number): Promise<Variant> {
  const { recModel = 'reduced', words = false, ...overrides } = spec
  const settings = parseEngineSettings(overrides)
  const paths = resolveModelPaths(settings.models)
  const pack = await builtinPack(settings, { onnx: 'required' })
  const source = (role: ModelRole) => localModelSource(paths[role], settings.modelRewrite)
  // the recogniser as rewritten (softmax only: no role given); the engine's local sessions add argmax/maxprob to it
  const recSource = await source('rec')
  const rec = recModel === 'reduced' ? deriveReducedRecModel(typeof recSource === 'string' ? readFileSync(recSource) : recSource) : recSource
  const inner: Record<ModelRole, Backend> = {
    det: await createLocalBackend(await source('det'), { device: 'cpu', threads }),
    cls: await createLocalBackend(await source('cls'), { device: 'cpu', threads }),
    rec: await createLocalBackend(rec, { device: 'cpu', threads }),
  }
  const log: RecordedCall[] = []
  const recording: Record<ModelRole, Backend> = {
    det: new RecordingBackend('det', inner.det, log),
    cls: new RecordingBackend('cls', inner.cls, log),
    rec: new RecordingBackend('rec', inner.rec, log),
  }
  const provider = (role: PackRole): Promise<Backend> => Promise.resolve(recording[role as ModelRole])
  return { name, settings, words, pipeline: new Pipeline(provider, pack, settings), log, backends: Object.values(inner) }
}

interface Reading {
  ms: number
  /** Time inside run() per network. */
  runMs: Record<ModelRole, number>
  recRunMs: number
  recColumns: number
  recPadded: number
  lines: OcrLine[]
}

async function read(v: Variant, img: BenchImage): Promise<Reading> {
  v.log.length = 0
  const t0 = performance.now()
  const decoded = await decodeImage(readFileSync(img.path), { maxPixels: v.settings.maxPixels })
  const lines: OcrLine[] = []
  for (const page of decoded.pages) lines.push(...(await v.pipeline.readPage(page, { useCls: v.settings.useCls, words: v.words })).lines)
  const ms = performance.now() - t0
  const all = v.log.splice(0)
  const calls = all.filter((c) => c.role === 'rec')
  const runMs = { det: 0, cls: 0, rec: 0 }
  for (const c of all) runMs[c.role] += c.ms
  return {
    ms,
    runMs,
    recRunMs: runMs.rec,
    recColumns: calls.reduce((n, c) => n + c.columns, 0),
    recPadded: calls.reduce((n, c) => n + c.paddedColumns, 0),
    lines,
  }
}

function sameLines(a: readonly OcrLine[], b: readonly OcrLine[]): { same: boolean; textDiffs: number } {
  let textDiffs = Math.abs(a.length - b.length)
  let same = a.length === b.length
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!
    const y = b[i]!
    if (x.text !== y.text) textDiffs++
    if (x.text !== y.text || x.score !== y.score || JSON.stringify(x.box) !== JSON.stringify(y.box)) same = false
  }
  return { same, textDiffs }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variants: { type: 'string', default: '{"reduced":{},"softmax":{"recModel":"softmax"}}' },
      rounds: { type: 'string', default: '3' },
      threads: { type: 'string', default: '1' },
      quick: { type: 'boolean', default: false },
      images: { type: 'string' },
    },
  })
  const specs = JSON.parse(values.variants) as Record<string, VariantSpec>
  const rounds = Number(values.rounds)
  const threads = Number(values.threads)
  let images = await loadBenchSet(EVAL_REAL, join(ROOT, '.cache', 'bench'), values.quick)
  if (values.images) images = images.filter((i) => new RegExp(values.images!).test(i.name))
  const variants: Variant[] = []
  for (const [name, spec] of Object.entries(specs)) variants.push(await createVariant(name, spec, threads))
  process.stderr.write(`ab: ${images.length} images, ${variants.length} variants, ${rounds} rounds (+ warm-up), ${threads} ORT thread(s), load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`)
  // warm-up: every image once per variant; its lines are the ones compared
  const first: Reading[][] = variants.map(() => [])
  for (const img of images) for (const [k, v] of variants.entries()) first[k]!.push(await read(v, img))
  const totals: number[][] = variants.map(() => [])
  const recRun: number[][] = variants.map(() => [])
  for (let r = 0; r < rounds; r++) {
    const t = variants.map(() => 0)
    const rr = variants.map(() => 0)
    for (const img of images) {
      for (let j = 0; j < variants.length; j++) {
        const k = (j + r) % variants.length
        const x = await read(variants[k]!, img)
        t[k]! += x.ms
        rr[k]! += x.recRunMs
      }
    }
    t.forEach((ms, k) => totals[k]!.push(ms))
    rr.forEach((ms, k) => recRun[k]!.push(ms))
    process.stderr.write(`round ${r + 1}: ${variants.map((v, k) => `${v.name} ${Math.round(t[k]!)} ms`).join(', ')}\n`)
  }
  const base = median(totals[0]!)
  const rows = variants.map((v, k) => {
    const cols = first[k]!.reduce((n, x) => n + x.recColumns, 0)
    const pad = first[k]!.reduce((n, x) => n + x.recPadded, 0)
    let identical = 0
    let textDiffs = 0
    images.forEach((_, i) => {
      const c = sameLines(first[0]![i]!.lines, first[k]![i]!.lines)
      if (c.same) identical++
      textDiffs += c.textDiffs
    })
    return {
      variant: v.name,
      ms: median(totals[k]!),
      ratio: median(totals[k]!) / base,
      recRunMs: median(recRun[k]!),
      padPct: cols ? (100 * pad) / cols : 0,
      lines: first[k]!.reduce((n, x) => n + x.lines.length, 0),
      identical,
      textDiffs,
    }
  })
  process.stdout.write(
    `${markdownTable(
      ['variant', 'Σ ms (median of rounds)', 'ratio', 'rec run() ms', 'rec padding %', 'lines', `images identical to ${variants[0]!.name}`, 'lines with other text'],
      rows.map((r) => [r.variant, r.ms.toFixed(0), r.ratio.toFixed(3), r.recRunMs.toFixed(0), r.padPct.toFixed(1), String(r.lines), `${r.identical}/${images.length}`, String(r.textDiffs)]),
    )}\n`,
  )
  // per image, the first variant's warm-up reading: time inside run() per network (for comparing
  // with another engine's model time on the same images, e.g. bench/guten-config.ts)
  const perImage = images.map((img, i) => ({ name: img.name, ms: first[0]![i]!.ms, lines: first[0]![i]!.lines.length, ...first[0]![i]!.runMs }))
  const mean = (f: (x: (typeof perImage)[number]) => number): string => (perImage.reduce((n, x) => n + f(x), 0) / perImage.length).toFixed(1)
  process.stdout.write(
    `\n${markdownTable(
      ['image', 'lines', 'ms', 'det run() ms', 'cls run() ms', 'rec run() ms'],
      [
        ...perImage.map((x) => [x.name, String(x.lines), x.ms.toFixed(0), x.det.toFixed(0), x.cls.toFixed(0), x.rec.toFixed(0)]),
        ['mean', mean((x) => x.lines), mean((x) => x.ms), mean((x) => x.det), mean((x) => x.cls), mean((x) => x.rec)],
      ],
    )}\n`,
  )
  process.stdout.write(`${JSON.stringify({ images: images.length, rounds, threads, load: os.loadavg(), rows, perImage })}\n`)
  for (const v of variants) for (const b of v.backends) await b.dispose()
}

await main()
