/**
 * TensorFlow Serving's REST API (api_rest.md): model status `GET /v1/models/{m}[/versions/{v}]`,
 * metadata `GET …/metadata`, and `POST …:predict` with `signature_name` and either columnar
 * `inputs` (answered in `outputs`) or row `instances` (answered in `predictions`), tensors as nested
 * lists. Both directions: the client's requests and readings, the model server's readings and answers.
 *
 * TF Serving writes non-finite floats as bare `NaN` / `Infinity` / `-Infinity` tokens, which strict
 * JSON rejects; parseTfJson() reads them (outside strings only) and nestedJson() writes them.
 */
import { randomBytes } from 'node:crypto'
import { OcrError } from '../errors.js'
import type { Feeds, Tensor, TensorType } from '../inference/backend.js'
import { fromKserveDatatype, fromTfDatatype } from './datatypes.js'
import type { ModelMetadata, TensorMeta } from './metadata.js'
import { isRecord } from './rest.js'
import { tensorFromNested, tensorRow } from './tensors.js'

/** The signature a served ONNX model has (and TF Serving's default signature name). */
export const TF_SIGNATURE = 'serving_default'

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

/** `{"name":[…],…}`: named tensors as one JSON object of nested lists. */
function namedJson(named: ReadonlyArray<{ name: string; tensor: Tensor }>): string {
  return `{${named.map((o) => `${JSON.stringify(o.name)}:${nestedJson(o.tensor)}`).join(',')}}`
}

// ---------------------------------------------------------------------------------------------
// Status and metadata

interface TfTensorInfo {
  dtype?: string
  tensor_shape?: { dim?: Array<{ size?: string | number; name?: string }>; unknown_rank?: boolean }
  name?: string
}

function tensorMeta(name: string, info: TfTensorInfo): TensorMeta {
  const dims = info.tensor_shape?.unknown_rank ? [] : (info.tensor_shape?.dim ?? []).map((d) => Number(d.size ?? -1))
  const dtype = info.dtype ?? 'DT_INVALID'
  return { name, datatype: fromTfDatatype(dtype)?.kserve ?? dtype, shape: dims }
}

