/**
 * Protocol codecs checked against the specifications' own example bodies:
 * - KServe v2 REST: kserve/kserve docs/predict-api/v2/required_api.md ("Inference Request Examples")
 * - Triton binary tensor data extension: triton-inference-server/server docs/protocol/extension_binary_data.md ("Examples")
 * - TensorFlow Serving REST: tensorflow/serving tensorflow_serving/g3doc/api_rest.md (predict formats, "JSON conformance", "Example")
 */
import { describe, expect, it } from 'vitest'
import { OcrError } from '../../src/errors.js'
import type { Tensor } from '../../src/inference/backend.js'
import { httpServerError } from '../../src/inference/http-transport.js'
import { grpcTarget, normalizeHttpBase } from '../../src/inference/remote-url.js'
import { tensorsFromGrpc, tensorsToGrpc } from '../../src/protocols/kserve-grpc.js'
import {
  INFERENCE_HEADER_CONTENT_LENGTH,
  decodeInferResponse,
  encodeInferRequest,
  gatherBody,
  parseModelMetadata,
  readTensors,
  splitBinaryMessage,
} from '../../src/protocols/kserve-rest.js'
import { errorBodyText } from '../../src/protocols/rest.js'
import { flattenNested, takeExclusive, tensorFromBytes, tensorFromNested, tensorToBytes } from '../../src/protocols/tensors.js'
import { nestedJson, parseTfJson, parseTfMetadata, parseTfStatus, rewriteNonFinite } from '../../src/protocols/tfserving-rest.js'

const f32 = (dims: number[], values: number[]): Tensor => ({ type: 'float32', dims, data: Float32Array.from(values) })

function catchError(fn: () => unknown): OcrError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(OcrError)
    return err as OcrError
  }
  throw new Error('expected an error')
}

describe('KServe v2 JSON (required_api.md examples)', () => {
  // The spec's response example, verbatim except for the comma missing after `"id" : "42"` in the spec.
  const responseExample = `{
      "id" : "42",
      "outputs" : [
        {
          "name" : "output0",
          "shape" : [ 3, 2 ],
          "datatype"  : "FP32",
          "data" : [ 1.0, 1.1, 2.0, 2.1, 3.0, 3.1 ]
        }
      ]
    }`

  it('reads the example response: output0, FP32 [3, 2]', () => {
    const out = decodeInferResponse(Buffer.from(responseExample), null)
    expect(Object.keys(out)).toEqual(['output0'])
    expect(out.output0!.type).toBe('float32')
    expect(out.output0!.dims).toEqual([3, 2])
    expect([...out.output0!.data]).toEqual([...Float32Array.from([1.0, 1.1, 2.0, 2.1, 3.0, 3.1])])
  })

  it('accepts data in its natural nested form as well as flattened (Tensor Data section)', () => {
    const nested = readTensors([{ name: 'm', shape: [2, 2], datatype: 'INT32', data: [[1, 2], [4, 5]] }], Buffer.alloc(0), 'input')
    const flat = readTensors([{ name: 'm', shape: [2, 2], datatype: 'INT32', data: [1, 2, 4, 5] }], Buffer.alloc(0), 'input')
    expect([...nested[0]!.tensor.data]).toEqual([1, 2, 4, 5])
    expect([...flat[0]!.tensor.data]).toEqual([1, 2, 4, 5])
  })

  it('rejects the example request clearly: UINT32 and BOOL are datatypes ocrserve does not move', () => {
    const request = {
      id: '42',
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
        { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] },
      ],
      outputs: [{ name: 'output0' }],
    }
    const { json, binary } = splitBinaryMessage(Buffer.from(JSON.stringify(request)), undefined)
    const err = catchError(() => readTensors((json as typeof request).inputs, binary, 'input'))
    expect(err.code).toBe('BAD_REQUEST')
    expect(err.message).toContain('UINT32')
  })

  it('checks the element count against the shape', () => {
    const err = catchError(() => readTensors([{ name: 'a', shape: [3], datatype: 'FP32', data: [1] }], Buffer.alloc(0), 'input'))
    expect(err.message).toMatch(/1 values for shape \[3\]/)
  })

  it('encodes a JSON request (binary off) with flat data arrays and plain requested outputs', () => {
    const { parts, headers } = encodeInferRequest({ input0: f32([3, 2], [1, 1.5, 2, 2.5, 3, 3.5]) }, ['output0'], false, '42')
    const body = Buffer.concat(parts)
    expect(headers['content-type']).toBe('application/json')
    expect(headers[INFERENCE_HEADER_CONTENT_LENGTH]).toBeUndefined()
    expect(JSON.parse(body.toString())).toEqual({
      id: '42',
      inputs: [{ name: 'input0', shape: [3, 2], datatype: 'FP32', data: [1, 1.5, 2, 2.5, 3, 3.5] }],
      outputs: [{ name: 'output0' }],
    })
  })

  it('parses model metadata ($metadata_model_response)', () => {
    const meta = parseModelMetadata(
      { name: 'ocr_det', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1, -1, -1] }] },
      'ocr_det',
    )
    expect(meta.inputs[0]).toEqual({ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] })
    expect(() => parseModelMetadata({ name: 'm', inputs: 'x' }, 'm')).toThrow(/malformed metadata/)
  })

  it('reads $inference_error_response bodies', () => {
    expect(errorBodyText('{"error": "Request for unknown model: \'nope\' is not found"}')).toBe("Request for unknown model: 'nope' is not found")
    const e = httpServerError(400, '{"error":"shape mismatch"}', 'inference on model "m"')
    expect(e.code).toBe('MODEL_ERROR')
    expect(e.message).toContain('HTTP 400: shape mismatch')
    expect(httpServerError(503, '{"error":"not ready"}', 'x').code).toBe('NOT_READY')
    expect(errorBodyText('<html>gateway</html>')).toBe('<html>gateway</html>')
  })
})

