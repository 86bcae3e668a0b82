/**
 * Graph rewrites that make the shipped PP-OCR models cheaper to run and compute the same function.
 *
 * **Hard-swish.** PP-LCNet / PP-HGNet blocks (detector, recogniser, classifier) use hard-swish,
 * which paddle2onnx exports as four element-wise nodes per activation:
 *
 *   y = Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)        (or Mul(x, Div(Clip(Add(x, 3), 0, 6), 6)))
 *
 * ONNX Runtime fuses none of them on the CPU, and each one is a full pass over the feature map
 * (plus a layout reorder around it when the convolutions run in NCHWc): in the recogniser these
 * nodes took ~30 % of `run()` (ORT's own profiler, 1 thread, a 320 px line). hard-swish(x) =
 * x · hard-sigmoid(x) with hard-sigmoid(x) = max(0, min(1, x/6 + 1/2)), and `HardSigmoid`
 * exists since opset 6, so every match becomes two nodes, `Mul(x, HardSigmoid(x; α=1/6, β=1/2))`,
 * valid in the models' own opsets (9 and 11: `HardSwish` itself needs opset 14, and raising a
 * model's opset changes other operators' semantics). The result differs from the original only
 * by float rounding (clip(x+3)/6 against x/6+1/2: ≤ 2 ulp).
 *
 * **Learnable affine blocks into convolutions.** PP-LCNetV3 (detector and recogniser backbones)
 * follows its convolutions and activations with y = s·x + b, s and b learnt scalars: a `Mul` and
 * an `Add` by a one-element constant, two more passes over the feature map each. ONNX Runtime's
 * Conv–Mul / Conv–Add fusions only take per-channel constants of the conv's channel count, so it
 * fuses none of them (56 + 56 nodes in the recogniser, ~20 % of its kernel time with the
 * reorders). Folded here, exactly up to float rounding:
 *
 *   Conv(x; W, B) → Mul s → Add b     =  Conv(x; s·W, s·B + b)
 *   Mul s → Add b → Conv(·; W, B)     =  Conv(x; s·W, B + b·ΣW)      (only without padding: the
 *                                                                     zeros a padded conv adds are
 *                                                                     not shifted by b)
 *
 * The second form covers the blocks before the pointwise (1×1) convolutions; a block before a
 * padded (depthwise 3×3 / 5×5) convolution is left as it is. Weights must be `Constant` nodes
 * (as in the shipped models); graphs with weights as initializers are left as they are.
 *
 * **How the model is edited.** The wire format is walked with protobufjs's Reader: every field of
 * the model and of its graph is kept as the original bytes (weights included, never decoded)
 * except the graph's `node` entries that a rewrite removes; the new nodes are encoded with the
 * schema subset in proto/onnx.proto and written where the last removed node was, which keeps
 * the node list topologically sorted. Each rewrite is one pass over the model; the passes run in
 * turn (a conv can take a block from either side). Several `graph` occurrences (e.g. rec-reduced.ts's
 * appended nodes) are merged first, as protobuf merges them.
 */
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import protobuf from 'protobufjs'
import { OcrError } from '../errors.js'
import type { Logger } from '../logger.js'
import { derivedModel, type Derivation } from './model-cache.js'
import { ONNX_ATTR, ONNX_DTYPE, ONNX_PROTO_PATH, onnxSchema, type OnnxNode as Node, type OnnxTensor as Tensor } from './onnx-proto.js'

/** Field numbers in onnx.proto. */
export const MODEL_GRAPH = 7
export const GRAPH_NODE = 1
export const GRAPH_INITIALIZER = 5
export const GRAPH_INPUT = 11
export const GRAPH_OUTPUT = 12
const WIRE_LEN = 2
/** Initializers larger than this are weights, not scalar constants: never decoded. */
const SCALAR_MAX_BYTES = 64

const type = (name: string): protobuf.Type => onnxSchema().lookupType(name)

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

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/** The single float value of a tensor of one element, else undefined. */
function scalarOf(t: Tensor | undefined): number | undefined {
  if (!t || (t.data_type ?? ONNX_DTYPE.FLOAT) !== ONNX_DTYPE.FLOAT) return undefined
  if ((t.dims ?? []).reduce((n, d) => n * Number(d), 1) !== 1) return undefined
  if (t.float_data?.length === 1) return t.float_data[0]
  const raw = t.raw_data
  if (raw?.byteLength === 4) return new DataView(raw.buffer, raw.byteOffset, 4).getFloat32(0, true)
  return undefined
}

