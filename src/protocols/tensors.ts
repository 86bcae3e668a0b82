/**
 * Tensors on the wire: as little-endian bytes (KServe binary extension, gRPC raw contents) and as
 * JSON numbers (KServe JSON data, TF Serving lists), and which received buffers a tensor owns alone
 * (so that the model server may transfer rather than copy them to a worker thread).
 */
import { endianness } from 'node:os'
import { OcrError } from '../errors.js'
import { elementCount, type Tensor, type TensorType } from '../inference/backend.js'
import { DATATYPES } from './datatypes.js'

const LITTLE_ENDIAN_HOST = endianness() === 'LE'

type TypedArrayCtor = Float32ArrayConstructor | BigInt64ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor
const ARRAYS: Record<TensorType, TypedArrayCtor> = {
  float32: Float32Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
}

/** Element count for dims, rejecting negative or non-integer dimensions. */
export function checkedElementCount(dims: readonly number[], what: string): number {
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new OcrError('BAD_REQUEST', `${what}: invalid shape [${dims.join(', ')}]`)
  }
  return elementCount(dims)
}

/** The tensor's elements as little-endian bytes (a view when the host is little-endian). */
export function tensorToBytes(t: Tensor): Buffer {
  const view = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)
  if (LITTLE_ENDIAN_HOST) return view
  const size = DATATYPES[t.type].bytes
  const out = Buffer.from(view)
  if (size === 4) out.swap32()
  else if (size === 8) out.swap64()
  return out
}

/**
 * Buffers allocated for one received message alone (a body gathered for it, a tensor's aligned
 * copy). A tensor over one may be handed to another thread by transfer instead of copy (the model
 * server's pool does), once; any other buffer (a view into a gRPC message, whose memory Node may
 * share between buffers; a caller's array) must be copied first.
 */
const exclusiveBuffers = new WeakSet<ArrayBuffer>()

export function markExclusive(buffer: ArrayBuffer): void {
  exclusiveBuffers.add(buffer)
}

/** True (once) if nothing but the tensors over `buffer` will read it: it may be transferred. */
export function takeExclusive(buffer: ArrayBufferLike): buffer is ArrayBuffer {
  if (!(buffer instanceof ArrayBuffer) || !exclusiveBuffers.has(buffer)) return false
  exclusiveBuffers.delete(buffer)
  return true
}

/**
 * A tensor over little-endian bytes. The byte length must match dims × element size. Reuses the
 * memory when it is suitably aligned, copies otherwise (into a buffer of its own: markExclusive).
 */
export function tensorFromBytes(type: TensorType, dims: number[], bytes: Uint8Array, what: string): Tensor {
  const size = DATATYPES[type].bytes
  const count = checkedElementCount(dims, what)
  if (bytes.byteLength !== count * size) {
    throw new OcrError('BAD_REQUEST', `${what}: ${bytes.byteLength} bytes of data for shape [${dims.join(', ')}] ${DATATYPES[type].kserve} (expected ${count * size})`)
  }
  const Ctor = ARRAYS[type]
  let src = bytes
  if (!LITTLE_ENDIAN_HOST && size > 1) {
    const copy = Buffer.from(bytes)
    if (size === 4) copy.swap32()
    else copy.swap64()
    src = copy
  }
  if (src.byteOffset % size === 0) {
    return { type, dims, data: new Ctor(src.buffer as ArrayBuffer, src.byteOffset, count) }
  }
  const aligned = new Uint8Array(count * size)
  aligned.set(src)
  markExclusive(aligned.buffer)
  return { type, dims, data: new Ctor(aligned.buffer, 0, count) }
}

/** A tensor from plain JSON numbers (KServe JSON data, TF Serving lists, gRPC typed contents). */
export function tensorFromValues(type: TensorType, dims: number[], values: ArrayLike<unknown>, what: string): Tensor {
  const count = checkedElementCount(dims, what)
  if (values.length !== count) {
    throw new OcrError('BAD_REQUEST', `${what}: ${values.length} values for shape [${dims.join(', ')}] (expected ${count})`)
  }
  if (type === 'int64') {
    const data = new BigInt64Array(count)
    for (let i = 0; i < count; i++) {
      const v = values[i]
      if (typeof v === 'bigint') data[i] = v
      else if (typeof v === 'number' && Number.isInteger(v)) data[i] = BigInt(v)
      else if (typeof v === 'string' && /^-?\d+$/.test(v)) data[i] = BigInt(v)
      else throw new OcrError('BAD_REQUEST', `${what}: element ${i} is not an integer`)
    }
    return { type, dims, data }
  }
  const Ctor = ARRAYS[type] as Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor
  const data = new Ctor(count)
  const integral = type !== 'float32'
  for (let i = 0; i < count; i++) {
    const raw = values[i]
    const v = typeof raw === 'boolean' ? Number(raw) : raw
    if (typeof v !== 'number' || (integral && !Number.isInteger(v))) {
      throw new OcrError('BAD_REQUEST', `${what}: element ${i} is not ${integral ? 'an integer' : 'a number'}`)
    }
    data[i] = v
  }
  return { type, dims, data }
}

/** The elements as JSON-safe numbers (int64 beyond 2^53 loses precision, as in any JSON client). */
export function tensorValues(t: Tensor): number[] {
  const out = new Array<number>(t.data.length)
  const d = t.data
  for (let i = 0; i < d.length; i++) out[i] = Number(d[i])
  return out
}

/**
 * Flattens a (possibly nested) JSON array into its elements and its shape, checking that it is
 * rectangular. A scalar has shape [].
 */
export function flattenNested(value: unknown, what: string): { values: unknown[]; shape: number[] } {
  const shape: number[] = []
  let probe: unknown = value
  while (Array.isArray(probe)) {
    shape.push(probe.length)
    if (probe.length === 0) break
    probe = probe[0]
  }
  const values: unknown[] = []
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new OcrError('BAD_REQUEST', `${what}: ragged nested list`)
      values.push(v)
      return
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw new OcrError('BAD_REQUEST', `${what}: ragged nested list`)
    for (const x of v) walk(x, depth + 1)
  }
  walk(value, 0)
  return { values, shape }
}

/** A nested JSON list as a tensor of `type` (shape from the nesting). */
export function tensorFromNested(value: unknown, type: TensorType, what: string): Tensor {
  const { values, shape } = flattenNested(value, what)
  return tensorFromValues(type, shape, values, what)
}

/** Row i of a batched tensor (dims without the batch dimension), a view on its data. */
export function tensorRow(t: Tensor, i: number): Tensor {
  const dims = t.dims.slice(1)
  const size = elementCount(dims)
  return { type: t.type, dims, data: t.data.subarray(i * size, (i + 1) * size) as Tensor['data'] }
}