describe('binary tensor data extension (extension_binary_data.md examples)', () => {
  it('reads the example response: JSON header, then 24 bytes of FP32 [3, 2]', () => {
    const header = `{
  "outputs" : [
    {
      "name" : "output0",
      "shape" : [ 3, 2 ],
      "datatype"  : "FP32",
      "parameters" : {
        "binary_data_size" : 24
      }
    }
  ]
}`
    const values = [0.5, -1, 2.25, 3, 4.125, -5]
    const bytes = Buffer.from(Float32Array.from(values).buffer)
    expect(bytes.length).toBe(24)
    const body = Buffer.concat([Buffer.from(header), bytes])
    // Inference-Header-Content-Length: <yy>; Content-Length: <yy+24>
    const out = decodeInferResponse(body, String(Buffer.byteLength(header)))
    expect(out.output0!.dims).toEqual([3, 2])
    expect([...out.output0!.data]).toEqual(values)
  })

  it('encodes requests as the example does: binary_data_size per input, binary_data on outputs, header length', () => {
    const input0 = f32([2, 2], [1, 2, 3, 4])
    const input1: Tensor = { type: 'uint8', dims: [3], data: Uint8Array.from([1, 0, 1]) }
    const { parts, headers } = encodeInferRequest({ input0, input1 }, ['output0'], true)
    expect(headers['content-type']).toBe('application/octet-stream')
    const headerLength = Number(headers[INFERENCE_HEADER_CONTENT_LENGTH])
    // written as parts (header, then each tensor's own bytes: not copied into one body)
    expect(parts).toHaveLength(3)
    expect(parts[1]!.buffer).toBe(input0.data.buffer)
    const body = Buffer.concat(parts)
    // "the total size of the binary data is 19 bytes and that size must be reflected in the content length"
    expect(body.length).toBe(headerLength + 16 + 3)
    const json = JSON.parse(body.subarray(0, headerLength).toString())
    expect(json).toEqual({
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'FP32', parameters: { binary_data_size: 16 } },
        { name: 'input1', shape: [3], datatype: 'UINT8', parameters: { binary_data_size: 3 } },
      ],
      outputs: [{ name: 'output0', parameters: { binary_data: true } }],
    })
    // the binary section holds the tensors in input order, little-endian
    expect(body.readFloatLE(headerLength + 12)).toBe(4)
    expect([...body.subarray(headerLength + 16)]).toEqual([1, 0, 1])
    // and it reads back (as the model server does)
    const { json: j, binary } = splitBinaryMessage(body, headers[INFERENCE_HEADER_CONTENT_LENGTH])
    const tensors = readTensors((j as { inputs: unknown }).inputs, binary, 'input')
    expect([...tensors[0]!.tensor.data]).toEqual([1, 2, 3, 4])
    expect([...tensors[1]!.tensor.data]).toEqual([1, 0, 1])
    // gathered as a server receives it (in pieces), the binary section is 8-byte aligned and the
    // float tensor is read in place, not copied
    const received = gatherBody([body.subarray(0, 5), body.subarray(5, headerLength + 7), body.subarray(headerLength + 7)], body.length, String(headerLength))
    expect(received.equals(body)).toBe(true)
    expect((received.byteOffset + headerLength) % 8).toBe(0)
    const again = splitBinaryMessage(received, String(headerLength))
    const inPlace = readTensors((again.json as { inputs: unknown }).inputs, again.binary, 'input')
    expect(inPlace[0]!.tensor.data.buffer).toBe(received.buffer)
    expect([...inPlace[0]!.tensor.data]).toEqual([1, 2, 3, 4])
    // that body belongs to this message alone: it may be transferred, once
    expect(takeExclusive(received.buffer)).toBe(true)
    expect(takeExclusive(received.buffer)).toBe(false)
  })

  it('marks only buffers a message owns alone as transferable', () => {
    // a misaligned view (as protobufjs gives for gRPC bytes fields) is copied into a buffer of its own
    const bytes = Buffer.alloc(17)
    bytes.writeFloatLE(2.5, 1)
    bytes.writeFloatLE(-1, 5)
    const t = tensorFromBytes('float32', [2], bytes.subarray(1, 9), 'x')
    expect([...t.data]).toEqual([2.5, -1])
    expect(t.data.buffer).not.toBe(bytes.buffer)
    expect(takeExclusive(t.data.buffer)).toBe(true)
    // an aligned view into someone else's memory (a caller's array, Node's shared pool) is not
    const theirs = new Uint8Array(new ArrayBuffer(12), 4, 4)
    theirs.set([0, 0, 32, 64])
    const view = tensorFromBytes('float32', [1], theirs, 'y')
    expect(view.data.buffer).toBe(theirs.buffer)
    expect(view.data[0]).toBe(2.5)
    expect(takeExclusive(view.data.buffer)).toBe(false)
    expect(takeExclusive(new Float32Array(4).buffer)).toBe(false)
  })

  it('mixes binary and JSON tensors in one body', () => {
    const header = { outputs: [{ name: 'a', shape: [2], datatype: 'FP32', data: [7, 8] }, { name: 'b', shape: [1], datatype: 'INT64', parameters: { binary_data_size: 8 } }] }
    const bin = Buffer.alloc(8)
    bin.writeBigInt64LE(-3n)
    const text = JSON.stringify(header)
    const out = decodeInferResponse(Buffer.concat([Buffer.from(text), bin]), String(text.length))
    expect([...out.a!.data]).toEqual([7, 8])
    expect([...out.b!.data]).toEqual([-3n])
  })

  it.each([
    ['header length past the body', (h: number) => String(h + 100), /invalid/],
    ['header length not a number', () => 'abc', /invalid/],
  ])('rejects a %s', (_name, headerFor, re) => {
    const text = JSON.stringify({ outputs: [] })
    const err = catchError(() => splitBinaryMessage(Buffer.from(text), headerFor(text.length)))
    expect(err.code).toBe('BAD_REQUEST')
    expect(err.message).toMatch(re)
  })

  it('rejects binary sizes that overrun, underrun or do not match the shape', () => {
    const entry = (size: number): unknown[] => [{ name: 'x', shape: [2], datatype: 'FP32', parameters: { binary_data_size: size } }]
    expect(catchError(() => readTensors(entry(16), Buffer.alloc(8), 'input')).message).toMatch(/runs past the end/)
    expect(catchError(() => readTensors(entry(8), Buffer.alloc(12), 'input')).message).toMatch(/not claimed/)
    expect(catchError(() => readTensors(entry(4), Buffer.alloc(4), 'input')).message).toMatch(/expected 8/)
  })

  it('copies unaligned binary sections into aligned memory', () => {
    const buf = Buffer.alloc(9)
    buf.writeFloatLE(1.5, 1)
    buf.writeFloatLE(-2.5, 5)
    const t = tensorFromBytes('float32', [2], buf.subarray(1), 'x')
    expect([...t.data]).toEqual([1.5, -2.5])
    expect(tensorToBytes(t).equals(buf.subarray(1))).toBe(true)
  })
})

