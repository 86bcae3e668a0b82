/**
 * The cost of one model call over the wire: the same detector and recogniser inputs run on a
 * local ONNX Runtime session and through `ocrserve model-server` over kserve-http (binary) and
 * kserve-grpc, rounds interleaved. The models are the repository's own (`models-repo`: compact
 * uint8 inputs, locally too), so only the transport differs; with --float-inputs, the float32-input
 * models and tensors (4× the bytes). Prints ms per call (median over rounds, and the range) and the
 * difference to the local run (what a remote call adds: encoding, copies, loopback, the server's
 * batcher and worker hop, decoding), and the model server's CPU time per call. Model server:
 * 1 worker × 1 ORT thread, like the local session.
 *
 * --concurrency N keeps N calls in flight per backend (ms per call is then wall time / calls).
 * --baseline DIR also starts the model server of another built checkout (`npm run build` there;
 * it is given this checkout's repository) and calls it with this checkout's clients, interleaved
 * with this one's: an A/B of two model servers.
 *
 *   npm run build && node --import tsx bench/remote-calls.ts [--rounds 5] [--rec-calls 20] [--det-calls 3]
 *     [--float-inputs] [--concurrency 4] [--baseline /path/to/other/checkout]
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Backend, Feeds } from '../src/inference/backend.js'
import { createLocalBackend } from '../src/inference/local.js'
import { createRemoteBackend, createRemoteClient } from '../src/inference/remote.js'
import { RemoteSettingsSchema } from '../src/config.js'
import { repositoryModelBytes } from '../src/cli/models-repo.js'
import { PIXELS_INPUT, PIXELS_VALID_INPUT } from '../src/inference/model-io.js'
import { type Child, cpuSecondsOf, type ModelServerChild, startModelServer } from './lib/procs.js'
import { markdownTable, median } from './lib/stats.js'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const BIN = join(ROOT, 'bin', 'ocrserve.js')
const REPO = join(ROOT, '.cache', 'bench', 'model-repo-calls')

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'rec-calls': { type: 'string', default: '20' },
    'det-calls': { type: 'string', default: '3' },
    'float-inputs': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '1' },
    baseline: { type: 'string' },
  },
})
const ROUNDS = Number(args.rounds)
const REC_CALLS = Number(args['rec-calls'])
const DET_CALLS = Number(args['det-calls'])
const FLOAT = args['float-inputs'] === true
const CONCURRENCY = Number(args.concurrency)
const BASELINE = args.baseline ? resolve(args.baseline) : undefined

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1)
const tensor = (dims: number[], line: boolean): Feeds => {
  if (FLOAT) return { x: { type: 'float32', dims, data: Float32Array.from({ length: count(dims) }, (_, i) => Math.sin(i * 0.37) * 0.9) } }
  const pixels: Feeds = { [PIXELS_INPUT]: { type: 'uint8', dims, data: Uint8Array.from({ length: count(dims) }, (_, i) => 128 + Math.round(Math.sin(i * 0.37) * 115)) } }
  const [n, , , w] = dims as [number, number, number, number]
  return line ? { ...pixels, [PIXELS_VALID_INPUT]: { type: 'uint8', dims: [n, 1, 1, w], data: new Uint8Array(n * w).fill(1) } } : pixels
}
// a 232 px line (133 KB as float32, 33 KB as pixels) and a 960×640 page (7.4 MB, 1.8 MB), as the pipeline sends them
const REC_X = tensor([1, 3, 48, 232], true)
const DET_X = tensor([1, 3, 640, 960], false)

execFileSync(process.execPath, [BIN, 'models-repo', '--out', REPO, '--force', ...(FLOAT ? ['--float-inputs'] : [])], { cwd: ROOT, stdio: 'ignore' })

interface ModelServer extends ModelServerChild {
  label: string
}

async function startServer(label: string, root: string): Promise<ModelServer> {
  // it is given this checkout's repository; one worker with one ORT thread, like the local session
  return { label, ...(await startModelServer(root, REPO, ['--workers', '1', '--threads-per-worker', '1'])) }
}

/** `n` calls of `fn`, `CONCURRENCY` in flight; ms of wall time per call. */
async function timed(n: number, fn: () => Promise<unknown>): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, n) }, async () => {
      while (next++ < n) await fn()
    }),
  )
  return (performance.now() - t0) / n
}

