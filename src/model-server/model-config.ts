/**
 * Triton model configuration (config.pbtxt) → typed ModelConfig, for the fields the built-in
 * model server honours: name, platform/backend, max_batch_size, input/output {name, data_type,
 * dims}, dynamic_batching {max_queue_delay_microseconds, preferred_batch_size}, instance_group
 * [{count, kind}], version_policy and default_model_filename. Everything else is ignored (and
 * listed in `ignored`, so the server can say so).
 */
import type { TensorType } from '../inference/backend.js'
import { SUPPORTED_TRITON_DATATYPES, fromTritonDatatype } from '../protocols/datatypes.js'
import {
  PbtxtError,
  enumField,
  intField,
  intList,
  messages,
  optionalMessage,
  parsePbtxt,
  stringField,
  type PbMessage,
} from './pbtxt.js'

export interface TensorConfig {
  name: string
  type: TensorType
  /** Triton data_type name (TYPE_FP32, ...). */
  dataType: string
  /** Dims without the batch dimension when maxBatchSize > 0; -1 = variable. */
  dims: number[]
}

export type VersionPolicy = { kind: 'latest'; numVersions: number } | { kind: 'all' } | { kind: 'specific'; versions: number[] }

export interface DynamicBatchingConfig {
  maxQueueDelayMicroseconds: number
  preferredBatchSizes: number[]
}

export interface InstanceGroupConfig {
  count: number
  kind: string
}

export interface ModelConfig {
  name: string
  platform: string
  backend: string
  /** 0 = the model has no batch dimension that the server may use. */
  maxBatchSize: number
  inputs: TensorConfig[]
  outputs: TensorConfig[]
  dynamicBatching?: DynamicBatchingConfig
  instanceGroups: InstanceGroupConfig[]
  versionPolicy: VersionPolicy
  defaultModelFilename: string
  /** Top-level fields present in the file that this server does not act on. */
  ignored: string[]
}

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ModelConfigError'
  }
}

const KNOWN_FIELDS = new Set([
  'name',
  'platform',
  'backend',
  'max_batch_size',
  'input',
  'output',
  'dynamic_batching',
  'instance_group',
  'version_policy',
  'default_model_filename',
])

/** Platforms/backends this server runs (ONNX Runtime only). */
const ONNX_PLATFORMS = new Set(['onnxruntime_onnx'])
const ONNX_BACKENDS = new Set(['onnxruntime'])

function tensors(msg: PbMessage, field: 'input' | 'output', where: string): TensorConfig[] {
  return messages(msg, field, where).map((t, i) => {
    const w = `${where}: ${field}[${i}]`
    const name = stringField(t, 'name', w)
    if (!name) throw new ModelConfigError(`${w}: missing name`)
    const dataType = enumField(t, 'data_type', w)
    if (!dataType) throw new ModelConfigError(`${w} "${name}": missing data_type`)
    const dt = fromTritonDatatype(dataType)
    if (!dt) throw new ModelConfigError(`${w} "${name}": data_type ${dataType} is not supported (supported: ${SUPPORTED_TRITON_DATATYPES})`)
    const dims = intList(t, 'dims', w)
    if (dims.some((d) => d < -1 || d === 0)) throw new ModelConfigError(`${w} "${name}": dims must be positive or -1`)
    return { name, type: dt.type, dataType, dims }
  })
}

function versionPolicy(msg: PbMessage, where: string): VersionPolicy {
  const vp = optionalMessage(msg, 'version_policy', where)
  if (!vp) return { kind: 'latest', numVersions: 1 }
  const latest = optionalMessage(vp, 'latest', where)
  if (latest) {
    const n = intField(latest, 'num_versions', `${where}: version_policy.latest`) ?? 1
    if (n < 1) throw new ModelConfigError(`${where}: version_policy.latest.num_versions must be ≥ 1`)
    return { kind: 'latest', numVersions: n }
  }
  if (optionalMessage(vp, 'all', where)) return { kind: 'all' }
  const specific = optionalMessage(vp, 'specific', where)
  if (specific) {
    const versions = intList(specific, 'versions', `${where}: version_policy.specific`)
    if (versions.length === 0) throw new ModelConfigError(`${where}: version_policy.specific lists no versions`)
    return { kind: 'specific', versions }
  }
  throw new ModelConfigError(`${where}: version_policy must be latest, all or specific`)
}

