/**
 * Compact model inputs for model servers. The networks take normalised float32 pixels, 4 bytes per
 * channel value, all of them computed from 8-bit pixels (src/image/tensor.ts). Sent to a model
 * server, that is 4× the bytes the information needs: a 960×960 page is 11 MB on the wire, and in
 * remote mode writing, reading and copying those bytes cost the service and the model server more
 * CPU than anything but the networks themselves.
 *
 * deriveCompactInputModel() puts the normalisation into the graph. The model's float input `x`
 * [n, 3, H, W] becomes a value computed from new uint8 inputs:
 *
 *   pixels        [n, 3, H, W] uint8  the resized pixels in the model's channel order, unnormalised
 *   pixels_valid  [n, 1, 1, W] uint8  (classifier and recogniser) 1 where a line's pixels are,
 *                                      0 in the padding right of it
 *
 *   x = (float(pixels) · scale − mean) / std        (or float(pixels) / divisor: Normalisation.divide)
 *   x = x · float(pixels_valid)                      (line models: 0 in the padding)
 *
 * in float32, the steps PaddleOCR's numpy code takes and the tables ocrserve packs with hold
 * (tensorLayout), so `x` holds exactly the values a client would have sent and the outputs are
 * bit-identical. (Padding comes out as −0 where the client writes +0; a convolution sums it to the
 * same result.) Cast, Mul, Sub and Div with numpy broadcasting exist since opset 7, so any model
 * of opset 7 or later works. A client knows such a model by its `pixels` input.
 *
 * Measured against a 769-entry lookup table (Gather) doing the same: 3.7 against 10.2 ms per
 * 960×640 detector input on one thread (BENCHMARKS.md, issue 22).
 */
import { OcrError } from '../../errors.js'
import { normalisationSteps, type Normalisation } from '../../image/tensor.js'
import { PIXELS_INPUT, PIXELS_VALID_INPUT } from '../../inference/model-io.js'
import { GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_NODE, ONNX_ATTR, ONNX_DTYPE, concat, fieldsOf, joinModel, lengthDelimited, onnxSchema, splitModel, type OnnxDim as Dim, type OnnxValueInfo as ValueInfo, type Span } from './onnx-proto.js'

/**
 * The model `bytes` with its one float input of rank 4 computed in-graph from uint8 `pixels`
 * normalised by `norm`, and, when `masked`, zeroed where `pixels_valid` is 0. A model that already
 * has a `pixels` input is returned as is.
 */
export function deriveCompactInputModel(bytes: Uint8Array, norm: Omit<Normalisation, 'order'>, masked: boolean): Uint8Array {
  const V = onnxSchema().lookupType('onnx.ValueInfoProto')
  const N = onnxSchema().lookupType('onnx.NodeProto')
  const T = onnxSchema().lookupType('onnx.TensorProto')
  let modelFields: Span[]
  let graphBytes: Uint8Array
  let inputs: Array<{ field: Span; info: ValueInfo }>
  let graphFields: Span[]
  try {
    ;({ modelFields, graphBytes } = splitModel(bytes))
    graphFields = fieldsOf(graphBytes)
    inputs = graphFields
      .filter((f) => f.no === GRAPH_INPUT)
      .map((field) => ({ field, info: V.toObject(V.decode(field.value!), { longs: Number, defaults: false }) as ValueInfo }))
  } catch (err) {
    throw new OcrError('MODEL_ERROR', `not an ONNX model: ${(err as Error).message}`, { cause: err })
  }
  if (inputs.some((i) => i.info.name === PIXELS_INPUT)) return bytes
  if (inputs.length !== 1) throw new OcrError('MODEL_ERROR', `model must have one input, has ${inputs.length}`)
  const x = inputs[0]!
  const dims = x.info.type?.tensor_type?.shape?.dim ?? []
  if (x.info.type?.tensor_type?.elem_type !== ONNX_DTYPE.FLOAT || dims.length !== 4) {
    throw new OcrError('MODEL_ERROR', `model input "${x.info.name}" must be float32 [n, 3, H, W]`)
  }

  const steps = normalisationSteps(norm)
  const f32 = (name: string, values: readonly number[], dims: number[]) => {
    const a = new Float32Array(values)
    // raw_data is little-endian, as typed arrays are on every platform Node supports
    return { name, data_type: ONNX_DTYPE.FLOAT, dims, raw_data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) }
  }
  const initializers = [
    f32('ocrserve_pixel_scale', [steps.scale], [1]),
    f32('ocrserve_pixel_mean', steps.mean, [1, 3, 1, 1]),
    f32('ocrserve_pixel_std', steps.std, [1, 3, 1, 1]),
  ]
  const toFloat = (input: string, output: string) => ({ op_type: 'Cast', name: `${output}_cast`, input: [input], output: [output], attribute: [{ name: 'to', type: ONNX_ATTR.INT, i: ONNX_DTYPE.FLOAT }] })
  const op = (type: string, name: string, a: string, b: string, output = name) => ({ op_type: type, name, input: [a, b], output: [output] })
  const normalised = masked ? 'ocrserve_normalised' : x.info.name
  const nodes = [
    toFloat(PIXELS_INPUT, 'ocrserve_pixels_f32'),
    op(steps.divide ? 'Div' : 'Mul', 'ocrserve_pixels_scaled', 'ocrserve_pixels_f32', 'ocrserve_pixel_scale'),
    op('Sub', 'ocrserve_pixels_centred', 'ocrserve_pixels_scaled', 'ocrserve_pixel_mean'),
    op('Div', 'ocrserve_normalise', 'ocrserve_pixels_centred', 'ocrserve_pixel_std', normalised),
    ...(masked ? [toFloat(PIXELS_VALID_INPUT, 'ocrserve_pixels_valid_f32'), op('Mul', 'ocrserve_mask', normalised, 'ocrserve_pixels_valid_f32', x.info.name)] : []),
  ]
  const uint8 = (name: string, shape: Dim[]): ValueInfo => ({ name, type: { tensor_type: { elem_type: ONNX_DTYPE.UINT8, shape: { dim: shape } } } })
  const newInputs = [uint8(PIXELS_INPUT, dims), ...(masked ? [uint8(PIXELS_VALID_INPUT, [dims[0]!, { dim_value: 1 }, { dim_value: 1 }, dims[3]!])] : [])]

  const parts: Uint8Array[] = []
  let nodesWritten = false
  for (const f of graphFields) {
    if (f.no === GRAPH_NODE && !nodesWritten) {
      // the new nodes first: the node list stays topologically sorted
      nodesWritten = true
      for (const n of nodes) parts.push(lengthDelimited(GRAPH_NODE, N.encode(N.fromObject(n)).finish()))
    }
    if (f === x.field) {
      for (const v of newInputs) parts.push(lengthDelimited(GRAPH_INPUT, V.encode(V.fromObject(v)).finish()))
      continue
    }
    parts.push(graphBytes.subarray(f.start, f.end))
  }
  for (const t of initializers) parts.push(lengthDelimited(GRAPH_INITIALIZER, T.encode(T.fromObject(t)).finish()))
  return joinModel(bytes, modelFields, concat(parts))
}
