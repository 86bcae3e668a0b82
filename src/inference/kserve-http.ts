/**
 * The KServe v2 / Open Inference Protocol client over HTTP (Triton, KServe, OpenVINO Model Server,
 * MLServer). Tensors travel with Triton's binary tensor data extension; JSON number arrays
 * (remote.binary = false) remain as a fallback for servers without it. The wire format is
 * src/protocols/kserve-rest.ts.
 */
import type { RemoteSettings } from '../config.js'
import { OcrError, isOcrError } from '../errors.js'
import type { Logger } from '../logger.js'
import { INFERENCE_HEADER_CONTENT_LENGTH, decodeInferResponse, encodeInferRequest, parseModelMetadata } from '../protocols/kserve-rest.js'
import type { ModelMetadata } from '../protocols/metadata.js'
import type { Feeds, RunOptions, Tensor } from './backend.js'
import { answerJson, createHttpAgents, destroyHttpAgents, httpCall, httpServerError } from './http-transport.js'
import { callWithRetries, probe } from './remote-call.js'
import type { RemoteClient } from './remote.js'
import { normalizeHttpBase } from './remote-url.js'

export class KserveHttpClient implements RemoteClient {
  readonly #remote: RemoteSettings
  readonly #logger: Logger
  readonly #base: string
  readonly #agents = createHttpAgents()

  constructor(remote: RemoteSettings, logger: Logger) {
    this.#remote = remote
    this.#logger = logger
    this.#base = normalizeHttpBase(remote.url)
  }

  #modelPath(model: string): string {
    const v = this.#remote.modelVersion
    return `/v2/models/${encodeURIComponent(model)}${v ? `/versions/${encodeURIComponent(v)}` : ''}`
  }

  /** Health endpoints: 200 = true; any other answer, no answer or the deadline = false. */
  #probe(path: string, caller?: AbortSignal): Promise<boolean> {
    return probe(`GET ${path}`, this.#remote, this.#logger, caller, async (scope) => {
      const res = await httpCall(this.#base + path, { method: 'GET' }, scope.signal, this.#agents)
      return res.status === 200
    })
  }

  serverReady(signal?: AbortSignal): Promise<boolean> {
    return this.#probe('/v2/health/ready', signal)
  }

  modelReady(model: string, signal?: AbortSignal): Promise<boolean> {
    return this.#probe(`${this.#modelPath(model)}/ready`, signal)
  }

  modelMetadata(model: string): Promise<ModelMetadata> {
    const what = `metadata of model "${model}"`
    return callWithRetries(what, this.#remote, this.#logger, undefined, async (signal) => {
      const res = await httpCall(this.#base + this.#modelPath(model), { method: 'GET' }, signal, this.#agents)
      return parseModelMetadata(answerJson(res, what), model)
    })
  }

  infer(model: string, feeds: Feeds, outputNames: readonly string[], options?: RunOptions): Promise<Record<string, Tensor>> {
    const what = `inference on model "${model}"`
    const { parts, headers } = encodeInferRequest(feeds, outputNames, this.#remote.binary)
    const url = `${this.#base}${this.#modelPath(model)}/infer`
    return callWithRetries(what, this.#remote, this.#logger, options?.signal, async (signal) => {
      const res = await httpCall(url, { method: 'POST', headers, body: parts }, signal, this.#agents)
      if (res.status !== 200) throw httpServerError(res.status, res.body.toString('utf8'), what)
      let outputs: Record<string, Tensor>
      try {
        outputs = decodeInferResponse(res.body, res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH))
      } catch (err) {
        throw new OcrError('MODEL_ERROR', `${what}: malformed answer: ${isOcrError(err) ? err.message : String(err)}`, { cause: err })
      }
      for (const name of outputNames) {
        if (!outputs[name]) throw new OcrError('MODEL_ERROR', `${what}: the answer lacks output "${name}"`)
      }
      return outputs
    })
  }

  async close(): Promise<void> {
    destroyHttpAgents(this.#agents)
  }
}
