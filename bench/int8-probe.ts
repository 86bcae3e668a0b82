/**
 * Would int8 networks be faster on this CPU? Builds an int8 (QDQ) version of each network as
 * ocrserve loads it (graph rewrites applied) and times it against the float32 graph, interleaved.
 *
 *   node --import tsx bench/int8-probe.ts [--runs 8] [--skip-depthwise]
 *
 * The int8 graph is ONNX Runtime's QDQ form, which its optimiser fuses into QLinearConv kernels:
 * every Conv gets QuantizeLinear → DequantizeLinear on its input and output, int8 weights (one
 * scale per tensor) behind a DequantizeLinear, and an int32 bias. `--skip-depthwise` leaves the
 * depthwise convolutions in float. The scales are fixed, not calibrated: this measures speed only
 * (int8 kernels take the same time whatever the values), so the int8 outputs are meaningless. It
 * is the upper bound of what post-training quantisation could gain; calibration and an accuracy
 * check would only come after a speed-up worth having. The script prints how many QLinearConv
 * nodes ONNX Runtime's optimised graph holds, to show the fusion happened.
 *
 * QLinearConv needs opset 10, and the classifier's and recogniser's graphs are opset 9, so those are
 * raised to 10; the one operator that changed between 9 and 10 in them, Slice, gets its starts,
 * ends and axes as inputs instead of attributes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import type { ModelRole } from '../src/inference/backend.js'
import { resolveModelPaths } from '../src/models/assets.js'
import { rewriteModel } from '../src/models/onnx/graph-rewrite.js'
import { ONNX_ATTR, ONNX_DTYPE, onnxSchema, type OnnxNode as Node, type OnnxTensor as Tensor } from '../src/models/onnx/onnx-proto.js'
import { markdownTable } from './lib/stats.js'

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '8' }, 'skip-depthwise': { type: 'boolean', default: false } } })
const RUNS = Number(args.runs)
const SHAPES: Record<ModelRole, number[]> = { det: [1, 3, 736, 960], cls: [6, 3, 48, 192], rec: [1, 3, 48, 320] }
/** Activation scale and zero point for every quantised tensor (timing only, see above). */
const ACT_SCALE = 0.05
const ACT_ZERO = 128
const INT8 = 3

const constant = (name: string, dataType: number, dims: number[], raw: Uint8Array): Node => ({
  op_type: 'Constant',
  input: [],
  output: [name],
  attribute: [{ name: 'value', type: ONNX_ATTR.TENSOR, t: { dims, data_type: dataType, raw_data: raw } }],
})
const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
const floats = (t: Tensor): Float32Array => {
  const out = new Float32Array(t.raw_data!.byteLength / 4)
  bytes(out).set(t.raw_data!)
  return out
}