function tensorInfo(t: TensorMeta): TfTensorInfo {
  return {
    dtype: fromKserveDatatype(t.datatype)?.tf ?? 'DT_INVALID',
    tensor_shape: { dim: t.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false },
    name: t.name,
  }
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

/** A GetModelMetadataResponse JSON: one signature, TF_SIGNATURE, with the model's tensors. */
export function encodeTfMetadata(meta: ModelMetadata, version: string): unknown {
  return {
    model_spec: { name: meta.name, signature_name: '', version },
    metadata: {
      signature_def: {
        signature_def: {
          [TF_SIGNATURE]: {
            inputs: Object.fromEntries(meta.inputs.map((t) => [t.name, tensorInfo(t)])),
            outputs: Object.fromEntries(meta.outputs.map((t) => [t.name, tensorInfo(t)])),
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  }
}

/** Version states from a GetModelStatusResponse JSON. */
export function parseTfStatus(json: unknown): Array<{ version: string; state: string }> {
  const list = isRecord(json) ? json.model_version_status : undefined
  if (!Array.isArray(list)) return []
  return list.filter(isRecord).map((s) => ({ version: String(s.version ?? ''), state: String(s.state ?? '') }))
}

/** A GetModelStatusResponse JSON: every version in one state. */
export function encodeTfStatus(versions: readonly string[], state: 'AVAILABLE' | 'LOADING'): unknown {
  return {
    model_version_status: versions.map((version) => ({ version, state, status: { error_code: 'OK', error_message: '' } })),
  }
}

// ---------------------------------------------------------------------------------------------
// Predict: client side

/**
 * A columnar predict request. `outputFilter` names the outputs wanted (an ocrserve model-server
 * extension after TF Serving's gRPC PredictRequest.output_filter, which its REST API lacks), to be
 * sent only when fewer than all are wanted.
 */
export function encodePredictRequest(signature: string, feeds: Feeds, outputFilter?: readonly string[]): Buffer {
  const inputs = namedJson(Object.entries(feeds).map(([name, tensor]) => ({ name, tensor })))
  const filter = outputFilter ? `,"output_filter":${JSON.stringify(outputFilter)}` : ''
  return Buffer.from(`{"signature_name":${JSON.stringify(signature)},"inputs":${inputs}${filter}}`, 'utf8')
}

/**
 * The requested outputs of a columnar predict answer, typed by `typeOf` (JSON carries no types).
 * One output comes unnamed, several as an object keyed by name. A missing output is MODEL_ERROR.
 */
export function decodePredictResponse(json: unknown, outputNames: readonly string[], typeOf: (name: string) => TensorType, what: string): Record<string, Tensor> {
  if (!isRecord(json) || !('outputs' in json)) throw new OcrError('MODEL_ERROR', `${what}: the answer has no "outputs"`)
  const outputs = json.outputs
  const result: Record<string, Tensor> = {}
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

// ---------------------------------------------------------------------------------------------
// Predict: server side

export interface PredictRequest {
  /** Columnar (`inputs`, answered in `outputs`) or row (`instances`, answered in `predictions`). */
  format: 'columnar' | 'row'
  inputs: Array<{ name: string; tensor: Tensor }>
  /** `output_filter`: the outputs to compute and send; absent = all of the signature's. */
  outputFilter?: string[]
}

/**
 * A predict request body for a model with `inputs` (name and type each). A lone unnamed input
 * goes to a model's only input. Malformed requests throw BAD_REQUEST.
 */
export function decodePredictRequest(body: Buffer, model: { name: string; inputs: ReadonlyArray<{ name: string; type: TensorType }> }): PredictRequest {
  let json: unknown
  try {
    json = parseTfJson(body.toString('utf8'))
  } catch (err) {
    throw new OcrError('BAD_REQUEST', `malformed JSON: ${(err as Error).message}`)
  }
  if (!isRecord(json)) throw new OcrError('BAD_REQUEST', 'the request body must be a JSON object')
  const signature = json.signature_name
  if (signature !== undefined && signature !== '' && signature !== TF_SIGNATURE) {
    throw new OcrError('BAD_REQUEST', `Serving signature name: "${String(signature)}" not found in signature def (has: ${TF_SIGNATURE})`)
  }
  const hasInputs = 'inputs' in json
  const hasInstances = 'instances' in json
  if (hasInputs === hasInstances) throw new OcrError('BAD_REQUEST', 'the request must have exactly one of "inputs" (columnar) or "instances" (row)')
  const typeOf = (name: string): TensorType => {
    const spec = model.inputs.find((t) => t.name === name)
    if (!spec) throw new OcrError('BAD_REQUEST', `model "${model.name}" has no input "${name}" (inputs: ${model.inputs.map((t) => t.name).join(', ')})`)
    return spec.type
  }
  const tensor = (name: string, value: unknown): { name: string; tensor: Tensor } => ({ name, tensor: tensorFromNested(value, typeOf(name), `input "${name}"`) })
  const single = model.inputs.length === 1 ? model.inputs[0]!.name : undefined
  const inputs: PredictRequest['inputs'] = []
  if (hasInputs) {
    const value = json.inputs
    if (isRecord(value)) {
      for (const [name, v] of Object.entries(value)) inputs.push(tensor(name, v))
    } else {
      if (!single) throw new OcrError('BAD_REQUEST', `model "${model.name}" has several inputs: "inputs" must be an object keyed by input name`)
      inputs.push(tensor(single, value))
    }
  } else {
    const rows = json.instances
    if (!Array.isArray(rows) || rows.length === 0) throw new OcrError('BAD_REQUEST', '"instances" must be a non-empty list')
    if (rows.every(isRecord)) {
      for (const name of Object.keys(rows[0] as Record<string, unknown>)) {
        const stacked = (rows as Array<Record<string, unknown>>).map((r, i) => {
          if (!(name in r)) throw new OcrError('BAD_REQUEST', `instances[${i}] lacks input "${name}"`)
          return r[name]
        })
        inputs.push(tensor(name, stacked))
      }
    } else {
      if (!single) throw new OcrError('BAD_REQUEST', `model "${model.name}" has several inputs: each instance must be an object keyed by input name`)
      inputs.push(tensor(single, rows))
    }
  }
  const filter = json.output_filter
  if (filter !== undefined && (!Array.isArray(filter) || !filter.every((f) => typeof f === 'string'))) {
    throw new OcrError('BAD_REQUEST', '"output_filter" must be a list of output names')
  }
  return { format: hasInputs ? 'columnar' : 'row', inputs, ...(filter !== undefined ? { outputFilter: filter as string[] } : {}) }
}

/**
 * A predict answer: columnar as `outputs` (one output unnamed, several keyed by name), row as
 * `predictions` (one output as its list of rows, several as one object per row).
 */
export function encodePredictResponse(format: PredictRequest['format'], outputs: ReadonlyArray<{ name: string; tensor: Tensor }>): string {
  if (format === 'columnar') return `{"outputs":${outputs.length === 1 ? nestedJson(outputs[0]!.tensor) : namedJson(outputs)}}`
  if (outputs.length === 1) return `{"predictions":${nestedJson(outputs[0]!.tensor)}}`
  const n = outputs[0]!.tensor.dims[0] ?? 0
  const rows: string[] = []
  for (let i = 0; i < n; i++) rows.push(namedJson(outputs.map((o) => ({ name: o.name, tensor: tensorRow(o.tensor, i) }))))
  return `{"predictions":[${rows.join(',')}]}`
}
