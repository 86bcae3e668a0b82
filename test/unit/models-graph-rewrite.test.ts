/**
 * Graph rewrites (src/models/onnx/graph-rewrite.ts): hard-swish written as x · HardSigmoid(x), and
 * scalar affine blocks folded into convolutions, must compute the same function, on small
 * hand-built graphs (every form, and look-alikes that must be left alone) and on the three
 * shipped PP-OCR models.
 */
import { readFileSync } from 'node:fs'
import * as ort from 'onnxruntime-node'
import protobuf from 'protobufjs'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveModelPaths } from '../../src/models/assets.js'
import { rewriteModel } from '../../src/models/onnx/graph-rewrite.js'
import { ctcDecode } from '../../src/models/rec-ctc.js'
import { ctcCharset, readDictionary } from '../../src/packs/spec.js'
import { onnxSchema } from '../../src/models/onnx/onnx-proto.js'
import { textImage, textLineBatch } from '../helpers/images.js'

const root = onnxSchema()
const ModelProto = root.lookupType('onnx.ModelProto')
const NodeProto = root.lookupType('onnx.NodeProto')

const FLOAT = 1
const ATTR = { FLOAT: 1, TENSOR: 4 }
const opts = { intraOpNumThreads: 1, graphOptimizationLevel: 'all' as const, logSeverityLevel: 3 as const }

function scalar(name: string, v: number) {
  const raw = new Uint8Array(4)
  new DataView(raw.buffer).setFloat32(0, v, true)
  return { op_type: 'Constant', output: [name], attribute: [{ name: 'value', type: ATTR.TENSOR, t: { data_type: FLOAT, raw_data: raw } }] }
}
const node = (op_type: string, input: string[], output: string, attribute: object[] = []) => ({ op_type, input, output: [output], attribute })
const valueInfo = (name: string, dims = [2, 8]) => ({ name, type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => ({ dim_value: d })) } } } })

/** A model computing y from x with `nodes`; `extraOutputs` are also graph outputs. */
function model(opset: number, nodes: object[], extraOutputs: string[] = [], dims?: { x: number[]; y: number[] }): Uint8Array {
  const graph = { name: 'g', node: nodes, input: [valueInfo('x', dims?.x)], output: [valueInfo('y', dims?.y), ...extraOutputs.map((o) => valueInfo(o))] }
  return ModelProto.encode(ModelProto.fromObject({ ir_version: 7, opset_import: [{ domain: '', version: opset }], graph })).finish()
}

/** Clip(v, 0, 6) in the opset's form. */
function clip06(opset: number, v: string, out: string): object[] {
  if (opset < 11) return [node('Clip', [v], out, [{ name: 'min', type: ATTR.FLOAT, f: 0 }, { name: 'max', type: ATTR.FLOAT, f: 6 }])]
  return [scalar('c0', 0), scalar('c6b', 6), node('Clip', [v, 'c0', 'c6b'], out)]
}

/** paddle2onnx's forms of hard-swish of v = Neg(Neg(x)) (= x, computed by a node, as in the models). */
function hardSwishModel(opset: number, form: 'div-last' | 'mul-last', mulOrder: 'x-first' | 'x-last' = 'x-first'): Uint8Array {
  const head = [node('Neg', ['x'], 'n'), node('Neg', ['n'], 'v')]
  const pre = [ scalar('c3', 3), node('Add', ['v', 'c3'], 'a'), ...clip06(opset, 'a', 'c'), scalar('c6', 6)]
  const mulIn = (other: string) => (mulOrder === 'x-first' ? ['v', other] : [other, 'v'])
  const tail =
    form === 'div-last'
      ? [node('Mul', mulIn('c'), 'm'), node('Div', ['m', 'c6'], 'y')]
      : [node('Div', ['c', 'c6'], 'd'), node('Mul', mulIn('d'), 'y')]
  return model(opset, [...head, ...pre, ...tail])
}

const hardSwish = (v: number) => (v * Math.min(6, Math.max(0, v + 3))) / 6

