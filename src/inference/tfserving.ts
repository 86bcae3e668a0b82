/**
 * TensorFlow Serving REST (the seed's `tfserving` mode): model status
 * `GET /v1/models/{m}[/versions/{v}]`, metadata `GET …/metadata`, and
 * `POST /v1/models/{m}[/versions/{v}]:predict` with `signature_name` and columnar `inputs`
 * (nested lists), answered in `outputs`.
 *
 * TF Serving writes non-finite floats as bare `NaN` / `Infinity` / `-Infinity` tokens, which strict
 * JSON rejects; parseTfJson() reads them (outside strings only). Signature and tensor names come
 * from remote.tfSignature / tfInputName / tfOutputName, since SavedModels name them their own way.
 *
 * The codec functions are shared with the built-in model server's TF Serving endpoints.
 */
import { randomBytes } from 'node:crypto'
import type { RemoteSettings } from '../config.js'
import { OcrError, isOcrError } from '../errors.js'
import type { Logger } from '../logger.js'
import { hasCompactInput } from '../models/compact-input.js'
import type { Feeds, RunOptions, Tensor, TensorType } from './backend.js'
import { createHttpAgents, httpCall, httpServerError } from './kserve-http.js'
import {
  CallScope,
  callWithRetries,
  flattenNested,
  fromKserveDatatype,
  fromTfDatatype,
  normalizeHttpBase,
  probeTimeoutMs,
  tensorFromValues,
  type ModelMetadata,
  type RemoteClient,
  type TensorMeta,
} from './remote.js'

// ---------------------------------------------------------------------------------------------
// JSON with NaN / Infinity

/**
 * Rewrites bare NaN / Infinity / -Infinity tokens that stand outside strings: ±Infinity become
 * ±1e999 (which JSON.parse reads as ±Infinity), NaN becomes `nanToken`. Text inside strings
 * (escapes included) is left alone.
 */
export function rewriteNonFinite(text: string, nanToken: string): { text: string; nan: boolean; changed: boolean } {
  let out = ''
  let last = 0
  let nan = false
  let changed = false
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      // skip the string, honouring backslash escapes
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i)
        if (s === 92 /* \ */) i++
        else if (s === 34) break
      }
      continue
    }
    const start = i
    let negative = false
    let j = i
    if (c === 45 /* - */) {
      negative = true
      j = i + 1
    }
    const first = text.charCodeAt(j)
    let replacement: string | undefined
    let end = j
    if (first === 78 /* N */ && text.startsWith('NaN', j)) {
      replacement = nanToken
      end = j + 3
    } else if (first === 73 /* I */ && text.startsWith('Infinity', j)) {
      replacement = negative ? '-1e999' : '1e999'
      end = j + 8
    } else {
      continue
    }
    // a token, not the start of an identifier-like run (which JSON.parse should reject as before)
    const next = text.charCodeAt(end)
    if ((next >= 65 && next <= 90) || (next >= 97 && next <= 122) || (next >= 48 && next <= 57) || next === 95) continue
    if (replacement === nanToken) nan = true
    out += text.slice(last, start) + replacement
    last = end
    i = end - 1
    changed = true
  }
  return { text: changed ? out + text.slice(last) : text, nan, changed }
}

/** JSON.parse that also accepts TF Serving's bare NaN / Infinity / -Infinity tokens. */
export function parseTfJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (strictError) {
    // a string no real payload holds: NUL + random nonce, written as a JSON escape
    const nonce = randomBytes(8).toString('hex')
    const rewritten = rewriteNonFinite(text, `"\\u0000nan-${nonce}"`)
    if (!rewritten.changed) throw strictError
    const sentinelValue = `\u0000nan-${nonce}`
    return rewritten.nan
      ? JSON.parse(rewritten.text, (_key, value: unknown) => (value === sentinelValue ? NaN : value))
      : JSON.parse(rewritten.text)
  }
}

