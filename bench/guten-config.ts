/**
 * Guten OCR's best configuration for throughput, so that the comparison in `npm run bench` is fair:
 * the bench set (--quick: core set) read by N worker threads, each with its own @gutenye/ocr-node
 * instance and T ONNX Runtime intra-op threads (Guten's onnxOptions), all submitted at once after
 * a warm-up pass. Configurations are measured in turn, rounds interleaved; reports the median
 * images/s per configuration, and for the first configuration where its time goes: per image, the
 * time inside ONNX Runtime's run() for the detector and the recogniser (bench/lib/peer-worker.mjs).
 *
 *   node --import tsx bench/guten-config.ts [--quick] [--rounds 2] [--configs 1x0,1x2,2x1] [--engine ppu]
 *
 * --engine ppu measures ppu-paddle-ocr the same way (bench/lib/engines.ts).
 *
 * NxT: N workers × T threads (T = 0: ONNX Runtime's default, all cores: what the bench uses).
 */
import os from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { EVAL_REAL } from './lib/eval-real.js'
import { createPool, type Pool } from './lib/peer-pool.js'
import { loadBenchSet } from './lib/images.js'
import { markdownTable, median } from './lib/stats.js'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string', default: '2' }, configs: { type: 'string', default: '1x0,2x1' }, engine: { type: 'string', default: 'guten' } } })
  const engine = values.engine
  if (engine !== 'guten' && engine !== 'ppu') throw new RangeError(`--engine must be guten or ppu, got "${engine}"`)
  const images = await loadBenchSet(EVAL_REAL, join(ROOT, '.cache', 'bench'), values.quick)
  const paths = images.map((i) => i.path)
  const pools: Pool[] = []
  for (const c of values.configs.split(',')) {
    const [n, t] = c.split('x').map(Number) as [number, number]
    pools.push(await createPool(engine, n, t))
  }
  process.stderr.write(`guten-config (${engine}): ${paths.length} images, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`)
  for (const p of pools) await p.run(paths) // warm-up
  const rates: number[][] = pools.map(() => [])
  for (let r = 0; r < Number(values.rounds); r++) {
    for (let j = 0; j < pools.length; j++) {
      const k = (j + r) % pools.length
      rates[k]!.push(await pools[k]!.run(paths))
      process.stderr.write(`round ${r + 1}: ${pools[k]!.name} ${rates[k]!.at(-1)!.toFixed(3)} images/s\n`)
    }
  }
  process.stdout.write(`${markdownTable(['workers × ORT threads', 'images/s (median)', 'per round'], pools.map((p, k) => [p.name, median(rates[k]!).toFixed(3), rates[k]!.map((x) => x.toFixed(3)).join(' ')]))}\n\n`)
  // where Guten's time goes (last round of the first configuration): per image, ONNX Runtime run() per network
  const first = pools[0]!
  const per = images.map((img) => ({ name: img.name, ...first.last.get(img.path)! }))
  const mean = (f: (x: (typeof per)[number]) => number): string => (per.reduce((n, x) => n + f(x), 0) / per.length).toFixed(1)
  process.stdout.write(
    `${markdownTable(
      ['image', 'lines', 'ms', 'det run() ms', 'rec run() ms', 'rec calls'],
      [
        ...per.map((x) => [x.name, String(x.lines), x.ms.toFixed(0), x.model.det.toFixed(0), x.model.rec.toFixed(0), String(x.model.recCalls)]),
        ['mean', mean((x) => x.lines), mean((x) => x.ms), mean((x) => x.model.det), mean((x) => x.model.rec), mean((x) => x.model.recCalls)],
      ],
    )}\n`,
  )
  process.stdout.write(`${JSON.stringify({ images: paths.length, load: os.loadavg(), rows: pools.map((p, k) => ({ config: p.name, imagesPerSecond: median(rates[k]!), rounds: rates[k] })), perImage: per })}\n`)
  for (const p of pools) await p.close()
}

await main()
