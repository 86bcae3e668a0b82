/**
 * Model-server worker thread: one ONNX Runtime session per served model version, created through
 * the local backend (the one place that imports onnxruntime-node). Runs whole batches; the main
 * thread does the batching, the protocols and the I/O. Errors cross back as {code, message, stack}.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Device } from '../config.js'
import { serializeError } from '../errors.js'
import type { Backend, Feeds, Tensor } from '../inference/backend.js'
import { createLocalBackend } from '../inference/local.js'
import type { Logger } from '../logger.js'
import type { FromWorker, ToWorker } from './pool.js'

export interface WorkerInit {
  models: Array<{ key: string; path: string }>
  device: Device
  threads: number
}

const port = parentPort
if (!port) throw new Error('model-server worker must run in a worker thread')
const init = workerData as WorkerInit
const post = (msg: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer)

const log =
  (level: 'debug' | 'info' | 'warn' | 'error') =>
  (obj: object | string, msg?: string): void =>
    post({ type: 'log', level, obj: typeof obj === 'string' ? { msg: obj } : obj, ...(msg !== undefined ? { msg } : {}) })
const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }

const backends = new Map<string, Backend>()

async function load(): Promise<void> {
  try {
    for (const m of init.models) {
      backends.set(m.key, await createLocalBackend(m.path, { device: init.device, threads: init.threads, logger }))
    }
    const models: Record<string, { inputNames: string[]; outputNames: string[] }> = {}
    for (const [key, b] of backends) models[key] = { inputNames: [...b.inputNames], outputNames: [...b.outputNames] }
    post({ type: 'ready', models })
  } catch (err) {
    post({ type: 'init-error', error: serializeError(err) })
  }
}

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

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'close') {
    void Promise.all([...backends.values()].map((b) => b.dispose())).finally(() => port.close())
    return
  }
  const backend = backends.get(msg.key)
  if (!backend) {
    post({ type: 'error', id: msg.id, error: serializeError(new Error(`worker has no session for ${msg.key}`)) })
    return
  }
  backend
    .run(msg.feeds as Feeds, { outputs: msg.outputNames })
    .then((outputs) => {
      const { outputs: picked, transfer } = pick(outputs, msg.outputNames)
      post({ type: 'result', id: msg.id, outputs: picked }, transfer)
    })
    .catch((err: unknown) => post({ type: 'error', id: msg.id, error: serializeError(err) }))
})

void load()
