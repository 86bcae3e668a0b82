// A worker thread of the saturated floor (bench/lib/floor-pool.ts): loads the three networks from
// the build the way one default ocrserve worker does (same model bytes, graph rewrites included,
// the same ONNX Runtime thread count), keeps the recorded run() calls it is sent, and on each `go`
// replays all of them and answers with the time spent in run() per network and the pass's wall
// time. A plain .mjs file that registers tsx itself: worker threads do not inherit `--import tsx`.
import { parentPort, workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
const { replay } = await import('./recording.ts')
const local = await import(`${workerData.dist}/inference/local.js`)
const modelFile = await import(`${workerData.dist}/models/onnx/model-file.js`)

const backends = {}
for (const role of ['det', 'cls', 'rec']) {
  const source = await modelFile.localModelSource(workerData.models[role], workerData.rewrite)
  backends[role] = await local.createLocalBackend(source, { device: 'cpu', threads: workerData.threads })
}
let calls = []
parentPort.on('message', async (msg) => {
  try {
    if (msg.type === 'calls') {
      calls = msg.calls
      parentPort.postMessage({ type: 'stored' })
    } else if (msg.type === 'go') {
      const t0 = performance.now()
      const times = await replay(calls, backends)
      parentPort.postMessage({ type: 'done', wallMs: performance.now() - t0, times })
    } else if (msg.type === 'close') {
      for (const b of Object.values(backends)) await b.dispose()
      parentPort.close()
    }
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) })
  }
})
parentPort.postMessage({ type: 'ready' })