/** A decoded view of a graph: its nodes, who produces and how many consume each value. */
class GraphView {
  readonly nodes: Node[]
  readonly producer = new Map<string, number>()
  readonly uses = new Map<string, number>()
  readonly scalars = new Map<string, number>()
  /** Names no new value may take: every node output, initializer and graph input/output. */
  readonly taken = new Set<string>()

  constructor(nodes: Node[], initializers: Tensor[], outputs: string[]) {
    this.nodes = nodes
    nodes.forEach((n, i) => {
      for (const o of n.output) this.producer.set(o, i)
      for (const v of n.input) this.uses.set(v, (this.uses.get(v) ?? 0) + 1)
      if (n.op_type === 'Constant' && !n.domain) {
        const v = scalarOf(n.attribute.find((a) => a.name === 'value')?.t)
        if (v !== undefined && n.output[0]) this.scalars.set(n.output[0], v)
      }
    })
    for (const t of initializers) {
      const v = scalarOf(t)
      if (v !== undefined && t.name) this.scalars.set(t.name, v)
    }
    for (const o of outputs) this.uses.set(o, (this.uses.get(o) ?? 0) + 1)
    for (const n of nodes) for (const o of [...n.input, ...n.output]) this.taken.add(o)
    for (const t of initializers) if (t.name) this.taken.add(t.name)
  }

  /** `base`, or `base_2`, `base_3`…: a value name nothing in the graph uses yet (and reserved). */
  fresh(base: string): string {
    let name = base
    for (let k = 2; this.taken.has(name); k++) name = `${base}_${k}`
    this.taken.add(name)
    return name
  }

  /** The float32 contents and dims of `value` if a Constant node makes it, else undefined. */
  constantTensor(value: string | undefined): { data: Float32Array; dims: number[] } | undefined {
    const i = value === undefined ? undefined : this.producer.get(value)
    const n = i === undefined ? undefined : this.nodes[i]
    if (!n || n.op_type !== 'Constant' || n.domain) return undefined
    const t = n.attribute.find((a) => a.name === 'value')?.t
    if (!t || (t.data_type ?? ONNX_DTYPE.FLOAT) !== ONNX_DTYPE.FLOAT) return undefined
    const dims = (t.dims ?? []).map(Number)
    const count = dims.reduce((a, b) => a * b, 1)
    let data: Float32Array
    if (t.raw_data && t.raw_data.byteLength === count * 4) {
      data = new Float32Array(count)
      new Uint8Array(data.buffer).set(t.raw_data) // copied: raw_data need not be 4-byte aligned
    } else if (t.float_data?.length === count) {
      data = Float32Array.from(t.float_data)
    } else {
      return undefined
    }
    return { data, dims }
  }

  /** The node producing `value` if it is a `op` node whose only output is used once. */
  soleUse(value: string | undefined, op: string): Node | undefined {
    if (value === undefined) return undefined
    const i = this.producer.get(value)
    const n = i === undefined ? undefined : this.nodes[i]
    if (!n || n.op_type !== op || n.domain || n.output.length !== 1 || this.uses.get(value) !== 1) return undefined
    return n
  }

  isScalar(value: string | undefined, want: number): boolean {
    const v = value === undefined ? undefined : this.scalars.get(value)
    return v !== undefined && Math.abs(v - want) <= 1e-6 * Math.abs(want)
  }
}

/** A match: the nodes to remove (by index), and the nodes that replace them. */
interface Replacement {
  remove: number[]
  add: Node[]
}

/** Clip(v, 0, 6), with its bounds as attributes (opset < 11) or constant inputs (opset ≥ 11). */
function isClip06(g: GraphView, clip: Node): boolean {
  const attr = (name: string) => clip.attribute.find((a) => a.name === name)?.f
  if (clip.input.length === 1) return attr('min') === 0 && attr('max') === 6
  return clip.input.length === 3 && g.isScalar(clip.input[1], 0) && g.isScalar(clip.input[2], 6)
}

/** `clipOut` = Clip(Add(x, 3), 0, 6) with each intermediate used once: returns x and the nodes. */
function relu6Plus3(g: GraphView, clipOut: string | undefined): { x: string; nodes: Node[] } | undefined {
  const clip = g.soleUse(clipOut, 'Clip')
  if (!clip || !isClip06(g, clip)) return undefined
  const add = g.soleUse(clip.input[0], 'Add')
  if (!add || add.input.length !== 2) return undefined
  const [a, b] = add.input as [string, string]
  const x = g.isScalar(b, 3) ? a : g.isScalar(a, 3) ? b : undefined
  return x === undefined ? undefined : { x, nodes: [add, clip] }
}