describe('TensorFlow Serving REST (api_rest.md examples)', () => {
  it('parses the JSON conformance example with bare non-finite tokens', () => {
    // api_rest.md writes "Nan" in this example, which no parser (TF's included) accepts; the token is NaN.
    const v = parseTfJson('{\n  "example": [\n    {\n      "sensor_readings": [ 1.0, -3.14, NaN, Infinity ]\n    }\n  ]\n}') as {
      example: Array<{ sensor_readings: number[] }>
    }
    const r = v.example[0]!.sensor_readings
    expect(r[0]).toBe(1)
    expect(r[1]).toBe(-3.14)
    expect(Number.isNaN(r[2])).toBe(true)
    expect(r[3]).toBe(Infinity)
    expect(() => parseTfJson('{"sensor_readings": [1.0, Nan]}')).toThrow(SyntaxError)
  })

  it('leaves NaN / Infinity inside strings alone, escapes included', () => {
    const text = '{"s": "NaN and \\"Infinity\\" -Infinity", "v": [-Infinity, NaN, 1e3], "NaN": "x"}'
    const v = parseTfJson(text) as { s: string; v: number[]; NaN: string }
    expect(v.s).toBe('NaN and "Infinity" -Infinity')
    expect(v.v[0]).toBe(-Infinity)
    expect(Number.isNaN(v.v[1])).toBe(true)
    expect(v.v[2]).toBe(1000)
    expect(v.NaN).toBe('x')
  })

  it.each([
    ['[NaN]', '[X]', true],
    ['[Infinity,-Infinity]', '[1e999,-1e999]', false],
    ['["NaN"]', '["NaN"]', false],
    ['[NaNx]', '[NaNx]', false],
    ['["a\\\\", NaN]', '["a\\\\", X]', true],
  ])('rewriteNonFinite(%s) → %s', (input, expected, nan) => {
    const r = rewriteNonFinite(input, 'X')
    expect(r.text).toBe(expected)
    expect(r.nan).toBe(nan)
  })

  it('reads the columnar predict example into tensors of its natural shapes', () => {
    // "Specifying input tensors in column format"
    const body = parseTfJson(`{
 "inputs": {
   "tag": ["foo", "bar"],
   "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
   "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]]
 }
}`) as { inputs: Record<string, unknown> }
    expect(flattenNested(body.inputs.tag, 'tag').shape).toEqual([2])
    expect(tensorFromNested(body.inputs.signal, 'int32', 'signal').dims).toEqual([2, 5])
    const sensor = tensorFromNested(body.inputs.sensor, 'float32', 'sensor')
    expect(sensor.dims).toEqual([2, 2, 2])
    expect([...sensor.data]).toEqual([1, 2, 3, 4, 4, 5, 6, 8])
  })

  it('rejects ragged lists (the row example\'s stray bracket makes one)', () => {
    expect(() => flattenNested([[1, 2, 3], [3, 4]], 'signal')).toThrow(/ragged/)
  })

  it('writes tensors as nested lists, non-finite values as bare tokens', () => {
    expect(nestedJson(f32([2, 3], [1, 2, 3, 4, 5, 6]))).toBe('[[1,2,3],[4,5,6]]')
    expect(nestedJson(f32([1, 2], [NaN, -Infinity]))).toBe('[[NaN,-Infinity]]')
    const t = f32([2, 1, 2], [0.1, -2.5, 3.25, 1e-7])
    const back = tensorFromNested(parseTfJson(nestedJson(t)), 'float32', 't')
    expect(back.dims).toEqual([2, 1, 2])
    expect([...back.data]).toEqual([...t.data])
  })

  it('reads the model status example', () => {
    const status = parseTfStatus(
      JSON.parse('{\n "model_version_status": [\n  {\n   "version": "123",\n   "state": "AVAILABLE",\n   "status": {\n    "error_code": "OK",\n    "error_message": ""\n   }\n  }\n ]\n}'),
    )
    expect(status).toEqual([{ version: '123', state: 'AVAILABLE' }])
  })

  it('reads the predict error example', () => {
    // curl -i ... /v1/models/half:predict → 404 { "error": "Servable not found for request: Latest(half)" }
    const e = httpServerError(404, '{ "error": "Servable not found for request: Latest(half)" }', 'predict on model "half"')
    expect(e.code).toBe('MODEL_ERROR')
    expect(e.message).toContain('Servable not found for request: Latest(half)')
  })

  it('reads a GetModelMetadataResponse signature (sizes are strings, unknown_rank honoured)', () => {
    const json = {
      model_spec: { name: 'det', signature_name: '', version: '7' },
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: {
              inputs: { images: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '3', name: '' }], unknown_rank: false }, name: 'images:0' } },
              outputs: { maps: { dtype: 'DT_FLOAT', tensor_shape: { dim: [], unknown_rank: true }, name: 'maps:0' } },
              method_name: 'tensorflow/serving/predict',
            },
          },
        },
      },
    }
    const meta = parseTfMetadata(json, 'det', 'serving_default')
    expect(meta.versions).toEqual(['7'])
    expect(meta.inputs).toEqual([{ name: 'images', datatype: 'FP32', shape: [-1, 3] }])
    expect(meta.outputs).toEqual([{ name: 'maps', datatype: 'FP32', shape: [] }])
    expect(() => parseTfMetadata(json, 'det', 'other')).toThrow(/no signature "other" \(has: serving_default\)/)
  })
})