/** The QDQ int8 form of `model` (a decoded ModelProto), and how many convolutions it quantised. */
function quantise(model: { opset_import: Array<{ domain?: string; version: number }>; graph: { node: Node[] } }, skipDepthwise: boolean): number {
  const nodes = model.graph.node
  const constants = new Map<string, Tensor>()
  for (const n of nodes) if (n.op_type === 'Constant') constants.set(n.output[0]!, n.attribute.find((a) => a.name === 'value')!.t!)
  const out: Node[] = []
  const dequantised = new Map<string, string>()
  /** `x` through QuantizeLinear → DequantizeLinear (once per tensor), as the fusion wants it. */
  const qdq = (x: string): string => {
    const known = dequantised.get(x)
    if (known) return known
    const [s, z, q, dq] = [`${x}__s`, `${x}__z`, `${x}__q`, `${x}__dq`]
    out.push(constant(s, ONNX_DTYPE.FLOAT, [], bytes(new Float32Array([ACT_SCALE]))), constant(z, ONNX_DTYPE.UINT8, [], new Uint8Array([ACT_ZERO])))
    out.push({ op_type: 'QuantizeLinear', input: [x, s, z], output: [q], attribute: [] }, { op_type: 'DequantizeLinear', input: [q, s, z], output: [dq], attribute: [] })
    dequantised.set(x, dq)
    return dq
  }
  const opset = model.opset_import.find((o) => !o.domain)!
  const raiseOpset = opset.version < 10
  let count = 0
  for (const n of nodes) {
    if (raiseOpset && n.op_type === 'Slice' && n.input.length === 1) {
      const attr = (k: string) => n.attribute.find((a) => a.name === k)?.ints?.map(Number)
      const starts = attr('starts')!
      const ends = attr('ends')!.map((e) => Math.min(e, 2 ** 62))
      const axes = attr('axes') ?? starts.map((_, i) => i)
      const y = n.output[0]!
      const names = [`${y}__starts`, `${y}__ends`, `${y}__axes`]
      ;[starts, ends, axes].forEach((v, k) => out.push(constant(names[k]!, ONNX_DTYPE.INT64, [v.length], bytes(new BigInt64Array(v.map(BigInt))))))
      out.push({ ...n, input: [n.input[0]!, ...names], attribute: [] })
      continue
    }
    const w = n.op_type === 'Conv' ? constants.get(n.input[1]!) : undefined
    const group = n.attribute.find((a) => a.name === 'group')?.i ?? 1
    if (!w || (skipDepthwise && Number(group) > 1)) {
      out.push(n)
      continue
    }
    count++
    const wf = floats(w)
    const wScale = wf.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127 || 1
    const wq = Int8Array.from(wf, (v) => Math.round(v / wScale))
    const W = `${n.input[1]}__int8`
    out.push(constant(W, INT8, w.dims!.map(Number), bytes(wq)), constant(`${W}_s`, ONNX_DTYPE.FLOAT, [], bytes(new Float32Array([wScale]))), constant(`${W}_z`, INT8, [], new Uint8Array([0])))
    out.push({ op_type: 'DequantizeLinear', input: [W, `${W}_s`, `${W}_z`], output: [`${W}_dq`], attribute: [] })
    const inputs = [qdq(n.input[0]!), `${W}_dq`]
    const bias = n.input[2] ? constants.get(n.input[2]) : undefined
    if (bias) {
      const B = `${n.input[2]}__int32`
      const bScale = ACT_SCALE * wScale
      out.push(constant(B, ONNX_DTYPE.INT32, [Number(bias.dims![0])], bytes(Int32Array.from(floats(bias), (v) => Math.round(v / bScale)))))
      out.push(constant(`${B}_s`, ONNX_DTYPE.FLOAT, [], bytes(new Float32Array([bScale]))), constant(`${B}_z`, ONNX_DTYPE.INT32, [], new Uint8Array(4)))
      out.push({ op_type: 'DequantizeLinear', input: [B, `${B}_s`, `${B}_z`], output: [`${B}_dq`], attribute: [] })
      inputs.push(`${B}_dq`)
    }
    const y = n.output[0]!
    out.push({ ...n, input: inputs, output: [`${y}__float`] })
    const [s, z] = [`${y}__os`, `${y}__oz`]
    out.push(constant(s, ONNX_DTYPE.FLOAT, [], bytes(new Float32Array([ACT_SCALE]))), constant(z, ONNX_DTYPE.UINT8, [], new Uint8Array([ACT_ZERO])))
    out.push({ op_type: 'QuantizeLinear', input: [`${y}__float`, s, z], output: [`${y}__oq`], attribute: [] }, { op_type: 'DequantizeLinear', input: [`${y}__oq`, s, z], output: [y], attribute: [] })
    // a convolution reading y directly reads it already quantised
    dequantised.set(y, y)
  }
  model.graph.node = out
  if (raiseOpset) opset.version = 10
  return count
}

const M = onnxSchema().lookupType('onnx.ModelProto')
const dir = mkdtempSync(join(os.tmpdir(), 'ocrserve-int8-'))
const rows: string[][] = []
try {
  for (const role of ['det', 'cls', 'rec'] as const) {
    const float = rewriteModel(readFileSync(resolveModelPaths()[role])).bytes
    const model = M.toObject(M.decode(float), { longs: Number, arrays: true, defaults: false }) as Parameters<typeof quantise>[0]
    const convs = quantise(model, args['skip-depthwise'])
    const int8 = M.encode(M.fromObject(model)).finish()
    const optimised = join(dir, `${role}-int8-optimised.onnx`)
    const options = (extra: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions => ({
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      logSeverityLevel: 3,
      ...extra,
    })
    const sessions = { float: await ort.InferenceSession.create(float, options()), int8: await ort.InferenceSession.create(int8, options({ optimizedModelFilePath: optimised })) }
    const fused = (M.toObject(M.decode(readFileSync(optimised)), { arrays: true }) as { graph: { node: Node[] } }).graph.node.filter((n) => n.op_type === 'QLinearConv').length
    const shape = SHAPES[role]
    const x = new ort.Tensor('float32', Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37) * 0.9), shape)
    const ms = { float: 0, int8: 0 }
    for (const s of Object.values(sessions)) await s.run({ [s.inputNames[0]!]: x })
    for (let r = 0; r < RUNS; r++) {
      for (const [name, s] of Object.entries(sessions) as Array<[keyof typeof ms, ort.InferenceSession]>) {
        const t0 = performance.now()
        await s.run({ [s.inputNames[0]!]: x })
        ms[name] += performance.now() - t0
      }
    }
    for (const s of Object.values(sessions)) await s.release()
    rows.push([role, shape.join('×'), String(convs), String(fused), (ms.float / RUNS).toFixed(1), (ms.int8 / RUNS).toFixed(1), (ms.int8 / ms.float).toFixed(3)])
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.stdout.write(
  `\n### float32 vs int8 (QDQ${args['skip-depthwise'] ? ', depthwise convolutions left in float' : ''}), ${RUNS} interleaved runs, 1 ORT thread, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n` +
    markdownTable(['network', 'input', 'convs quantised', 'QLinearConv after optimisation', 'float32 ms/run', 'int8 ms/run', 'ratio'], rows) +
    '\n',
)
