/**
 * What words cost: the in-process pipeline (default settings, pages read with their words) over
 * the bench images under the V8 sampling profiler, and the share of its time spent in the code
 * that places characters, restores spaces and boxes words (image/ink.ts, models/rec-words.ts,
 * pipeline/line-output.ts, pipeline/line-frame.ts, image/tensor.ts recInputGray). A share of
 * the same run's samples holds under load, where wall-clock A/B of a 2 % difference does not.
 *
 *   node --import tsx bench/words-cost.ts [--passes 3] [--quick] [--threads 1] [--no-words]
 *
 * --no-words: the default read (spaces restored, no word boxes).
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parseEngineSettings } from '../src/config.js'
import { decodeImage } from '../src/image/decode.js'
import type { Backend, ModelRole } from '../src/inference/backend.js'
import { createLocalBackend } from '../src/inference/local.js'
import { localModelSource } from '../src/models/onnx/model-file.js'
import { builtinPack } from '../src/packs/builtin.js'
import { Pipeline } from '../src/pipeline/pipeline.js'
import { hotSpots, profile } from './lib/cpuprofile.js'
import { loadBenchSet } from './lib/images.js'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
/** Where the words code lives: files, and functions of shared files. */
const WORDS_CODE = [/src\/image\/ink\.ts/, /src\/models\/rec-words\.ts/, /src\/pipeline\/line-output\.ts/, /src\/pipeline\/line-frame\.ts/, /^recInputGray /]

const { values } = parseArgs({ options: { passes: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false }, threads: { type: 'string', default: '1' }, 'no-words': { type: 'boolean', default: false } } })
const words = !values['no-words']
const passes = Number(values.passes)
const threads = Number(values.threads)

const settings = parseEngineSettings({})
const pack = await builtinPack(settings, { onnx: 'required' })
const backends: Record<ModelRole, Backend> = {
  det: await createLocalBackend(await localModelSource(pack.det.onnx, settings.modelRewrite, undefined, 'det'), { device: 'cpu', threads }),
  cls: await createLocalBackend(await localModelSource(pack.cls!.onnx, settings.modelRewrite, undefined, 'cls'), { device: 'cpu', threads }),
  rec: await createLocalBackend(await localModelSource(pack.rec.onnx, settings.modelRewrite, undefined, 'rec'), { device: 'cpu', threads }),
}
const pipeline = new Pipeline((role) => Promise.resolve(backends[role as ModelRole]), pack, settings)
const images = await loadBenchSet(join(ROOT, '..', 'shared', 'eval-real'), join(ROOT, '.cache', 'bench'), values.quick)
const decoded = await Promise.all(images.map(async (img) => (await decodeImage(readFileSync(img.path), { maxPixels: settings.maxPixels })).pages))

let lines = 0
const readAll = async (): Promise<void> => {
  for (const pages of decoded) for (const page of pages) lines += (await pipeline.readPage(page, { useCls: settings.useCls, words })).lines.length
}
await readAll() // warm-up
lines = 0
const t0 = performance.now()
const { profile: prof } = await profile(async () => {
  for (let p = 0; p < passes; p++) await readAll()
})
const wallMs = performance.now() - t0
const hot = hotSpots(prof, `${ROOT}/`)
const total = hot.reduce((s, h) => s + h.selfMs, 0)
const spots = hot.filter((h) => WORDS_CODE.some((re) => re.test(h.where)))
const wordsMs = spots.reduce((s, h) => s + h.selfMs, 0)
process.stdout.write(
  [
    `${images.length} images × ${passes} passes, ${lines} lines${words ? ' with word boxes' : ''}, ${threads} ORT thread(s), load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; wall ${Math.round(wallMs)} ms, sampled ${Math.round(total)} ms`,
    `words code: ${wordsMs.toFixed(1)} ms = ${((100 * wordsMs) / total).toFixed(2)} % of the pipeline's time (${((1000 * wordsMs) / Math.max(1, lines)).toFixed(0)} µs a line)`,
    ...spots.slice(0, 12).map((h) => `  ${h.selfMs.toFixed(1).padStart(8)} ms  ${h.where}`),
    JSON.stringify({ images: images.length, passes, lines, words, sampledMs: total, wordsMs, share: wordsMs / total }),
  ].join('\n') + '\n',
)
for (const b of Object.values(backends)) await b.dispose()
