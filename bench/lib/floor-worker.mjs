// A worker thread of the saturated floor (bench/lib/floor-pool.ts): loads the three networks from
// the build the way one default ocrserve worker does (same model bytes, graph rewrites included,
// the same ONNX Runtime thread count), keeps the recorded run() calls it is sent, and on each `go`
// replays all of them and answers with the time spent in run() per network. A plain .mjs file
// that registers tsx itself: worker threads do not inherit `--import tsx`.
import { parentPort, workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
const { floorBackends, replay } = await import('./recording.ts')

const backends = await floorBackends(workerData)
let calls = []
parentPort.on('message', async (msg) => {
  try {
    if (msg.type === 'calls') {
      calls = msg.calls
      parentPort.postMessage({ type: 'stored' })
    } else if (msg.type === 'go') {
      parentPort.postMessage({ type: 'done', times: await replay(calls, backends) })
    }
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) })
  }
})
parentPort.postMessage({ type: 'ready' })
