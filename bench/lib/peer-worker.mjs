// A worker thread running its own @gutenye/ocr-node instance (bench/guten-config.ts): reads the
// image paths it is sent and answers with the line count, the time taken, and the time spent in
// ONNX Runtime's run() per network (detector / recogniser, told apart by the input height: the
// recogniser's is 48), measured by wrapping InferenceSession.prototype.run.
import { parentPort, workerData } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import Ocr from '@gutenye/ocr-node'

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

const ocr = await Ocr.create({ onnxOptions: workerData.onnxOptions })
parentPort.on('message', async (path) => {
  for (const k of Object.keys(model)) model[k] = 0
  const t0 = performance.now()
  const lines = await ocr.detect(path)
  parentPort.postMessage({ lines: lines.length, ms: performance.now() - t0, model: { ...model } })
})
parentPort.postMessage('ready')
