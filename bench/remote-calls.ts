/**
 * The cost of one model call over the wire: the same detector and recogniser inputs run on a
 * local ONNX Runtime session and through `ocrserve model-server` over kserve-http (binary) and
 * kserve-grpc, one call at a time, rounds interleaved. The models are the repository's own
 * (`models-repo`: compact uint8 inputs, locally too), so only the transport differs; with
 * --float-inputs, the float32-input models and tensors (4× the bytes). Prints ms per call and the difference to the
 * local run (what a remote call adds: encoding, copies, loopback, the server's batcher and worker
 * hop, decoding). Model server: 1 worker × 1 ORT thread, like the local session.
 *
 *   npm run build && node --import tsx bench/remote-calls.ts [--rounds 5] [--rec-calls 20] [--det-calls 3] [--float-inputs]
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
import { PIXELS_INPUT, PIXELS_VALID_INPUT } from '../src/models/compact-input.js'
import { freePort, startNode, waitReady } from './lib/procs.js'
import { markdownTable, median } from './lib/stats.js'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const BIN = join(ROOT, 'bin', 'ocrserve.js')
const REPO = join(ROOT, '.cache', 'bench', 'model-repo-calls')

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, 'rec-calls': { type: 'string', default: '20' }, 'det-calls': { type: 'string', default: '3' }, 'float-inputs': { type: 'boolean', default: false } },
})
const ROUNDS = Number(args.rounds)
const REC_CALLS = Number(args['rec-calls'])
const DET_CALLS = Number(args['det-calls'])
const FLOAT = args['float-inputs'] === true

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
const [httpPort, grpcPort] = [await freePort(), await freePort()]
const server = startNode([BIN, 'model-server', '--repository', REPO, '--host', '127.0.0.1', '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--workers', '1', '--threads-per-worker', '1', '--log-level', 'warn'], {}, ROOT)
try {
  await waitReady(`http://127.0.0.1:${httpPort}/v2/health/ready`, server, 120_000)
  const variants: Record<string, { rec: Backend; det: Backend }> = {
    local: {
      rec: await createLocalBackend(await repositoryModelBytes('rec', !FLOAT), { device: 'cpu', threads: 1 }),
      det: await createLocalBackend(await repositoryModelBytes('det', !FLOAT), { device: 'cpu', threads: 1 }),
    },
  }
  for (const [protocol, url] of [['kserve-http', `http://127.0.0.1:${httpPort}`], ['kserve-grpc', `127.0.0.1:${grpcPort}`]] as const) {
    const settings = RemoteSettingsSchema.parse({ url, protocol })
    const client = createRemoteClient(settings)
    variants[protocol] = { rec: await createRemoteBackend(client, 'ocr_rec', settings), det: await createRemoteBackend(client, 'ocr_det', settings) }
  }
  const recOutputs = (b: Backend) => (b.outputNames.includes('argmax') ? { outputs: ['argmax', 'maxprob'] } : {})
  const timed = async (n: number, fn: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now()
    for (let i = 0; i < n; i++) await fn()
    return (performance.now() - t0) / n
  }
  const samples: Record<string, { rec: number[]; det: number[] }> = {}
  const names = Object.keys(variants)
  for (let round = 0; round <= ROUNDS; round++) {
    // round 0 warms up; the order rotates so no variant always runs first
    for (const name of names.map((_, i) => names[(i + round) % names.length]!)) {
      const v = variants[name]!
      const rec = await timed(REC_CALLS, () => v.rec.run(REC_X, recOutputs(v.rec)))
      const det = await timed(DET_CALLS, () => v.det.run(DET_X))
      if (round === 0) continue
      samples[name] ??= { rec: [], det: [] }
      samples[name].rec.push(rec)
      samples[name].det.push(det)
    }
    process.stderr.write(`round ${round} of ${ROUNDS} done\n`)
  }
  const local = samples.local!
  const rows = names.map((name) => {
    const s = samples[name]!
    const [rec, det] = [median(s.rec), median(s.det)]
    const add = (v: number, l: number) => (name === 'local' ? '–' : `+${(v - l).toFixed(1)}`)
    return [name, rec.toFixed(2), add(rec, median(local.rec)), det.toFixed(1), add(det, median(local.det))]
  })
  process.stdout.write(`\n${FLOAT ? 'float32 inputs' : 'uint8 pixel inputs'}; one call at a time, median of ${ROUNDS} rounds (${REC_CALLS} rec + ${DET_CALLS} det calls each); load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`)
  process.stdout.write(markdownTable(['backend', 'rec ms/call', 'rec added', 'det ms/call', 'det added'], rows) + '\n')
  for (const v of Object.values(variants)) {
    await v.rec.dispose()
    await v.det.dispose()
  }
} finally {
  await server.stop()
}