/** A tensor as a nested JSON list (non-finite floats as TF Serving's bare tokens). */
export function nestedJson(t: Tensor): string {
  const dims = t.dims
  const d = t.data
  const parts: string[] = []
  if (dims.length === 0) return String(d[0])
  let pos = 0
  const innermost = dims[dims.length - 1]!
  const walk = (depth: number): void => {
    if (depth === dims.length - 1) {
      // TypedArray#join formats each element with Number/BigInt toString (NaN, Infinity included)
      parts.push('[', d.subarray(pos, pos + innermost).join(','), ']')
      pos += innermost
      return
    }
    parts.push('[')
    for (let i = 0; i < dims[depth]!; i++) {
      if (i > 0) parts.push(',')
      walk(depth + 1)
    }
    parts.push(']')
  }
  walk(0)
  return parts.join('')
}

/** A nested JSON list as a tensor of `type` (shape from the nesting). */
export function tensorFromNested(value: unknown, type: TensorType, what: string): Tensor {
  const { values, shape } = flattenNested(value, what)
  return tensorFromValues(type, shape, values, what)
}

// ---------------------------------------------------------------------------------------------
// Metadata

interface TfTensorInfo {
  dtype?: string
  tensor_shape?: { dim?: Array<{ size?: string | number }>; unknown_rank?: boolean }
  name?: string
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v)
}

function tensorMeta(name: string, info: TfTensorInfo): TensorMeta {
  const dims = info.tensor_shape?.unknown_rank ? [] : (info.tensor_shape?.dim ?? []).map((d) => Number(d.size ?? -1))
  const dtype = info.dtype ?? 'DT_INVALID'
  return { name, datatype: fromTfDatatype(dtype)?.kserve ?? dtype, shape: dims }
}

/** The chosen signature of a GetModelMetadataResponse JSON, as v2-style metadata. */
export function parseTfMetadata(json: unknown, model: string, signature: string): ModelMetadata {
  const bad = (why: string): OcrError => new OcrError('MODEL_ERROR', `model "${model}": ${why}`)
  if (!isRecord(json)) throw bad('metadata is not a JSON object')
  const defs = (json.metadata as { signature_def?: { signature_def?: unknown } } | undefined)?.signature_def?.signature_def
  if (!isRecord(defs)) throw bad('metadata lacks metadata.signature_def.signature_def')
  const sig = defs[signature]
  if (!isRecord(sig)) throw bad(`no signature "${signature}" (has: ${Object.keys(defs).join(', ') || 'none'}); set OCR_TF_SIGNATURE`)
  const side = (v: unknown): TensorMeta[] => (isRecord(v) ? Object.entries(v).map(([k, info]) => tensorMeta(k, (info ?? {}) as TfTensorInfo)) : [])
  const spec = json.model_spec as { name?: unknown; version?: unknown } | undefined
  return {
    name: typeof spec?.name === 'string' && spec.name ? spec.name : model,
    ...(spec?.version !== undefined && spec.version !== '' ? { versions: [String(spec.version)] } : {}),
    platform: 'tensorflow_savedmodel',
    inputs: side(sig.inputs),
    outputs: side(sig.outputs),
  }
}

/** Version states from a GetModelStatusResponse JSON. */
export function parseTfStatus(json: unknown): Array<{ version: string; state: string }> {
  const list = isRecord(json) ? json.model_version_status : undefined
  if (!Array.isArray(list)) return []
  return list.filter(isRecord).map((s) => ({ version: String(s.version ?? ''), state: String(s.state ?? '') }))
}

