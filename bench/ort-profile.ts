/**
 * Where each network spends its `run()` time, by operator type, from ONNX Runtime's own profiler
 * (per-node kernel times), for the model files as shipped and as ocrserve loads them (graph
 * rewrites, src/models/onnx/graph-rewrite.ts), and the mean `run()` time of both, interleaved.
 *
 *   node --import tsx bench/ort-profile.ts [--runs 10] [--threads 1] [--top 8]
 *
 * Inputs are fixed-size random tensors of typical shapes: a 960×736 page (det), a batch of 6 lines
 * at 192 px (cls), one 320 px line (rec). Profiles are written to a temp folder and removed.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import type { ModelRole } from '../src/inference/backend.js'
import { resolveModelPaths } from '../src/models/assets.js'
import { rewriteModel } from '../src/models/onnx/graph-rewrite.js'
import { markdownTable } from './lib/stats.js'

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '10' }, threads: { type: 'string', default: '1' }, top: { type: 'string', default: '8' } },
})
const RUNS = Number(args.runs)
const THREADS = Number(args.threads)
const TOP = Number(args.top)

const SHAPES: Record<ModelRole, number[]> = { det: [1, 3, 736, 960], cls: [6, 3, 48, 192], rec: [1, 3, 48, 320] }

interface Profiled {
  session: ort.InferenceSession
  prefix: string
}

async function open(bytes: Uint8Array, dir: string, name: string): Promise<Profiled> {
  const prefix = join(dir, name)
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: prefix,
    logSeverityLevel: 3,
  })
  return { session, prefix }
}

/** Kernel time per operator type, in % of the total, from the profile file `prefix` produced. */
function opShares(dir: string, prefix: string): Array<[string, number]> {
  const base = prefix.slice(dir.length + 1)
  const file = readdirSync(dir).find((f) => f.startsWith(base) && f.endsWith('.json'))
  if (!file) throw new Error(`no profile written for ${base}`)
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>
  const byOp = new Map<string, number>()
  let total = 0
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur)
    total += e.dur
  }
  return [...byOp].map(([op, us]) => [op, (100 * us) / total] as [string, number]).sort((a, b) => b[1] - a[1])
}

const dir = mkdtempSync(join(os.tmpdir(), 'ocrserve-ort-profile-'))
const paths = resolveModelPaths()
const summary: string[][] = []
try {
  for (const role of ['det', 'cls', 'rec'] as const) {
    const shipped = readFileSync(paths[role])
    const { bytes: rewritten, report } = rewriteModel(shipped)
    const variants = { shipped: await open(shipped, dir, `${role}-shipped`), rewritten: await open(rewritten, dir, `${role}-rewritten`) }
    const shape = SHAPES[role]
    const n = shape.reduce((a, b) => a * b, 1)
    const x = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.9), shape)
    const ms = { shipped: 0, rewritten: 0 }
    for (const v of Object.values(variants)) await v.session.run({ [v.session.inputNames[0]!]: x }) // warm-up
    for (let i = 0; i < RUNS; i++) {
      for (const [name, v] of Object.entries(variants) as Array<[keyof typeof ms, Profiled]>) {
        const t0 = performance.now()
        await v.session.run({ [v.session.inputNames[0]!]: x })
        ms[name] += performance.now() - t0
      }
    }
    const shares: Record<string, Array<[string, number]>> = {}
    for (const [name, v] of Object.entries(variants)) {
      v.session.endProfiling()
      shares[name] = opShares(dir, v.prefix)
      await v.session.release()
    }
    process.stdout.write(`\n### ${role} [${shape.join(', ')}]: ${report.hardSwish} hard-swish rewritten, ${report.affineIntoConv} affine blocks folded into convs\n\n`)
    const rows = Array.from({ length: TOP }, (_, i) => [
      shares.shipped![i]?.[0] ?? '',
      shares.shipped![i]?.[1].toFixed(1) ?? '',
      shares.rewritten![i]?.[0] ?? '',
      shares.rewritten![i]?.[1].toFixed(1) ?? '',
    ])
    process.stdout.write(markdownTable(['shipped: op', '% of kernel time', 'rewritten: op', '% of kernel time'], rows, ['l', 'r', 'l', 'r']) + '\n')
    summary.push([role, String(report.hardSwish), String(report.affineIntoConv), (ms.shipped / RUNS).toFixed(1), (ms.rewritten / RUNS).toFixed(1), (ms.rewritten / ms.shipped).toFixed(3)])
  }
  process.stdout.write(`\n### run() time, ${RUNS} interleaved runs each, ${THREADS} ORT thread(s), load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`)
  process.stdout.write(markdownTable(['network', 'hard-swish rewritten', 'affine blocks folded', 'shipped ms/run', 'rewritten ms/run', 'ratio'], summary) + '\n')
} finally {
  rmSync(dir, { recursive: true, force: true })
}
