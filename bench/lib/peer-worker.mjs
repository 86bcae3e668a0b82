// A worker thread running one in-process peer engine of bench/lib/engines.ts (guten or ppu) with
// the ONNX Runtime threads it is given (bench/lib/peer-pool.ts): reads the image paths it is sent
// and answers with the line count, the time taken, and the time spent in ONNX Runtime's run() per
// network (detector / recogniser, told apart by the input height: the recogniser's is 48),
// measured by wrapping InferenceSession.prototype.run (both peers use this package's
// onnxruntime-node). A plain .mjs file that registers tsx itself: worker threads do not inherit
// the main thread's `--import tsx`.
import { parentPort, workerData } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import { register } from 'tsx/esm/api'

register()
const { createEngine } = await import('./engines.ts')

const model = { det: 0, rec: 0, detCalls: 0, recCalls: 0 }
const run = ort.InferenceSession.prototype.run
ort.InferenceSession.prototype.run = async function (feeds, ...rest) {
  const input = Object.values(feeds)[0]
  const role = input?.dims?.[2] === 48 ? 'rec' : 'det'
  const t0 = performance.now()
  try {
    return await run.call(this, feeds, ...rest)
  } finally {
    model[role] += performance.now() - t0
    model[`${role}Calls`]++
  }
}

const engine = await createEngine(workerData.engine, { threads: workerData.threads })
parentPort.on('message', async (path) => {
  for (const k of Object.keys(model)) model[k] = 0
  const t0 = performance.now()
  try {
    const lines = await engine.read(path)
    parentPort.postMessage({ lines: lines.length, ms: performance.now() - t0, model: { ...model } })
  } catch (err) {
    parentPort.postMessage({ error: { message: `${workerData.engine} failed on ${path}: ${err instanceof Error ? err.message : String(err)}`, stack: err instanceof Error ? err.stack : undefined } })
  }
})
parentPort.postMessage({ ready: engine.describe })