// ---------------------------------------------------------------------------------------------
// Client

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

  async #get(path: string, caller: AbortSignal | undefined): Promise<{ status: number; json: unknown } | undefined> {
    const scope = new CallScope(probeTimeoutMs(this.#remote), caller)
    try {
      const res = await httpCall(this.#base + path, { method: 'GET' }, scope.signal, this.#agents)
      let json: unknown
      try {
        json = parseTfJson(res.body.toString('utf8'))
      } catch {
        json = undefined
      }
      return { status: res.status, json }
    } catch (err) {
      if (caller?.aborted) throw scope.abortError(`GET ${path}`)
      this.#logger.debug({ path, err: (err as Error).message }, 'model server probe failed')
      return undefined
    } finally {
      scope.dispose()
    }
  }

  /** TF Serving has no server-health endpoint: ready = its REST API answers a model status request. */
  async serverReady(signal?: AbortSignal): Promise<boolean> {
    const res = await this.#get(`/v1/models/${encodeURIComponent(this.#remote.models.det)}`, signal)
    return res !== undefined && res.status < 500 && isRecord(res.json)
  }

  async modelReady(model: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#get(this.#modelPath(model), signal)
    if (!res || res.status !== 200) return false
    const states = parseTfStatus(res.json)
    const v = this.#remote.modelVersion
    return states.some((s) => s.state === 'AVAILABLE' && (!v || s.version === v))
  }

  modelMetadata(model: string): Promise<ModelMetadata> {
    const what = `metadata of model "${model}"`
    return callWithRetries(what, this.#remote, this.#logger, undefined, async (signal) => {
      const res = await httpCall(`${this.#base}${this.#modelPath(model)}/metadata`, { method: 'GET' }, signal, this.#agents)
      const text = res.body.toString('utf8')
      if (res.status !== 200) throw httpServerError(res.status, text, what)
      let json: unknown
      try {
        json = parseTfJson(text)
      } catch {
        throw new OcrError('MODEL_ERROR', `${what}: the model server's answer is not JSON`)
      }
      const meta = parseTfMetadata(json, model, this.#remote.tfSignature)
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
      this.#outputTypes.set(model, new Map(meta.outputs.map((t) => [t.name, fromKserveDatatypeOrFloat(t.datatype)])))
      return meta
    })
  }

  infer(model: string, feeds: Feeds, outputNames: readonly string[], options?: RunOptions): Promise<Record<string, Tensor>> {
    const what = `predict on model "${model}"`
    const inputs = Object.entries(feeds)
      .map(([name, t]) => `${JSON.stringify(name)}:${nestedJson(t)}`)
      .join(',')
    // fewer outputs than the signature has: name them in `output_filter` (an ocrserve model-server
    // extension; TF Serving's REST API has no output selection, so it is only sent when needed)
    const all = this.#outputTypes.get(model)
    const filter = all && outputNames.length < all.size ? `,"output_filter":${JSON.stringify(outputNames)}` : ''
    const body = Buffer.from(`{"signature_name":${JSON.stringify(this.#remote.tfSignature)},"inputs":{${inputs}}${filter}}`, 'utf8')
    const url = `${this.#base}${this.#modelPath(model)}:predict`
    return callWithRetries(what, this.#remote, this.#logger, options?.signal, async (signal) => {
      const res = await httpCall(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }, signal, this.#agents)
      const text = res.body.toString('utf8')
      if (res.status !== 200) throw httpServerError(res.status, text, what)
      try {
        return this.#readOutputs(model, parseTfJson(text), outputNames, what)
      } catch (err) {
        if (isOcrError(err) && err.code === 'MODEL_ERROR') throw err
        throw new OcrError('MODEL_ERROR', `${what}: malformed answer: ${(err as Error).message}`, { cause: err })
      }
    })
  }

  #readOutputs(model: string, json: unknown, outputNames: readonly string[], what: string): Record<string, Tensor> {
    if (!isRecord(json) || !('outputs' in json)) throw new OcrError('MODEL_ERROR', `${what}: the answer has no "outputs"`)
    const types = this.#outputTypes.get(model)
    const typeOf = (name: string): TensorType => types?.get(name) ?? 'float32'
    const outputs = json.outputs
    const result: Record<string, Tensor> = {}
    // One named output: TF Serving omits the name. Several: an object keyed by name.
    if (isRecord(outputs)) {
      for (const name of outputNames) {
        if (!(name in outputs)) throw new OcrError('MODEL_ERROR', `${what}: the answer lacks output "${name}" (has: ${Object.keys(outputs).join(', ')})`)
        result[name] = tensorFromNested(outputs[name], typeOf(name), `output "${name}"`)
      }
      return result
    }
    if (outputNames.length !== 1) throw new OcrError('MODEL_ERROR', `${what}: one unnamed output for ${outputNames.length} requested outputs`)
    const name = outputNames[0]!
    result[name] = tensorFromNested(outputs, typeOf(name), `output "${name}"`)
    return result
  }

  async close(): Promise<void> {
    this.#outputTypes.clear()
    this.#agents.http.destroy()
    this.#agents.https.destroy()
  }
}

function fromKserveDatatypeOrFloat(datatype: string): TensorType {
  return fromKserveDatatype(datatype)?.type ?? 'float32'
}
