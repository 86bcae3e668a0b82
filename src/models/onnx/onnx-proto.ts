/**
 * The ONNX file format as the graph edits use it: the vendored subset of ONNX's schema
 * (proto/onnx.proto), loaded once, the enum values the edits write, the field numbers, and the
 * wire helpers that keep every field the edits do not touch as its original bytes (weights are
 * never decoded). graph-rewrite.ts replaces nodes, compact-input.ts adds inputs before the graph,
 * rec-reduced.ts appends nodes and outputs.
 */
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

export const ONNX_PROTO_PATH = fileURLToPath(new URL('../../../proto/onnx.proto', import.meta.url))

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

/** Field numbers in onnx.proto (ModelProto.graph; GraphProto's node, initializer, input, output) and the length-delimited wire type. */
export const MODEL_GRAPH = 7
export const GRAPH_NODE = 1
export const GRAPH_INITIALIZER = 5
export const GRAPH_INPUT = 11
export const GRAPH_OUTPUT = 12
const WIRE_LEN = 2


export interface Span {
  no: number
  /** The whole field, tag included. */
  start: number
  end: number
  /** The payload of a length-delimited field. */
  value?: Uint8Array
}

/** The top-level fields of one protobuf message, in order. */
export function fieldsOf(buf: Uint8Array): Span[] {
  const r = protobuf.Reader.create(buf)
  const out: Span[] = []
  while (r.pos < r.len) {
    const start = r.pos
    const tag = r.uint32()
    const no = tag >>> 3
    if ((tag & 7) === WIRE_LEN) {
      const len = r.uint32()
      const at = r.pos
      r.skip(len)
      out.push({ no, start, end: r.pos, value: buf.subarray(at, at + len) })
    } else {
      r.skipType(tag & 7)
      out.push({ no, start, end: r.pos })
    }
  }
  return out
}

/** One length-delimited field (tag + length + `payload`): a message or bytes field, encoded. */
export function lengthDelimited(no: number, payload: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32((no << 3) | WIRE_LEN).bytes(payload).finish()
}

/** The parts, one after another, in one new buffer. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/**
 * A model's top-level fields and its graph's bytes, every `graph` occurrence merged (protobuf
 * merges a message field seen twice; rec-reduced.ts appends one).
 */
export function splitModel(bytes: Uint8Array): { modelFields: Span[]; graphBytes: Uint8Array } {
  const modelFields = fieldsOf(bytes)
  return { modelFields, graphBytes: concat(modelFields.filter((f) => f.no === MODEL_GRAPH && f.value).map((f) => f.value!)) }
}

/** The model of splitModel(bytes) with `graph` as its one graph, every other field as it was. */
export function joinModel(bytes: Uint8Array, modelFields: readonly Span[], graph: Uint8Array): Uint8Array {
  const modelParts: Uint8Array[] = []
  let graphWritten = false
  for (const f of modelFields) {
    if (f.no !== MODEL_GRAPH) {
      modelParts.push(bytes.subarray(f.start, f.end))
    } else if (!graphWritten) {
      graphWritten = true
      modelParts.push(lengthDelimited(MODEL_GRAPH, graph))
    }
  }
  return concat(modelParts)
}
