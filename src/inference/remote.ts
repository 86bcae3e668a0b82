/**
 * Remote mode: the networks run on a model server (Triton / KServe v2 over HTTP or gRPC, or
 * TensorFlow Serving REST) and this process only does pre/post-processing. Each protocol is a
 * RemoteClient; createRemoteBackend() turns a client + model name into the same Backend the local
 * ONNX Runtime backend implements, so the stages never know where run() happens.
 *
 * The clients' wire formats live in src/protocols (shared with the built-in model server), their
 * deadlines and retries in ./remote-call.ts, URL parsing in ./remote-url.ts.
 */
import type { RemoteProtocol, RemoteSettings } from '../config.js'
import { OcrError } from '../errors.js'
import { silentLogger, type Logger } from '../logger.js'
import type { ModelMetadata } from '../protocols/metadata.js'
import { runInLanes, type Backend, type EachResult, type Feeds, type RunOptions, type Tensor } from './backend.js'
import { KserveGrpcClient } from './kserve-grpc.js'
import { KserveHttpClient } from './kserve-http.js'
import { TfServingClient } from './tfserving.js'

export interface RemoteClient {
  /** True when the server answers that it is ready; false when it is not or cannot be reached. */
  serverReady(signal?: AbortSignal): Promise<boolean>
  /** True when the model (remote.modelVersion, or the server's choice) is ready. */
  modelReady(model: string, signal?: AbortSignal): Promise<boolean>
  modelMetadata(model: string): Promise<ModelMetadata>
  /** One inference. Rejects with OcrError NOT_READY / TIMEOUT / CANCELLED / MODEL_ERROR. */
  infer(model: string, feeds: Feeds, outputNames: readonly string[], options?: RunOptions): Promise<Record<string, Tensor>>
  close(): Promise<void>
}

type ClientConstructor = (remote: RemoteSettings, logger: Logger) => RemoteClient

/** Protocol → client. Adding a protocol is one entry here (and one in REMOTE_PROTOCOLS). */
const CLIENTS: Record<RemoteProtocol, ClientConstructor> = {
  'kserve-http': (remote, logger) => new KserveHttpClient(remote, logger),
  'kserve-grpc': (remote, logger) => new KserveGrpcClient(remote, logger),
  tfserving: (remote, logger) => new TfServingClient(remote, logger),
}

export function createRemoteClient(remote: RemoteSettings, logger: Logger = silentLogger): RemoteClient {
  const make = CLIENTS[remote.protocol]
  if (!make) {
    throw new OcrError('INVALID_CONFIG', `unknown remote protocol "${String(remote.protocol)}"; valid: ${Object.keys(CLIENTS).join(', ')}`)
  }
  return make(remote, logger.child ? logger.child({ remote: remote.url, protocol: remote.protocol }) : logger)
}

export interface RemoteBackendOptions {
  /** dispose() also closes the client (when the backend is the client's only user). */
  closeClient?: boolean
}

/**
 * A Backend over one model of a model server. Reads the model's metadata once (input/output
 * names). Stages feed `{x: tensor}`; when the model has a single input under another name (a TF
 * SavedModel's signature, say) the single feed is passed under the model's own name.
 */
export async function createRemoteBackend(
  client: RemoteClient,
  model: string,
  remote: RemoteSettings,
  options: RemoteBackendOptions = {},
): Promise<Backend> {
  const meta = await client.modelMetadata(model)
  const inputNames = meta.inputs.map((t) => t.name)
  const outputNames = meta.outputs.map((t) => t.name)
  if (inputNames.length === 0 || outputNames.length === 0) {
    throw new OcrError('MODEL_ERROR', `model "${model}" on ${remote.url} reports no inputs or no outputs`)
  }
  let disposed = false
  const run = (feeds: Feeds, runOptions?: RunOptions): Promise<Record<string, Tensor>> => {
    if (disposed) return Promise.reject(new OcrError('INTERNAL', 'backend used after dispose()'))
    return client.infer(model, matchFeedNames(feeds, inputNames), runOptions?.outputs ?? outputNames, runOptions)
  }
  return {
    inputNames,
    outputNames,
    run,
    /** Up to OCR_REMOTE_CALLS_IN_FLIGHT calls under way: the model server shares them among its instances. */
    runEach: (calls: readonly Feeds[], runOptions: RunOptions, onResult: EachResult) => runInLanes(run, calls, remote.callsInFlight, runOptions, onResult),
    async dispose(): Promise<void> {
      if (disposed) return
      disposed = true
      if (options.closeClient) await client.close()
    },
  }
}

/** A lone feed under another name goes to the model's lone input; anything else is passed as is. */
function matchFeedNames(feeds: Feeds, inputNames: readonly string[]): Feeds {
  const names = Object.keys(feeds)
  if (names.length === 1 && inputNames.length === 1 && names[0] !== inputNames[0]) {
    return { [inputNames[0]!]: feeds[names[0]!]! }
  }
  return feeds
}

/** Server ready and every model of `models` ready. Never throws (unreachable = false). */
export async function remoteReady(client: RemoteClient, models: readonly string[], signal?: AbortSignal): Promise<boolean> {
  try {
    if (!(await client.serverReady(signal))) return false
    const states = await Promise.all(models.map((m) => client.modelReady(m, signal)))
    return states.every(Boolean)
  } catch {
    return false
  }
}