describe('KServe v2 gRPC tensors', () => {
  it('round-trips tensors through raw contents', () => {
    const named = [
      { name: 'x', tensor: f32([1, 2], [0.25, -7]) },
      { name: 'ids', tensor: { type: 'int64', dims: [2], data: BigInt64Array.from([5n, -9n]) } as Tensor },
    ]
    const { entries, raw } = tensorsToGrpc(named)
    expect(entries).toEqual([
      { name: 'x', datatype: 'FP32', shape: [1, 2] },
      { name: 'ids', datatype: 'INT64', shape: [2] },
    ])
    const back = tensorsFromGrpc(entries, raw.map((b) => Buffer.from(b)), 'output')
    expect([...back[0]!.tensor.data]).toEqual([0.25, -7])
    expect([...back[1]!.tensor.data]).toEqual([5n, -9n])
  })

  it('reads typed contents when raw contents are absent, and rejects a raw/entry count mismatch', () => {
    const t = tensorsFromGrpc([{ name: 'y', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1, 2] } }], [], 'output')
    expect([...t[0]!.tensor.data]).toEqual([1, 2])
    expect(() => tensorsFromGrpc([{ name: 'y', datatype: 'FP32', shape: [1] }], [Buffer.alloc(4), Buffer.alloc(4)], 'output')).toThrow(/2 entries for 1 outputs/)
    expect(() => tensorsFromGrpc([{ name: 'y', datatype: 'FP16', shape: [1] }], [Buffer.alloc(2)], 'input')).toThrow(/FP16 is not supported/)
  })

  it.each([
    ['triton:8001', 'triton:8001', false],
    ['grpc://10.0.0.2:8001/', '10.0.0.2:8001', false],
    ['grpcs://models.example:443', 'models.example:443', true],
  ])('grpcTarget(%s)', (url, target, secure) => {
    expect(grpcTarget(url)).toEqual({ target, secure })
  })

  it('rejects URLs that are not host:port', () => {
    expect(() => grpcTarget('ftp://x:1')).toThrow(OcrError)
    expect(() => grpcTarget('http://x:8001/v2')).toThrow(/expected host:port/)
  })
})

describe('HTTP base URLs', () => {
  it.each([
    ['triton:8000', 'http://triton:8000'],
    ['http://triton:8000/', 'http://triton:8000'],
    ['https://kserve.example/prefix', 'https://kserve.example/prefix'],
  ])('%s → %s', (url, base) => {
    expect(normalizeHttpBase(url)).toBe(base)
  })
  it('rejects other schemes', () => {
    expect(() => normalizeHttpBase('grpc://x:1')).toThrow(/scheme must be http or https/)
  })
})