function hardSwishAt(g: GraphView, last: Node): Replacement | undefined {
  if (last.domain || last.output.length !== 1) return undefined
  let x: string | undefined
  let matched: Node[] | undefined
  if (last.op_type === 'Div' && g.isScalar(last.input[1], 6)) {
    // Div(Mul(x, Clip(Add(x, 3))), 6)
    const mul = g.soleUse(last.input[0], 'Mul')
    for (const [i, j] of [[0, 1], [1, 0]] as const) {
      const inner = mul && relu6Plus3(g, mul.input[j])
      if (inner && inner.x === mul.input[i]) ({ x, matched } = { x: inner.x, matched: [...inner.nodes, mul] })
    }
  } else if (last.op_type === 'Mul' && last.input.length === 2) {
    // Mul(x, Div(Clip(Add(x, 3)), 6))
    for (const [i, j] of [[0, 1], [1, 0]] as const) {
      const div = g.soleUse(last.input[j], 'Div')
      const inner = div && g.isScalar(div.input[1], 6) ? relu6Plus3(g, div.input[0]) : undefined
      if (inner && inner.x === last.input[i]) ({ x, matched } = { x: inner.x, matched: [...inner.nodes, div!] })
    }
  }
  if (x === undefined || !matched) return undefined
  const out = last.output[0]!
  const hsig = `${out}__ocrserve_hardsigmoid`
  if (g.producer.has(hsig)) return undefined
  return {
    remove: [...matched, last].map((n) => g.nodes.indexOf(n)),
    add: [
      { op_type: 'HardSigmoid', input: [x], output: [hsig], attribute: [{ name: 'alpha', type: ONNX_ATTR.FLOAT, f: 1 / 6 }, { name: 'beta', type: ONNX_ATTR.FLOAT, f: 0.5 }] },
      { op_type: 'Mul', input: [x, hsig], output: [out], attribute: [] },
    ],
  }
}

/** `node` = Mul(v, s) with s a one-element constant (either side): v and s, else undefined. */
function byScalar(g: GraphView, node: Node | undefined, op: 'Mul' | 'Add'): { v: string; k: number } | undefined {
  if (!node || node.op_type !== op || node.domain || node.input.length !== 2) return undefined
  const [a, b] = node.input as [string, string]
  const kb = g.scalars.get(b)
  if (kb !== undefined && !g.scalars.has(a)) return { v: a, k: kb }
  const ka = g.scalars.get(a)
  if (ka !== undefined && !g.scalars.has(b)) return { v: b, k: ka }
  return undefined
}

/** Attributes a Conv may carry that this file can copy (ints, strings, floats). */
const COPYABLE_ATTRS = new Set<number>([ONNX_ATTR.FLOAT, ONNX_ATTR.INT, ONNX_ATTR.STRING, ONNX_ATTR.FLOATS, ONNX_ATTR.INTS])

/** The Conv's weights [O, I/g, kh, kw] and bias [O] (zeros when it has none), if both are constants. */
function convParams(g: GraphView, conv: Node): { w: Float32Array; wDims: number[]; bias: Float32Array } | undefined {
  if (conv.op_type !== 'Conv' || conv.domain || conv.input.length < 2 || conv.output.length !== 1) return undefined
  if (conv.attribute.some((a) => !COPYABLE_ATTRS.has(a.type ?? 0))) return undefined
  const w = g.constantTensor(conv.input[1])
  if (!w || w.dims.length < 3) return undefined
  const outCh = w.dims[0]!
  if (conv.input.length < 3 || !conv.input[2]) return { w: w.data, wDims: w.dims, bias: new Float32Array(outCh) }
  const b = g.constantTensor(conv.input[2])
  if (!b || b.data.length !== outCh) return undefined
  return { w: w.data, wDims: w.dims, bias: b.data }
}

/** A Constant node holding float32 `data` of `dims`. */
function constantNode(name: string, data: Float32Array, dims: number[]): Node {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return { op_type: 'Constant', input: [], output: [name], attribute: [{ name: 'value', type: ONNX_ATTR.TENSOR, t: { dims, data_type: ONNX_DTYPE.FLOAT, raw_data: raw } }] }
}

