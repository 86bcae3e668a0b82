/**
 * The recogniser's two output forms: the softmax ([n, steps, classes]) decoded by ctcDecode, and
 * the reduced model's argmax/maxprob ([n, steps]) decoded by ctcDecodeBest must give the same text
 * and score, on hand-made tables and on the real PP-OCRv4 recogniser reading rendered lines.
 */
import { readFileSync } from 'node:fs'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveModelPaths } from '../../src/models/assets.js'
import { ctcCharset, readDictionary } from '../../src/packs/spec.js'
import { REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT, ctcDecode, ctcDecodeBest, hasReducedRecOutputs } from '../../src/models/rec-ctc.js'
import { localModelSource } from '../../src/models/onnx/model-file.js'
import { deriveReducedRecModel, readOnnxModelInfo } from '../../src/models/onnx/rec-reduced.js'
import { textLineBatch } from '../helpers/images.js'

/** Arg-max and max per step of a [n, steps, classes] table, as the reduced model computes them. */
function reduce(probs: Float32Array, n: number, steps: number, classes: number): { index: BigInt64Array; prob: Float32Array } {
  const index = new BigInt64Array(n * steps)
  const prob = new Float32Array(n * steps)
  for (let i = 0; i < n * steps; i++) {
    let best = 0
    for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + best]!) best = c
    index[i] = BigInt(best)
    prob[i] = probs[i * classes + best]!
  }
  return { index, prob }
}

describe('ctcDecodeBest (argmax/maxprob form) equals ctcDecode (softmax form)', () => {
  const charset = ['', 'a', 'b', 'c']
  // 2 samples × 6 steps × 4 classes; rows are per-step distributions
  const rows = [
    // "a a _ a b b" → "aab"; a tie between b and c at the last step goes to b (first index)
    [0.1, 0.7, 0.1, 0.1], [0.1, 0.8, 0.05, 0.05], [0.9, 0.05, 0.03, 0.02], [0.2, 0.6, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.4, 0.4],
    // all blank → "" with score 0
    [0.9, 0.05, 0.03, 0.02], [0.8, 0.1, 0.05, 0.05], [0.7, 0.1, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1], [0.9, 0.05, 0.03, 0.02], [0.5, 0.2, 0.2, 0.1],
  ]
  const probs = Float32Array.from(rows.flat())
  const { index, prob } = reduce(probs, 2, 6, 4)

  it.each([0, 1])('sample %d', (sample) => {
    const a = ctcDecode(probs, 6, 4, sample, charset)
    const b = ctcDecodeBest(index, prob, 6, sample, charset)
    expect(b).toEqual(a)
  })

  it('gives the same characters and steps as the softmax form on random tables (property)', () => {
    let seed = 11
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let trial = 0; trial < 50; trial++) {
      const n = 3
      const steps = 5 + Math.floor(rnd() * 60)
      const classes = 2 + Math.floor(rnd() * 8)
      const table = new Float32Array(n * steps * classes)
      for (let r = 0; r < n * steps; r++) {
        // a softmax-like row: blank-heavy, with runs of the same class now and then
        const row = Array.from({ length: classes }, (_, c) => (c === 0 ? 2 : 0) + rnd() * 3)
        const sum = row.reduce((a, b) => a + Math.exp(b), 0)
        row.forEach((v, c) => (table[r * classes + c] = Math.exp(v) / sum))
      }
      const chars = ['', ...Array.from({ length: classes - 1 }, (_, i) => String.fromCharCode(97 + i))]
      const reduced = reduce(table, n, steps, classes)
      for (let j = 0; j < n; j++) expect(ctcDecodeBest(reduced.index, reduced.prob, steps, j, chars)).toEqual(ctcDecode(table, steps, classes, j, chars))
    }
  })

  it('decodes the table as PaddleOCR does', () => {
    expect(ctcDecodeBest(index, prob, 6, 0, charset).text).toBe('aab')
    expect(ctcDecodeBest(index, prob, 6, 0, charset).score).toBeCloseTo((0.7 + 0.6 + 0.7) / 3, 6)
    expect(ctcDecodeBest(index, prob, 6, 1, charset)).toEqual({ text: '', score: 0, chars: [], steps: 6 })
  })

  it('accepts int32 indices and rejects indices outside the dictionary', () => {
    const d = ctcDecodeBest(Int32Array.from([1, 1, 0, 2]), Float32Array.from([0.5, 0.5, 0.9, 0.75]), 4, 0, charset)
    expect(d).toEqual({
      text: 'ab',
      score: 0.625,
      chars: [
        { cls: 1, start: 0, end: 2, prob: 0.5 },
        { cls: 2, start: 3, end: 4, prob: 0.75 },
      ],
      steps: 4,
    })
    expect(() => ctcDecodeBest(BigInt64Array.from([1n, 7n]), Float32Array.from([0.5, 0.5]), 2, 0, charset)).toThrow(/outside the dictionary/)
  })

  it('hasReducedRecOutputs needs both outputs', () => {
    expect(hasReducedRecOutputs(['softmax_11.tmp_0', REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT])).toBe(true)
    expect(hasReducedRecOutputs(['softmax_11.tmp_0', REC_ARGMAX_OUTPUT])).toBe(false)
    expect(hasReducedRecOutputs(['softmax_11.tmp_0'])).toBe(false)
  })
})

