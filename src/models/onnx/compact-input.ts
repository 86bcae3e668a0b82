/**
 * Compact model inputs for model servers. The networks take normalised float32 pixels, 4 bytes per
 * channel value, all of them computed from 8-bit pixels through a 256-entry table per channel
 * (src/image/tensor.ts). Sent to a model server, that is 4× the bytes the information needs: a
 * 960×960 page is 11 MB on the wire, and in remote mode writing, reading and copying those bytes
 * cost the service and the model server more CPU than anything but the networks themselves.
 *
 * deriveCompactInputModel() puts the table into the graph. The model's float input `x`
 * [n, 3, H, W] becomes a value computed from new uint8 inputs:
 *
 *   pixels        [n, 3, H, W] uint8  the resized BGR pixels, unnormalised (0 in padding)
 *   pixels_valid  [n, 1, 1, W] uint8  (classifier and recogniser) 1 where a line's pixels are,
 *                                      0 in the zero padding right of it
 *
 *   index = (int32(pixels) + [1, 257, 513]) · int32(pixels_valid)     (channel c: 1 + 256·c + v)
 *   x     = Gather(table, index)      table = [0, B-table…, G-table…, R-table…] (769 floats)
 *
 * so `x` holds exactly the float32 values the client would have sent (the same table entries, and
 * exactly 0 in the padding), and the outputs are bit-identical. Cast, Add, Mul and Gather exist
 * since opset 1–6, so any model opset works. A client knows such a model by its `pixels` input.
 */
import { OcrError } from '../../errors.js'
import { PIXELS_INPUT, PIXELS_VALID_INPUT } from '../../inference/model-io.js'
import { GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_NODE, ONNX_ATTR, ONNX_DTYPE, concat, fieldsOf, joinModel, lengthDelimited, onnxSchema, splitModel, type OnnxDim as Dim, type OnnxValueInfo as ValueInfo, type Span } from './onnx-proto.js'

/**
 * The model `bytes` with its one float input of rank 4 computed in-graph from uint8 `pixels`
 * through `tables` (one 256-entry table per tensor channel), and, when `masked`, zeroed where
 * `pixels_valid` is 0. A model that already has a `pixels` input is returned as is.
 */
export function deriveCompactInputModel(bytes: Uint8Array, tables: readonly Float32Array[], masked: boolean): Uint8Array {
  if (tables.length !== 3 || tables.some((t) => t.length !== 256)) throw new RangeError('need three 256-entry tables')
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

  const table = new Float32Array(1 + 3 * 256)
  tables.forEach((t, c) => table.set(t, 1 + 256 * c))
  const offsets = new Int32Array([1, 257, 513])
  const raw = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  // raw_data is little-endian, as typed arrays are on every platform Node supports
  const initializers = [
    { name: 'ocrserve_pixel_table', data_type: ONNX_DTYPE.FLOAT, dims: [table.length], raw_data: raw(table) },
    { name: 'ocrserve_pixel_offsets', data_type: ONNX_DTYPE.INT32, dims: [1, 3, 1, 1], raw_data: raw(offsets) },
  ]
  const cast = (input: string, output: string) => ({ op_type: 'Cast', name: `${output}_cast`, input: [input], output: [output], attribute: [{ name: 'to', type: ONNX_ATTR.INT, i: ONNX_DTYPE.INT32 }] })
  const nodes = [
    cast(PIXELS_INPUT, 'ocrserve_pixels_i32'),
    { op_type: 'Add', name: 'ocrserve_pixel_index', input: ['ocrserve_pixels_i32', 'ocrserve_pixel_offsets'], output: ['ocrserve_pixel_index'] },
    ...(masked
      ? [
          cast(PIXELS_VALID_INPUT, 'ocrserve_pixels_valid_i32'),
          { op_type: 'Mul', name: 'ocrserve_pixel_index_masked', input: ['ocrserve_pixel_index', 'ocrserve_pixels_valid_i32'], output: ['ocrserve_pixel_index_masked'] },
        ]
      : []),
    {
      op_type: 'Gather',
      name: 'ocrserve_normalise',
      input: ['ocrserve_pixel_table', masked ? 'ocrserve_pixel_index_masked' : 'ocrserve_pixel_index'],
      output: [x.info.name],
      attribute: [{ name: 'axis', type: ONNX_ATTR.INT, i: 0 }],
    },
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