/** The Conv with new weights and bias (new constants, written just before it). */
function convWith(g: GraphView, conv: Node, input: string, output: string, w: Float32Array, wDims: number[], bias: Float32Array): Node[] {
  const wName = g.fresh(`${output}__ocrserve_w`)
  const bName = g.fresh(`${output}__ocrserve_b`)
  return [
    constantNode(wName, w, wDims),
    constantNode(bName, bias, [bias.length]),
    { op_type: 'Conv', input: [input, wName, bName], output: [output], attribute: conv.attribute },
  ]
}

/** Conv(x; W, B) → Mul s → Add b  ⇒  Conv(x; s·W, s·B + b). `last` is the Add. */
function convThenAffineAt(g: GraphView, last: Node): Replacement | undefined {
  const add = byScalar(g, last, 'Add')
  if (!add || last.output.length !== 1) return undefined
  const mulNode = g.soleUse(add.v, 'Mul')
  const mul = byScalar(g, mulNode, 'Mul')
  if (!mulNode || !mul) return undefined
  const conv = g.soleUse(mul.v, 'Conv')
  const p = conv && convParams(g, conv)
  if (!conv || !p) return undefined
  const w = p.w.map((v) => v * mul.k)
  const bias = p.bias.map((v) => v * mul.k + add.k)
  return {
    remove: [conv, mulNode, last].map((n) => g.nodes.indexOf(n)),
    add: convWith(g, conv, conv.input[0]!, last.output[0]!, w, p.wDims, bias),
  }
}

/** Conv without padding, Conv(·; W, B) fed by Mul s → Add b of x  ⇒  Conv(x; s·W, B + b·ΣW). `last` is the Conv. */
function affineThenConvAt(g: GraphView, last: Node): Replacement | undefined {
  const p = convParams(g, last)
  if (!p) return undefined
  const attr = (name: string) => last.attribute.find((a) => a.name === name)
  const autoPad = attr('auto_pad')?.s
  if (autoPad && !['NOTSET', 'VALID'].includes(Buffer.from(autoPad).toString())) return undefined
  if ((attr('pads')?.ints ?? []).some((v) => Number(v) !== 0)) return undefined
  const addNode = g.soleUse(last.input[0], 'Add')
  const add = byScalar(g, addNode, 'Add')
  if (!addNode || !add) return undefined
  const mulNode = g.soleUse(add.v, 'Mul')
  const mul = byScalar(g, mulNode, 'Mul')
  if (!mulNode || !mul) return undefined
  const outCh = p.wDims[0]!
  const per = p.w.length / outCh
  const bias = new Float32Array(outCh)
  for (let o = 0; o < outCh; o++) {
    let sum = 0
    for (let j = o * per; j < (o + 1) * per; j++) sum += p.w[j]!
    bias[o] = p.bias[o]! + add.k * sum
  }
  const w = p.w.map((v) => v * mul.k)
  return {
    remove: [mulNode, addNode, last].map((n) => g.nodes.indexOf(n)),
    add: convWith(g, last, mul.v, last.output[0]!, w, p.wDims, bias),
  }
}

export interface RewriteReport {
  /** Hard-swish activations rewritten as Mul(x, HardSigmoid(x)). */
  hardSwish: number
  /** Scalar affine blocks (Mul s, Add b) folded into the convolution before or after them. */
  affineIntoConv: number
}

type Matcher = (g: GraphView, node: Node) => Replacement | undefined

/** The rewrites, one pass each, in this order. */
const PASSES: ReadonlyArray<{ counts: keyof RewriteReport; match: Matcher }> = [
  { counts: 'hardSwish', match: hardSwishAt },
  { counts: 'affineIntoConv', match: convThenAffineAt },
  { counts: 'affineIntoConv', match: affineThenConvAt },
]

/**
 * The model `bytes` with the rewrites of the file comment applied, and how many of each were
 * made. A model without any of the patterns comes back as the same bytes.
 */
export function rewriteModel(bytes: Uint8Array): { bytes: Uint8Array; report: RewriteReport } {
  const report: RewriteReport = { hardSwish: 0, affineIntoConv: 0 }
  let out = bytes
  for (const pass of PASSES) {
    const r = applyPass(out, pass.match)
    report[pass.counts] += r.count
    out = r.bytes
  }
  return { bytes: out, report }
}