/** The graph's operators, Constant nodes left out; fails if a Constant's value is unused. */
function opTypes(bytes: Uint8Array): string[] {
  const m = ModelProto.toObject(ModelProto.decode(bytes), { arrays: true }) as { graph: { node: Array<{ op_type: string; input: string[]; output: string[] }> } }
  const used = new Set(m.graph.node.flatMap((n) => n.input).concat('y'))
  for (const n of m.graph.node) if (n.op_type === 'Constant') expect(used.has(n.output[0]!), `constant ${n.output[0]} is unused`).toBe(true)
  return m.graph.node.filter((n) => n.op_type !== 'Constant').map((n) => n.op_type)
}

async function run(bytes: Uint8Array, x: Float32Array, dims = [2, 8]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, opts)
  try {
    const out = await s.run({ x: new ort.Tensor('float32', x, dims) })
    return out.y!.data as Float32Array
  } finally {
    await s.release()
  }
}

// values around every kink of hard-swish (-3, 0, 3) and beyond
const X = Float32Array.from([-7, -3.5, -3, -2.9, -1, -0.25, 0, 0.1, 0.5, 1, 2.5, 2.99, 3, 3.01, 4, 100])

describe('rewriteModel: hard-swish on hand-built graphs', () => {
  it.each([
    [9, 'div-last', 'x-first'],
    [9, 'div-last', 'x-last'],
    [11, 'div-last', 'x-first'],
    [11, 'mul-last', 'x-first'],
    [13, 'mul-last', 'x-last'],
  ] as const)('opset %d, %s, %s: two nodes instead of four, same values', async (opset, form, order) => {
    const original = hardSwishModel(opset, form, order)
    const { bytes, report } = rewriteModel(original)
    expect(report.hardSwish).toBe(1)
    const ops = opTypes(bytes)
    expect(ops).toEqual(['Neg', 'Neg', 'HardSigmoid', 'Mul'])
    const [a, b] = [await run(original, X), await run(bytes, X)]
    for (let i = 0; i < X.length; i++) {
      expect(a[i]).toBeCloseTo(hardSwish(X[i]!), 4)
      expect(Math.abs(b[i]! - a[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(a[i]!)))
    }
    // nothing left to rewrite: the same bytes come back
    const again = rewriteModel(bytes)
    expect(again.report.hardSwish).toBe(0)
    expect(again.bytes).toBe(bytes)
  })

  it('leaves look-alikes alone: another constant, other clip bounds, an intermediate used twice', () => {
    const variants = [
      // x + 2 instead of x + 3
      model(11, [scalar('c3', 2), node('Add', ['x', 'c3'], 'a'), ...clip06(11, 'a', 'c'), scalar('c6', 6), node('Mul', ['x', 'c'], 'm'), node('Div', ['m', 'c6'], 'y')]),
      // Clip(·, 0, 5)
      model(9, [scalar('c3', 3), node('Add', ['x', 'c3'], 'a'), node('Clip', ['a'], 'c', [{ name: 'min', type: ATTR.FLOAT, f: 0 }, { name: 'max', type: ATTR.FLOAT, f: 5 }]), scalar('c6', 6), node('Mul', ['x', 'c'], 'm'), node('Div', ['m', 'c6'], 'y')]),
      // the Mul's other input is not the Add's
      model(11, [node('Relu', ['x'], 'r'), scalar('c3', 3), node('Add', ['x', 'c3'], 'a'), ...clip06(11, 'a', 'c'), scalar('c6', 6), node('Mul', ['r', 'c'], 'm'), node('Div', ['m', 'c6'], 'y')]),
      // the clipped value is also a graph output
      model(11, [scalar('c3', 3), node('Add', ['x', 'c3'], 'a'), ...clip06(11, 'a', 'c'), scalar('c6', 6), node('Mul', ['x', 'c'], 'm'), node('Div', ['m', 'c6'], 'y')], ['c']),
    ]
    for (const v of variants) {
      const { bytes, report } = rewriteModel(v)
      expect(report.hardSwish).toBe(0)
      expect(bytes).toBe(v)
    }
  })

  it('keeps every other field of the model and graph byte for byte', () => {
    const original = hardSwishModel(11, 'div-last')
    const { bytes } = rewriteModel(original)
    const a = ModelProto.toObject(ModelProto.decode(original), { arrays: true, longs: Number }) as Record<string, unknown> & { graph: Record<string, unknown> }
    const b = ModelProto.toObject(ModelProto.decode(bytes), { arrays: true, longs: Number }) as Record<string, unknown> & { graph: Record<string, unknown> }
    expect(b.ir_version).toBe(a.ir_version)
    expect(b.opset_import).toEqual(a.opset_import)
    expect(b.graph.input).toEqual(a.graph.input)
    expect(b.graph.output).toEqual(a.graph.output)
    expect(b.graph.name).toBe('g')
    // the new nodes' attributes: alpha = 1/6, beta = 1/2
    const hsig = (b.graph.node as Array<{ op_type: string; attribute: Array<{ name: string; f: number }> }>).find((n) => n.op_type === 'HardSigmoid')!
    expect(Object.fromEntries(hsig.attribute.map((x) => [x.name, x.f]))).toEqual({ alpha: Math.fround(1 / 6), beta: 0.5 })
  })

  it('merges a graph given in two parts (as rec-reduced.ts appends one) before rewriting', async () => {
    const original = hardSwishModel(9, 'div-last')
    // split: the last node moved into a second `graph` occurrence
    const m = ModelProto.decode(original) as unknown as { graph: { node: unknown[] } }
    const last = m.graph.node.pop()
    const head = ModelProto.encode(m as unknown as protobuf.Message).finish()
    const tail = ModelProto.encode(ModelProto.fromObject({ graph: { node: [NodeProto.toObject(last as protobuf.Message)] } })).finish()
    const split = new Uint8Array([...head, ...tail])
    const { bytes, report } = rewriteModel(split)
    expect(report.hardSwish).toBe(1)
    const [a, b] = [await run(original, X), await run(bytes, X)]
    for (let i = 0; i < X.length; i++) expect(Math.abs(b[i]! - a[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(a[i]!)))
    expect(opTypes(bytes)).toEqual(['Neg', 'Neg', 'HardSigmoid', 'Mul'])
  })

  it('rejects bytes that are not a model', () => {
    expect(() => rewriteModel(Buffer.from([0x0a, 0xff, 0xff, 0xff]))).toThrow(/not an ONNX model/)
  })
})

/** A float32 Constant node of `dims` with deterministic values. */
function tensorConst(name: string, dims: number[], seed: number) {
  const n = dims.reduce((a, b) => a * b, 1)
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 1.37) * 0.8)
  return { op_type: 'Constant', output: [name], attribute: [{ name: 'value', type: ATTR.TENSOR, t: { dims, data_type: FLOAT, raw_data: new Uint8Array(data.buffer) } }] }
}
const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v })
const conv = (input: string, w: string, b: string | undefined, out: string, k: number, pad: number, group = 1) =>
  node('Conv', b ? [input, w, b] : [input, w], out, [ints('kernel_shape', [k, k]), ints('pads', [pad, pad, pad, pad]), ints('strides', [1, 1]), { name: 'group', type: 2, i: group }])

