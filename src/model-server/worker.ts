/**
 * Model-server worker thread: one ONNX Runtime session per served model version, created through
 * the local backend (the one place that imports onnxruntime-node). Runs whole batches; the main
 * thread does the batching, the protocols and the I/O. Errors cross back as {code, message, stack}.
 */
import type { Device } from '../config.js'
import { serializeError } from '../errors.js'
import type { Backend, Feeds, Tensor } from '../inference/backend.js'
import { createLocalBackend } from '../inference/local.js'
import { hosted } from '../workers/hosted.js'
import type { FromWorker, ModelIo, ToWorker } from './pool.js'

export interface WorkerInit {
  models: Array<{ key: string; path: string }>
  device: Device
  threads: number
}

const host = hosted<WorkerInit, ToWorker, FromWorker, Record<string, ModelIo>>()
const backends = new Map<string, Backend>()

/**
 * Owned copies of the requested outputs, so their buffers can be transferred. (ONNX Runtime's own
 * output buffers are not handed over as they are: memory the native binding allocated should be
 * freed where it was made, and the copy is small next to the run: 2.5 MB for a page's map.)
 */
function pick(outputs: Record<string, Tensor>, names: readonly string[]): { outputs: Record<string, Tensor>; transfer: ArrayBuffer[] } {
  const picked: Record<string, Tensor> = {}
  const transfer: ArrayBuffer[] = []
  for (const name of names) {
    const t = outputs[name]
    if (!t) throw new Error(`the model produced no output "${name}"`)
    const data = t.data.slice() as Tensor['data']
    picked[name] = { type: t.type, dims: [...t.dims], data }
    transfer.push(data.buffer as ArrayBuffer)
  }
  return { outputs: picked, transfer }
}

host.serve({
  async load() {
    for (const m of host.init.models) {
      backends.set(m.key, await createLocalBackend(m.path, { device: host.init.device, threads: host.init.threads, logger: host.logger }))
    }
    const models: Record<string, ModelIo> = {}
    for (const [key, b] of backends) models[key] = { inputNames: [...b.inputNames], outputNames: [...b.outputNames] }
    return models
  },
  onMessage(msg) {
    const backend = backends.get(msg.key)
    if (!backend) {
      host.post({ type: 'error', id: msg.id, error: serializeError(new Error(`worker has no session for ${msg.key}`)) })
      return
    }
    backend
      .run(msg.feeds as Feeds, { outputs: msg.outputNames })
      .then((outputs) => {
        const { outputs: picked, transfer } = pick(outputs, msg.outputNames)
        host.post({ type: 'result', id: msg.id, outputs: picked }, transfer)
      })
      .catch((err: unknown) => host.post({ type: 'error', id: msg.id, error: serializeError(err) }))
  },
  async release() {
    await Promise.all([...backends.values()].map((b) => b.dispose()))
  },
})