/** One rewrite over the whole graph: every match of `match`, not overlapping. */
function applyPass(bytes: Uint8Array, match: Matcher): { bytes: Uint8Array; count: number } {
  const N = type('onnx.NodeProto')
  let modelFields: Span[]
  let graphFields: Span[]
  let graphBytes: Uint8Array
  let nodes: Node[]
  const initializers: Tensor[] = []
  const outputs: string[] = []
  try {
    ;({ modelFields, graphBytes } = splitModel(bytes))
    graphFields = fieldsOf(graphBytes)
    const T = type('onnx.TensorProto')
    const V = type('onnx.ValueInfoProto')
    const opts = { longs: Number, arrays: true, defaults: false }
    nodes = graphFields.filter((f) => f.no === GRAPH_NODE).map((f) => N.toObject(N.decode(f.value!), opts) as Node)
    for (const f of graphFields) {
      if (f.no === GRAPH_INITIALIZER && f.end - f.start <= SCALAR_MAX_BYTES) initializers.push(T.toObject(T.decode(f.value!), opts) as Tensor)
      if (f.no === GRAPH_OUTPUT) outputs.push((V.decode(f.value!) as unknown as { name: string }).name)
    }
  } catch (err) {
    throw new OcrError('MODEL_ERROR', `not an ONNX model: ${(err as Error).message}`, { cause: err })
  }
  const g = new GraphView(nodes, initializers, outputs)
  const removed = new Set<number>()
  /** Node index → the nodes written in its place. */
  const insertAt = new Map<number, Node[]>()
  for (const node of nodes) {
    const r = match(g, node)
    if (!r || r.remove.some((i) => removed.has(i) || i < 0)) continue
    for (const i of r.remove) removed.add(i)
    insertAt.set(Math.max(...r.remove), r.add)
  }
  const count = insertAt.size
  if (count === 0) return { bytes, count }
  // the constants (3, 0, 6, old weights) that only the removed nodes read: dropped too (ONNX Runtime warns
  // about every unused one it has to clean up)
  const stillUsed = new Set<string>(outputs)
  nodes.forEach((n, i) => {
    if (!removed.has(i)) for (const v of n.input) stillUsed.add(v)
  })
  for (const added of insertAt.values()) for (const n of added) for (const v of n.input) stillUsed.add(v)
  nodes.forEach((n, i) => {
    if (n.op_type === 'Constant' && !n.domain && g.uses.has(n.output[0] ?? '') && n.output.every((o) => !stillUsed.has(o))) removed.add(i)
  })

  const encodeNode = (n: Node) => lengthDelimited(GRAPH_NODE, N.encode(N.fromObject(n)).finish())
  const graphParts: Uint8Array[] = []
  let nodeIndex = 0
  for (const f of graphFields) {
    if (f.no !== GRAPH_NODE) {
      graphParts.push(graphBytes.subarray(f.start, f.end))
      continue
    }
    const i = nodeIndex++
    const add = insertAt.get(i)
    if (add) graphParts.push(...add.map(encodeNode))
    else if (!removed.has(i)) graphParts.push(graphBytes.subarray(f.start, f.end))
  }
  return { bytes: joinModel(bytes, modelFields, concat(graphParts)), count }
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

/** The model file at `path`, rewritten (see rewriteModel); what changed is logged at debug level. */
export async function readRewrittenModel(path: string, logger?: Logger): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new OcrError('MODEL_ERROR', `cannot read model ${path}: ${(err as Error).message}`, { cause: err })
  }
  const { bytes: out, report } = rewriteModel(bytes)
  logger?.debug({ model: path, ...report }, 'model graph rewritten')
  return out
}

/** The rewrite as a cached derivation: this file, the schema's code and the schema decide its output. */
const REWRITE: Derivation = {
  name: 'rewritten',
  code: [new URL(import.meta.url), new URL(`./onnx-proto${extname(fileURLToPath(import.meta.url))}`, import.meta.url), pathToFileURL(ONNX_PROTO_PATH)],
  derive: (bytes) => rewriteModel(bytes).bytes,
}

/**
 * What to hand ONNX Runtime for the model at `path`: its rewritten bytes (kept on disk between runs
 * by model-cache.ts), or the path itself when `rewrite` is off. The engine and the bench's
 * model-only floor both load models through this.
 */
export async function localModelSource(path: string, rewrite: boolean, logger?: Logger): Promise<string | Uint8Array> {
  return rewrite ? derivedModel(path, REWRITE, logger ? { logger } : {}) : path
}