/** Parses and validates one config.pbtxt. `dirName` is the model's directory (the default name). */
export function parseModelConfig(text: string, dirName: string, where = `${dirName}/config.pbtxt`): ModelConfig {
  let root: PbMessage
  try {
    root = parsePbtxt(text)
  } catch (err) {
    if (err instanceof PbtxtError) throw new ModelConfigError(`${where}: ${err.message}`)
    throw err
  }
  try {
    const name = stringField(root, 'name', where) ?? dirName
    if (name !== dirName) throw new ModelConfigError(`${where}: name "${name}" differs from its directory "${dirName}" (Triton requires them equal)`)
    const platform = stringField(root, 'platform', where) ?? ''
    const backend = stringField(root, 'backend', where) ?? ''
    if (!ONNX_PLATFORMS.has(platform) && !ONNX_BACKENDS.has(backend)) {
      throw new ModelConfigError(`${where}: platform "${platform}" / backend "${backend}" is not served here; use platform: "onnxruntime_onnx" or backend: "onnxruntime"`)
    }
    const maxBatchSize = intField(root, 'max_batch_size', where) ?? 0
    if (maxBatchSize < 0) throw new ModelConfigError(`${where}: max_batch_size must be ≥ 0`)
    const inputs = tensors(root, 'input', where)
    const outputs = tensors(root, 'output', where)
    if (inputs.length === 0 || outputs.length === 0) {
      throw new ModelConfigError(`${where}: input and output blocks are required (this server does not auto-complete configs)`)
    }
    for (const list of [inputs, outputs]) {
      const seen = new Set<string>()
      for (const t of list) {
        if (seen.has(t.name)) throw new ModelConfigError(`${where}: tensor "${t.name}" is listed twice`)
        seen.add(t.name)
      }
    }
    let dynamicBatching: DynamicBatchingConfig | undefined
    const db = optionalMessage(root, 'dynamic_batching', where)
    if (db) {
      const delay = intField(db, 'max_queue_delay_microseconds', `${where}: dynamic_batching`) ?? 0
      const preferred = intList(db, 'preferred_batch_size', `${where}: dynamic_batching`)
      if (delay < 0) throw new ModelConfigError(`${where}: max_queue_delay_microseconds must be ≥ 0`)
      if (maxBatchSize === 0) throw new ModelConfigError(`${where}: dynamic_batching needs max_batch_size ≥ 1`)
      if (preferred.some((p) => p < 1 || p > maxBatchSize)) {
        throw new ModelConfigError(`${where}: preferred_batch_size values must lie in 1..max_batch_size (${maxBatchSize})`)
      }
      dynamicBatching = { maxQueueDelayMicroseconds: delay, preferredBatchSizes: [...new Set(preferred)].sort((a, b) => a - b) }
    }
    const instanceGroups = messages(root, 'instance_group', where).map((g, i) => {
      const w = `${where}: instance_group[${i}]`
      const count = intField(g, 'count', w) ?? 1
      if (count < 1) throw new ModelConfigError(`${w}: count must be ≥ 1`)
      return { count, kind: enumField(g, 'kind', w) ?? 'KIND_AUTO' }
    })
    return {
      name,
      platform: platform || 'onnxruntime_onnx',
      backend: backend || 'onnxruntime',
      maxBatchSize,
      inputs,
      outputs,
      ...(dynamicBatching ? { dynamicBatching } : {}),
      instanceGroups: instanceGroups.length > 0 ? instanceGroups : [{ count: 1, kind: 'KIND_AUTO' }],
      versionPolicy: versionPolicy(root, where),
      defaultModelFilename: stringField(root, 'default_model_filename', where) ?? 'model.onnx',
      ignored: [...root.fields.keys()].filter((k) => !KNOWN_FIELDS.has(k)),
    }
  } catch (err) {
    if (err instanceof ModelConfigError) throw err
    throw new ModelConfigError((err as Error).message)
  }
}

/** Instances (concurrent executions) of a model: the sum of its instance groups' counts. */
export function instanceCount(config: ModelConfig): number {
  return config.instanceGroups.reduce((n, g) => n + g.count, 0)
}

/** The versions to serve, from the numeric version directories present. */
export function selectVersions(policy: VersionPolicy, available: number[]): number[] {
  const sorted = [...available].sort((a, b) => a - b)
  switch (policy.kind) {
    case 'all':
      return sorted
    case 'latest':
      return sorted.slice(-policy.numVersions)
    case 'specific':
      return sorted.filter((v) => policy.versions.includes(v))
  }
}

/** Shape the v2 metadata reports: the batch dimension (-1) first when the model batches. */
export function metadataShape(config: ModelConfig, t: TensorConfig): number[] {
  return config.maxBatchSize > 0 ? [-1, ...t.dims] : [...t.dims]
}
