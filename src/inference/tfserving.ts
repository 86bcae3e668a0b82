/**
 * The TensorFlow Serving REST client: model status, signature metadata and columnar predict
 * (wire format: src/protocols/tfserving-rest.ts). Signature and tensor names come from
 * remote.tfSignature / tfInputName / tfOutputName, since SavedModels name them their own way.
 */
import type { RemoteSettings } from '../config.js'
import { OcrError, isOcrError } from '../errors.js'
import type { Logger } from '../logger.js'
import { hasCompactInput } from './model-io.js'
import { fromKserveDatatype } from '../protocols/datatypes.js'
import type { ModelMetadata } from '../protocols/metadata.js'
import { isRecord } from '../protocols/rest.js'
import { decodePredictResponse, encodePredictRequest, parseTfJson, parseTfMetadata, parseTfStatus } from '../protocols/tfserving-rest.js'
import type { Feeds, RunOptions, Tensor, TensorType } from './backend.js'
import { answerJson, createHttpAgents, destroyHttpAgents, httpCall, httpServerError } from './http-transport.js'
import { callWithRetries, probe } from './remote-call.js'
import type { RemoteClient } from './remote.js'
import { normalizeHttpBase } from './remote-url.js'

export class TfServingClient implements RemoteClient {
  readonly #remote: RemoteSettings
  readonly #logger: Logger
  readonly #base: string
  readonly #agents = createHttpAgents()
  /** Output datatypes per model, from metadata (JSON carries no types). */
  readonly #outputTypes = new Map<string, Map<string, TensorType>>()

  constructor(remote: RemoteSettings, logger: Logger) {
    this.#remote = remote
    this.#logger = logger
    this.#base = normalizeHttpBase(remote.url)
  }

  #modelPath(model: string): string {
    const v = this.#remote.modelVersion
    return `/v1/models/${encodeURIComponent(model)}${v ? `/versions/${encodeURIComponent(v)}` : ''}`
  }

  /** A status probe: `check` on the answer; no answer or the deadline = false. */
  #probe(path: string, caller: AbortSignal | undefined, check: (status: number, json: unknown) => boolean): Promise<boolean> {
    return probe(`GET ${path}`, this.#remote, this.#logger, caller, async (scope) => {
      const res = await httpCall(this.#base + path, { method: 'GET' }, scope.signal, this.#agents)
      let json: unknown
      try {
        json = parseTfJson(res.body.toString('utf8'))
      } catch {
        json = undefined
      }
      return check(res.status, json)
    })
  }

  /** TF Serving has no server-health endpoint: ready = its REST API answers a model status request. */
  serverReady(signal?: AbortSignal): Promise<boolean> {
    return this.#probe(`/v1/models/${encodeURIComponent(this.#remote.models.det)}`, signal, (status, json) => status < 500 && isRecord(json))
  }

  modelReady(model: string, signal?: AbortSignal): Promise<boolean> {
    const v = this.#remote.modelVersion
    return this.#probe(this.#modelPath(model), signal, (status, json) => status === 200 && parseTfStatus(json).some((s) => s.state === 'AVAILABLE' && (!v || s.version === v)))
  }

  modelMetadata(model: string): Promise<ModelMetadata> {
    const what = `metadata of model "${model}"`
    return callWithRetries(what, this.#remote, this.#logger, undefined, async (signal) => {
      const res = await httpCall(`${this.#base}${this.#modelPath(model)}/metadata`, { method: 'GET' }, signal, this.#agents)
      const meta = parseTfMetadata(answerJson(res, what, parseTfJson), model, this.#remote.tfSignature)
      const { tfInputName, tfOutputName } = this.#remote
      // a model with compact inputs (models-repo's) takes all of them; another signature, the one named
      if (tfInputName && meta.inputs.length > 1 && !hasCompactInput(meta.inputs.map((t) => t.name))) {
        const input = meta.inputs.find((t) => t.name === tfInputName)
        if (!input) throw new OcrError('MODEL_ERROR', `${what}: signature has no input "${tfInputName}" (has: ${meta.inputs.map((t) => t.name).join(', ')}); set OCR_TF_INPUT`)
        meta.inputs = [input]
      }
      if (tfOutputName) {
        const output = meta.outputs.find((t) => t.name === tfOutputName)
        if (!output) throw new OcrError('MODEL_ERROR', `${what}: signature has no output "${tfOutputName}" (has: ${meta.outputs.map((t) => t.name).join(', ')}); set OCR_TF_OUTPUT`)
        meta.outputs = [output]
      }
      this.#outputTypes.set(model, new Map(meta.outputs.map((t) => [t.name, fromKserveDatatype(t.datatype)?.type ?? 'float32'])))
      return meta
    })
  }

  infer(model: string, feeds: Feeds, outputNames: readonly string[], options?: RunOptions): Promise<Record<string, Tensor>> {
    const what = `predict on model "${model}"`
    // the output filter goes only to a server that will be asked for fewer outputs than it has
    // (TF Serving's REST API has no output selection; ocrserve model-server reads it)
    const all = this.#outputTypes.get(model)
    const body = encodePredictRequest(this.#remote.tfSignature, feeds, all && outputNames.length < all.size ? outputNames : undefined)
    const url = `${this.#base}${this.#modelPath(model)}:predict`
    return callWithRetries(what, this.#remote, this.#logger, options?.signal, async (signal) => {
      const res = await httpCall(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }, signal, this.#agents)
      const text = res.body.toString('utf8')
      if (res.status !== 200) throw httpServerError(res.status, text, what)
      const types = this.#outputTypes.get(model)
      try {
        return decodePredictResponse(parseTfJson(text), outputNames, (name) => types?.get(name) ?? 'float32', what)
      } catch (err) {
        if (isOcrError(err) && err.code === 'MODEL_ERROR') throw err
        throw new OcrError('MODEL_ERROR', `${what}: malformed answer: ${(err as Error).message}`, { cause: err })
      }
    })
  }

  async close(): Promise<void> {
    this.#outputTypes.clear()
    destroyHttpAgents(this.#agents)
  }
}