interface Variant {
  rec: Backend
  det: Backend
  /** The model server's process (its CPU time per call is reported). */
  server?: Child
}

const servers: ModelServer[] = []
try {
  servers.push(await startServer('', ROOT))
  if (BASELINE) servers.push(await startServer(' (baseline)', BASELINE))
  const variants: Record<string, Variant> = {
    local: {
      rec: await createLocalBackend(await repositoryModelBytes('rec', !FLOAT), { device: 'cpu', threads: 1 }),
      det: await createLocalBackend(await repositoryModelBytes('det', !FLOAT), { device: 'cpu', threads: 1 }),
    },
  }
  for (const server of servers) {
    for (const [protocol, url] of [['kserve-http', server.http], ['kserve-grpc', server.grpc]] as const) {
      const settings = RemoteSettingsSchema.parse({ url, protocol })
      const client = createRemoteClient(settings)
      variants[protocol + server.label] = { rec: await createRemoteBackend(client, 'ocr_rec', settings), det: await createRemoteBackend(client, 'ocr_det', settings), server: server.child }
    }
  }
  const recOutputs = (b: Backend) => (b.outputNames.includes('argmax') ? { outputs: ['argmax', 'maxprob'] } : {})
  const samples: Record<string, { rec: number[]; det: number[]; recCpu: number[]; detCpu: number[] }> = {}
  const names = Object.keys(variants)
  for (let round = 0; round <= ROUNDS; round++) {
    // round 0 warms up; the order rotates so no variant always runs first
    for (const name of names.map((_, i) => names[(i + round) % names.length]!)) {
      const v = variants[name]!
      const cpu = (): number => (v.server ? cpuSecondsOf(v.server.pid) : 0)
      const c0 = cpu()
      const rec = await timed(REC_CALLS, () => v.rec.run(REC_X, recOutputs(v.rec)))
      const c1 = cpu()
      const det = await timed(DET_CALLS, () => v.det.run(DET_X))
      const c2 = cpu()
      if (round === 0) continue
      samples[name] ??= { rec: [], det: [], recCpu: [], detCpu: [] }
      samples[name].rec.push(rec)
      samples[name].det.push(det)
      samples[name].recCpu.push(((c1 - c0) * 1000) / REC_CALLS)
      samples[name].detCpu.push(((c2 - c1) * 1000) / DET_CALLS)
    }
    process.stderr.write(`round ${round} of ${ROUNDS} done\n`)
  }
  const local = samples.local!
  const spread = (v: number[], digits: number) => `${median(v).toFixed(digits)} (${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)})`
  const rows = names.map((name) => {
    const s = samples[name]!
    const add = (v: number[], l: number[]) => (name === 'local' ? '–' : `+${(median(v) - median(l)).toFixed(1)}`)
    const cpu = (v: number[]) => (name === 'local' ? '–' : median(v).toFixed(1))
    return [name, spread(s.rec, 2), add(s.rec, local.rec), cpu(s.recCpu), spread(s.det, 1), add(s.det, local.det), cpu(s.detCpu)]
  })
  process.stdout.write(
    `\n${FLOAT ? 'float32 inputs' : 'uint8 pixel inputs'}; ${CONCURRENCY === 1 ? 'one call at a time' : `${CONCURRENCY} calls in flight`}, median (range) of ${ROUNDS} rounds (${REC_CALLS} rec + ${DET_CALLS} det calls each); load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`,
  )
  process.stdout.write(markdownTable(['backend', 'rec ms/call', 'rec added', 'rec server CPU ms', 'det ms/call', 'det added', 'det server CPU ms'], rows) + '\n')
  for (const v of Object.values(variants)) {
    await v.rec.dispose()
    await v.det.dispose()
  }
} finally {
  await Promise.all(servers.map((s) => s.child.stop()))
}