describe('deriveReducedRecModel on the PP-OCRv4 recogniser', () => {
  const paths = resolveModelPaths()
  const original = readFileSync(paths.rec)
  const charset = ctcCharset(readDictionary(readFileSync(paths.keys, 'utf8')), true)
  let derived: Uint8Array
  let softmaxSession: ort.InferenceSession
  let reducedSession: ort.InferenceSession

  beforeAll(async () => {
    derived = deriveReducedRecModel(original)
    const opts = { intraOpNumThreads: 1, graphOptimizationLevel: 'all' as const }
    softmaxSession = await ort.InferenceSession.create(original, opts)
    reducedSession = await ort.InferenceSession.create(derived, opts)
  })
  afterAll(async () => {
    await softmaxSession?.release()
    await reducedSession?.release()
  })

  it('adds argmax (int64) and maxprob (float32) [n, steps] outputs and keeps the softmax', () => {
    expect(reducedSession.inputNames).toEqual(['x'])
    expect(reducedSession.outputNames).toEqual(['softmax_11.tmp_0', REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT])
    const info = readOnnxModelInfo(derived)
    expect(info.opset).toBe(9)
    const byName = Object.fromEntries(info.outputs.map((o) => [o.name, o.type?.tensor_type]))
    expect(byName[REC_ARGMAX_OUTPUT]?.elem_type).toBe(7)
    expect(byName[REC_MAXPROB_OUTPUT]?.elem_type).toBe(1)
    expect(byName[REC_ARGMAX_OUTPUT]?.shape?.dim).toHaveLength(2)
    // the original bytes are a prefix: the weights are not rewritten
    expect(Buffer.from(derived.subarray(0, original.length)).equals(original)).toBe(true)
    expect(derived.length - original.length).toBeLessThan(1024)
  })

  it('is idempotent and rejects what is not a recogniser', () => {
    expect(deriveReducedRecModel(derived)).toBe(derived)
    expect(() => deriveReducedRecModel(readFileSync(paths.det))).toThrow(/float32 \[n, steps, classes\]/)
    expect(() => deriveReducedRecModel(Buffer.from('not a model at all'))).toThrow(/not an ONNX model/)
  })

  it('reads rendered lines to the same text and score in both forms', async () => {
    const batch = await textLineBatch(['HELLO WORLD 2024', 'Quick brown fox 42', '识别文字 测试'])
    const x = new ort.Tensor('float32', batch.data, batch.dims)
    const soft = (await softmaxSession.run({ x }))['softmax_11.tmp_0']!
    const red = await reducedSession.run({ x }, [REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT])
    const [n, steps, classes] = soft.dims as [number, number, number]
    expect(red[REC_ARGMAX_OUTPUT]!.dims).toEqual([n, steps])
    const index = red[REC_ARGMAX_OUTPUT]!.data as BigInt64Array
    const prob = red[REC_MAXPROB_OUTPUT]!.data as Float32Array
    const texts: string[] = []
    for (let j = 0; j < n; j++) {
      const a = ctcDecode(soft.data as Float32Array, steps, classes, j, charset)
      const b = ctcDecodeBest(index, prob, steps, j, charset)
      expect(b).toEqual(a)
      texts.push(b.text)
    }
    expect(texts[0]).toBe('HELLO WORLD 2024')
  })
})

describe('local sessions load the recogniser reduced (localModelSource)', () => {
  const paths = resolveModelPaths()
  const outputsOf = (model: string | Uint8Array): string[] => {
    expect(model).toBeInstanceOf(Uint8Array)
    return readOnnxModelInfo(model as Uint8Array).outputs.map((o) => o.name)
  }

  it('a rewritten recogniser has argmax and maxprob beside its softmax; the other roles keep their outputs', async () => {
    expect(outputsOf(await localModelSource(paths.rec, true, undefined, 'rec'))).toEqual(['softmax_11.tmp_0', REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT])
    expect(outputsOf(await localModelSource(paths.rec, true))).toEqual(['softmax_11.tmp_0'])
    expect(outputsOf(await localModelSource(paths.det, true, undefined, 'det'))).toHaveLength(1)
    expect(outputsOf(await localModelSource(paths.cls, true, undefined, 'cls'))).toHaveLength(1)
  })

  it('a "recogniser" whose output is not [n, steps, classes] loads as rewritten, without them', async () => {
    // the detector's output is [n, 1, H, W]: deriveReducedRecModel refuses it
    expect(outputsOf(await localModelSource(paths.det, true, undefined, 'rec'))).toEqual(outputsOf(await localModelSource(paths.det, true, undefined, 'det')))
  })

  it('modelRewrite off: the file as it is (its path)', async () => {
    expect(await localModelSource(paths.rec, false, undefined, 'rec')).toBe(paths.rec)
  })
})
