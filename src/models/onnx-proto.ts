/**
 * The vendored subset of ONNX's schema (proto/onnx.proto), loaded once, and the enum values the
 * graph edits write (rec-reduced.ts appends nodes, graph-rewrite.ts replaces them).
 */
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

export const ONNX_PROTO_PATH = fileURLToPath(new URL('../../proto/onnx.proto', import.meta.url))

let root: protobuf.Root | undefined
export function onnxSchema(): protobuf.Root {
  root ??= new protobuf.Root().loadSync(ONNX_PROTO_PATH, { keepCase: true })
  return root
}

/** TensorProto.DataType values used here. */
export const ONNX_DTYPE = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7 } as const

/** AttributeProto.AttributeType values used here. */
export const ONNX_ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const

/** TensorShapeProto.Dimension and ValueInfoProto as protobufjs's toObject() gives them (a graph input or output). */
export interface OnnxDim {
  dim_value?: number
  dim_param?: string
}
export interface OnnxValueInfo {
  name: string
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: OnnxDim[] } } }
}

/** TensorProto, AttributeProto and NodeProto as protobufjs's toObject() gives them (the fields the graph edits use). */
export interface OnnxTensor {
  name?: string
  dims?: number[]
  data_type?: number
  float_data?: number[]
  raw_data?: Uint8Array
}
export interface OnnxAttribute {
  name: string
  type?: number
  f?: number
  i?: number
  s?: Uint8Array
  ints?: number[]
  floats?: number[]
  t?: OnnxTensor
}
export interface OnnxNode {
  input: string[]
  output: string[]
  op_type: string
  domain?: string
  attribute: OnnxAttribute[]
}
