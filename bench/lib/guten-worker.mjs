// A worker thread running its own @gutenye/ocr-node instance (bench/guten-config.ts): reads the
// image paths it is sent and answers with the line count and the time taken.
import { parentPort, workerData } from 'node:worker_threads'
import Ocr from '@gutenye/ocr-node'

const ocr = await Ocr.create({ onnxOptions: workerData.onnxOptions })
parentPort.on('message', async (path) => {
  const t0 = performance.now()
  const lines = await ocr.detect(path)
  parentPort.postMessage({ lines: lines.length, ms: performance.now() - t0 })
})
parentPort.postMessage('ready')
