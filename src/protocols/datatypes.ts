/**
 * The tensor datatypes ocrserve moves, under each protocol's name: KServe v2 (REST and gRPC),
 * TensorFlow Serving and Triton's model configuration.
 */
import type { TensorType } from '../inference/backend.js'

export interface DatatypeInfo {
  type: TensorType
  /** KServe v2 datatype name. */
  kserve: string
  /** TensorFlow DataType enum name. */
  tf: string
  /** Triton model-config data_type. */
  triton: string
  bytes: number
}

export const DATATYPES: Record<TensorType, DatatypeInfo> = {
  float32: { type: 'float32', kserve: 'FP32', tf: 'DT_FLOAT', triton: 'TYPE_FP32', bytes: 4 },
  int64: { type: 'int64', kserve: 'INT64', tf: 'DT_INT64', triton: 'TYPE_INT64', bytes: 8 },
  int32: { type: 'int32', kserve: 'INT32', tf: 'DT_INT32', triton: 'TYPE_INT32', bytes: 4 },
  uint8: { type: 'uint8', kserve: 'UINT8', tf: 'DT_UINT8', triton: 'TYPE_UINT8', bytes: 1 },
}

const BY_KSERVE = new Map(Object.values(DATATYPES).map((d) => [d.kserve, d]))
const BY_TF = new Map(Object.values(DATATYPES).map((d) => [d.tf, d]))
const BY_TRITON = new Map(Object.values(DATATYPES).map((d) => [d.triton, d]))

const supported = (key: keyof DatatypeInfo): string => Object.values(DATATYPES).map((d) => d[key]).join(', ')

/** The datatype for a KServe name, or undefined when ocrserve does not move that type. */
export function fromKserveDatatype(name: string): DatatypeInfo | undefined {
  return BY_KSERVE.get(name)
}
export function fromTfDatatype(name: string): DatatypeInfo | undefined {
  return BY_TF.get(name)
}
export function fromTritonDatatype(name: string): DatatypeInfo | undefined {
  return BY_TRITON.get(name)
}
export const SUPPORTED_KSERVE_DATATYPES = supported('kserve')
export const SUPPORTED_TRITON_DATATYPES = supported('triton')
