/**
 * Saturated throughput of two builds of ocrserve, A/B in one process: this checkout's dist/ and a
 * baseline checkout's (built with `npm run build` there, with its own node_modules). Both engines
 * (default settings, one worker per core) stay up; each round reads the whole bench set all at
 * once with one, then the other (the order alternates per round), and forms the ratios of the two
 * passes: images/s and CPU seconds per image (process CPU: the idle engine's workers add nothing).
 *
 * Why in one process, passes alternating: this 2-core machine's speed drifts by 10–25 % over
 * minutes, so two runs of `npm run bench` one after the other cannot resolve a few per cent; a
 * ratio of two passes taken seconds apart can, and the spread over rounds says how far.
 *
 *   npm run build && node --import tsx bench/ab-builds.ts --baseline /path/to/other/checkout [--rounds 6] [--quick]
 */
import os from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Ocr } from '../src/index.js'
import { EVAL_REAL } from './lib/eval-real.js'
import { loadBenchSet } from './lib/images.js'
import { fmtSpread, markdownTable, spread, spreadJson } from './lib/stats.js'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '6' },
    quick: { type: 'boolean', default: false },
  },
})
if (!args.baseline) throw new Error('--baseline DIR (a built checkout) is required')
const ROUNDS = Number(args.rounds)

const images = await loadBenchSet(EVAL_REAL, join(ROOT, '.cache', 'bench'), args.quick === true)
const load = async (root: string): Promise<Ocr> => ((await import(join(root, 'dist', 'index.js'))) as typeof import('../src/index.js')).createOcr({ maxQueue: 4 * images.length })
const engines = { baseline: await load(resolve(args.baseline)), this: await load(ROOT) }

/** One pass: the whole set at once; images/s and CPU seconds per image. */
async function pass(ocr: Ocr): Promise<{ rate: number; cpu: number }> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(images.map((im) => ocr.read(im.path)))
  const s = (performance.now() - t0) / 1000
  const c = process.cpuUsage(c0)
  return { rate: images.length / s, cpu: (c.user + c.system) / 1e6 / images.length }
}

try {
  // warm-up: each engine reads the set once
  await pass(engines.baseline)
  await pass(engines.this)
  const rows: string[][] = []
  const rate: number[] = []
  const cpu: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? (['baseline', 'this'] as const) : (['this', 'baseline'] as const)
    const got: Partial<Record<'baseline' | 'this', { rate: number; cpu: number }>> = {}
    for (const k of order) got[k] = await pass(engines[k])
    const [a, b] = [got.baseline!, got.this!]
    rate.push(b.rate / a.rate)
    cpu.push(b.cpu / a.cpu)
    rows.push([String(r + 1), a.rate.toFixed(3), b.rate.toFixed(3), (b.rate / a.rate).toFixed(3), a.cpu.toFixed(3), b.cpu.toFixed(3), (b.cpu / a.cpu).toFixed(3)])
    process.stderr.write(`round ${r + 1} of ${ROUNDS} done\n`)
  }
  const [rateSpread, cpuSpread] = [spread(rate), spread(cpu)]
  process.stdout.write(`\n${images.length} images at once per pass, ${ROUNDS} rounds; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`)
  process.stdout.write(markdownTable(['round', 'baseline images/s', 'this images/s', 'this ÷ baseline', 'baseline CPU s/image', 'this CPU s/image', 'this ÷ baseline'], rows) + '\n')
  process.stdout.write(`\nimages/s this ÷ baseline: ${fmtSpread(rateSpread, 3)}; CPU per image: ${fmtSpread(cpuSpread, 3)}\n`)
  process.stdout.write(JSON.stringify({ images: images.length, rounds: ROUNDS, rate: spreadJson(rateSpread), cpu: spreadJson(cpuSpread) }) + '\n')
} finally {
  await engines.baseline.close()
  await engines.this.close()
}
