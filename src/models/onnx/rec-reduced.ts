/**
 * The recogniser with its CTC arg-max done in the graph. PP-OCR's recogniser ends in a softmax over
 * the dictionary ([n, steps, 6625] float32: ~28 MB for a batch of six 320 px lines ×…); the greedy
 * CTC decoder only needs, per step, the best class and its probability. deriveReducedRecModel()
 * appends `ArgMax` and `ReduceMax` over the class axis to the shipped model's graph, as two more
 * graph outputs:
 *
 *   argmax  [n, steps] int64    index of the most probable class (the first one on ties, as ctcDecode)
 *   maxprob [n, steps] float32  its probability
 *
 * The softmax output stays, so the derived model serves old clients too; a client asks for the two
 * small outputs only (0.6 % of the bytes). It is a plain ONNX model: Triton's onnxruntime backend
 * and `ocrserve model-server` run it as they run the original.
 *
 * How: protobuf merges repeated occurrences of a message field, so the original bytes followed by
 * a ModelProto holding only `graph { node: [...] output: [...] }` parse as the original model with
 * the nodes and outputs added. The big initializers are never decoded or re-encoded.
 */
import { OcrError } from '../../errors.js'
import { ONNX_ATTR, ONNX_DTYPE, onnxSchema, type OnnxDim as Dim, type OnnxValueInfo as ValueInfo } from './onnx-proto.js'
import { REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT, hasReducedRecOutputs } from '../rec-ctc.js'


/** From this opset on ReduceMax takes its axes as an input, not an attribute. */
const REDUCE_AXES_AS_INPUT_OPSET = 18

export interface OnnxModelInfo {
  irVersion: number
  /** Version of the default ("ai.onnx") opset. */
  opset: number
  inputs: ValueInfo[]
  outputs: ValueInfo[]
}

/** Opset, inputs and outputs of an ONNX model (the graph's weights are skipped, not decoded). */
export function readOnnxModelInfo(bytes: Uint8Array): OnnxModelInfo {
  let obj: { ir_version?: number; opset_import?: Array<{ domain?: string; version?: number }>; graph?: Array<{ input?: ValueInfo[]; output?: ValueInfo[] }> }
  try {
    // protobufjs replaces a message field that occurs twice instead of merging it: read `graph`
    // as repeated and merge here (repeated fields concatenate, as protobuf specifies)
    const t = onnxSchema().lookupType('onnx.ModelProtoParts')
    obj = t.toObject(t.decode(bytes), { longs: Number, oneofs: true }) as typeof obj
  } catch (err) {
    throw new OcrError('MODEL_ERROR', `not an ONNX model: ${(err as Error).message}`, { cause: err })
  }
  const opset = obj.opset_import?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version
  if (!obj.graph?.length || opset === undefined) throw new OcrError('MODEL_ERROR', 'not an ONNX model: no graph or no ai.onnx opset')
  return {
    irVersion: obj.ir_version ?? 0,
    opset,
    inputs: obj.graph.flatMap((g) => g.input ?? []),
    outputs: obj.graph.flatMap((g) => g.output ?? []),
  }
}

/**
 * The recogniser `bytes` with `argmax` and `maxprob` added (see the file comment). The model must
 * have one float output of rank 3 ([n, steps, classes]); a model that already has them is returned
 * as is.
 */
export function deriveReducedRecModel(bytes: Uint8Array): Uint8Array {
  const info = readOnnxModelInfo(bytes)
  const names = info.outputs.map((o) => o.name)
  if (hasReducedRecOutputs(names)) return bytes
  if (info.outputs.length !== 1) throw new OcrError('MODEL_ERROR', `recogniser must have one output, has ${info.outputs.length} (${names.join(', ')})`)
  const probs = info.outputs[0]!
  const tensorType = probs.type?.tensor_type
  const dims = tensorType?.shape?.dim ?? []
  if (tensorType?.elem_type !== ONNX_DTYPE.FLOAT || dims.length !== 3) {
    throw new OcrError('MODEL_ERROR', `recogniser output "${probs.name}" must be float32 [n, steps, classes]`)
  }
  for (const n of [REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT]) {
    if (info.inputs.some((i) => i.name === n)) throw new OcrError('MODEL_ERROR', `recogniser already has a tensor named "${n}"`)
  }
  const keep = { name: 'keepdims', type: ONNX_ATTR.INT, i: 0 }
  const axisInput = info.opset >= REDUCE_AXES_AS_INPUT_OPSET
  const axesName = 'ocrserve_reduce_axes'
  const nodes = [
    { op_type: 'ArgMax', name: 'ocrserve_argmax', input: [probs.name], output: [REC_ARGMAX_OUTPUT], attribute: [{ name: 'axis', type: ONNX_ATTR.INT, i: 2 }, keep] },
    axisInput
      ? { op_type: 'ReduceMax', name: 'ocrserve_maxprob', input: [probs.name, axesName], output: [REC_MAXPROB_OUTPUT], attribute: [keep] }
      : { op_type: 'ReduceMax', name: 'ocrserve_maxprob', input: [probs.name], output: [REC_MAXPROB_OUTPUT], attribute: [{ name: 'axes', type: ONNX_ATTR.INTS, ints: [2] }, keep] },
  ]
  const shape = { dim: dims.slice(0, 2) }
  const graph = {
    node: nodes,
    output: [
      { name: REC_ARGMAX_OUTPUT, type: { tensor_type: { elem_type: ONNX_DTYPE.INT64, shape } } },
      { name: REC_MAXPROB_OUTPUT, type: { tensor_type: { elem_type: ONNX_DTYPE.FLOAT, shape } } },
    ],
    ...(axisInput ? { initializer: [{ name: axesName, data_type: ONNX_DTYPE.INT64, dims: [1], int64_data: [2] }] } : {}),
  }
  const t = onnxSchema().lookupType('onnx.ModelProto')
  const addition = t.encode(t.fromObject({ graph })).finish()
  const out = new Uint8Array(bytes.byteLength + addition.byteLength)
  out.set(bytes, 0)
  out.set(addition, bytes.byteLength)
  return out
}