describe('rewriteModel: scalar affine blocks folded into convolutions', () => {
  const xDims = [1, 4, 5, 6]
  const X4 = Float32Array.from({ length: 4 * 5 * 6 }, (_, i) => Math.cos(i * 0.71) * 3)

  async function expectSame(original: Uint8Array, folds: number, ops: string[]) {
    const { bytes, report } = rewriteModel(original)
    expect(report.affineIntoConv).toBe(folds)
    expect(opTypes(bytes)).toEqual(ops)
    const [a, b] = [await run(original, X4, xDims), await run(bytes, X4, xDims)]
    expect(b.length).toBe(a.length)
    for (let i = 0; i < a.length; i++) expect(Math.abs(b[i]! - a[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(a[i]!)))
    return bytes
  }

  it('Conv → Mul s → Add b becomes one Conv (with and without a bias input; padded conv)', async () => {
    const yDims = [1, 3, 5, 6]
    for (const bias of [true, false]) {
      const original = model(
        11,
        [tensorConst('W', [3, 4, 3, 3], 1), ...(bias ? [tensorConst('B', [3], 2)] : []), conv('x', 'W', bias ? 'B' : undefined, 'c', 3, 1), scalar('s', 0.7), node('Mul', ['c', 's'], 'm'), scalar('b', -0.25), node('Add', ['b', 'm'], 'y')],
        [],
        { x: xDims, y: yDims },
      )
      await expectSame(original, 1, ['Conv'])
    }
  })

  it('Mul s → Add b → Conv without padding becomes one Conv; before a padded conv it stays', async () => {
    const pre = [node('Relu', ['x'], 'r'), scalar('s', 1.3), node('Mul', ['s', 'r'], 'm'), scalar('b', 0.4), node('Add', ['m', 'b'], 'a')]
    // 1×1 pointwise, and a grouped 3×3 without padding: both exact
    const pointwise = model(11, [...pre, tensorConst('W', [3, 4, 1, 1], 3), tensorConst('B', [3], 4), conv('a', 'W', 'B', 'y', 1, 0)], [], { x: xDims, y: [1, 3, 5, 6] })
    await expectSame(pointwise, 1, ['Relu', 'Conv'])
    const grouped = model(11, [...pre, tensorConst('W', [4, 2, 3, 3], 5), conv('a', 'W', undefined, 'y', 3, 0, 2)], [], { x: xDims, y: [1, 4, 3, 4] })
    await expectSame(grouped, 1, ['Relu', 'Conv'])
    // padded: the zeros the conv pads with are not shifted by b, so folding would change the borders
    const padded = model(11, [...pre, tensorConst('W', [3, 4, 3, 3], 6), conv('a', 'W', undefined, 'y', 3, 1)], [], { x: xDims, y: [1, 3, 5, 6] })
    const { bytes, report } = rewriteModel(padded)
    expect(report.affineIntoConv).toBe(0)
    expect(bytes).toBe(padded)
  })

  it('a conv between two blocks takes both (the passes run in turn)', async () => {
    const original = model(
      11,
      [
        node('Relu', ['x'], 'r'), scalar('s1', 0.5), node('Mul', ['r', 's1'], 'm1'), scalar('b1', 0.1), node('Add', ['m1', 'b1'], 'a1'),
        tensorConst('W', [3, 4, 1, 1], 7), tensorConst('B', [3], 8), conv('a1', 'W', 'B', 'c', 1, 0),
        scalar('s2', -1.5), node('Mul', ['c', 's2'], 'm2'), scalar('b2', 2), node('Add', ['m2', 'b2'], 'y'),
      ],
      [],
      { x: xDims, y: [1, 3, 5, 6] },
    )
    await expectSame(original, 2, ['Relu', 'Conv'])
  })

  it('leaves per-channel or shared intermediates alone', () => {
    const yDims = [1, 3, 5, 6]
    const variants = [
      // the Mul's constant has 3 values (ONNX Runtime fuses those itself)
      model(11, [tensorConst('W', [3, 4, 3, 3], 1), conv('x', 'W', undefined, 'c', 3, 1), tensorConst('s', [3, 1, 1], 9), node('Mul', ['c', 's'], 'm'), scalar('b', 1), node('Add', ['m', 'b'], 'y')], [], { x: xDims, y: yDims }),
      // the conv's output is also a graph output
      model(11, [tensorConst('W', [3, 4, 3, 3], 1), conv('x', 'W', undefined, 'c', 3, 1), scalar('s', 2), node('Mul', ['c', 's'], 'm'), scalar('b', 1), node('Add', ['m', 'b'], 'y')], ['c'], { x: xDims, y: yDims }),
    ]
    for (const v of variants) {
      const { bytes, report } = rewriteModel(v)
      expect(report.affineIntoConv).toBe(0)
      expect(bytes).toBe(v)
    }
  })
})

describe('rewriteModel on the shipped PP-OCR models', () => {
  const paths = resolveModelPaths()
  const charset = ctcCharset(readDictionary(readFileSync(paths.keys, 'utf8')), true)
  const sessions: ort.InferenceSession[] = []
  const load = async (bytes: Uint8Array) => {
    const s = await ort.InferenceSession.create(bytes, opts)
    sessions.push(s)
    return s
  }
  afterAll(async () => {
    for (const s of sessions) await s.release()
  })

  it.each([
    ['det', 24, 38],
    ['cls', 18, 0],
    ['rec', 28, 40],
  ] as const)('%s: %d hard-swish as 2 nodes instead of 4, %d affine blocks folded into convs', (role, hardSwish, affine) => {
    const original = readFileSync(paths[role])
    const { bytes, report } = rewriteModel(original)
    expect(report).toEqual({ hardSwish, affineIntoConv: affine })
    const before = opTypes(original)
    const after = opTypes(bytes)
    const n = (ops: string[], op: string) => ops.filter((o) => o === op).length
    expect(n(after, 'HardSigmoid') - n(before, 'HardSigmoid')).toBe(hardSwish)
    expect(n(before, 'Clip') - n(after, 'Clip')).toBe(hardSwish)
    expect(n(before, 'Div') - n(after, 'Div')).toBe(hardSwish)
    expect(n(before, 'Add') - n(after, 'Add')).toBe(hardSwish + affine)
    expect(n(after, 'Conv')).toBe(n(before, 'Conv'))
    // weights are rewritten, not added: the size stays within 1 %
    expect(Math.abs(original.length - bytes.length)).toBeLessThan(original.length / 100)
  })

  let recOriginal: ort.InferenceSession
  let recRewritten: ort.InferenceSession
  beforeAll(async () => {
    const original = readFileSync(paths.rec)
    recOriginal = await load(original)
    recRewritten = await load(rewriteModel(original).bytes)
  })

  it('rec: the same text and per-step probabilities (within 5e-4: float rounding through 40 layers) on rendered lines', async () => {
    const batch = await textLineBatch(['HELLO WORLD 2024', 'Quick brown fox 42', '识别文字 测试'])
    const x = new ort.Tensor('float32', batch.data, batch.dims)
    const a = (await recOriginal.run({ x }))['softmax_11.tmp_0']!
    const b = (await recRewritten.run({ x }))['softmax_11.tmp_0']!
    expect(b.dims).toEqual(a.dims)
    const pa = a.data as Float32Array
    const pb = b.data as Float32Array
    let maxDiff = 0
    for (let i = 0; i < pa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pa[i]! - pb[i]!))
    expect(maxDiff).toBeLessThan(5e-4)
    const [n, steps, classes] = a.dims as [number, number, number]
    for (let j = 0; j < n; j++) {
      const [da, db] = [ctcDecode(pa, steps, classes, j, charset), ctcDecode(pb, steps, classes, j, charset)]
      expect(db.text).toBe(da.text)
      expect(Math.abs(db.score - da.score)).toBeLessThan(1e-4)
    }
    expect(ctcDecode(pb, steps, classes, 0, charset).text).toBe('HELLO WORLD 2024')
  })

  it('det: the same probability map (within 1e-4) on a rendered page', async () => {
    const original = readFileSync(paths.det)
    const [a, b] = [await load(original), await load(rewriteModel(original).bytes)]
    const img = await textImage(['Invoice 2024-11-24', '合计 ¥ 128.00'], 28)
    const { data, info } = await sharp(img.png).removeAlpha().resize(320, 160, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true })
    const t = new Float32Array(3 * info.width * info.height)
    for (let i = 0; i < info.width * info.height; i++) for (let c = 0; c < 3; c++) t[c * info.width * info.height + i] = (data[i * 3 + c]! / 255 - 0.5) / 0.5
    const x = new ort.Tensor('float32', t, [1, 3, info.height, info.width])
    const ma = (await a.run({ x }))[a.outputNames[0]!]!.data as Float32Array
    const mb = (await b.run({ x }))[b.outputNames[0]!]!.data as Float32Array
    let maxDiff = 0
    let text = 0
    for (let i = 0; i < ma.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(ma[i]! - mb[i]!))
      if (ma[i]! > 0.3) text++
    }
    expect(text).toBeGreaterThan(100) // the map does show the text
    expect(maxDiff).toBeLessThan(1e-4)
  })
})
