/**
 * Compact model inputs (src/models/onnx/compact-input.ts): the real det, cls and rec models, rewritten to
 * take uint8 `pixels` (and `pixels_valid`), must compute exactly what the float32 models compute
 * from the tensors ocrserve packs, bit for bit, padding included; and the uint8 packers must hold
 * the pixels the float packers normalise.
 */
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RgbImage } from '../../src/image/image.js'
import { packDetInput, packDetPixels, packRecBatch, packRecPixels, recResizedWidth } from '../../src/image/tensor.js'
import { DET_LAYOUT, REC_LAYOUT } from '../helpers/images.js'
import { resolveModelPaths } from '../../src/models/assets.js'
import { PIXELS_INPUT, PIXELS_VALID_INPUT, hasCompactInput } from '../../src/inference/model-io.js'
import { deriveCompactInputModel } from '../../src/models/onnx/compact-input.js'
import { readRewrittenModel } from '../../src/models/onnx/model-file.js'
import { readOnnxModelInfo } from '../../src/models/onnx/rec-reduced.js'
import type { ModelRole } from '../../src/inference/backend.js'
import { firstDiff } from '../helpers/arrays.js'
import { LEGACY_NORMS } from '../../src/packs/load.js'

/** A textured image (every channel value 0–255 occurs). */
function texture(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 7) * seed + seed) & 255
  return { width, height, data }
}

const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1 }
const sessions = {} as Record<ModelRole, { float: ort.InferenceSession; compact: ort.InferenceSession; compactBytes: Uint8Array }>

beforeAll(async () => {
  const paths = resolveModelPaths()
  for (const role of ['det', 'cls', 'rec'] as const) {
    const bytes = await readRewrittenModel(paths[role])
    const compactBytes = deriveCompactInputModel(bytes, role === 'det' ? LEGACY_NORMS.det : LEGACY_NORMS.line, role !== 'det')
    sessions[role] = { float: await ort.InferenceSession.create(bytes, opts), compact: await ort.InferenceSession.create(compactBytes, opts), compactBytes }
  }
}, 60_000)

afterAll(async () => {
  for (const s of Object.values(sessions)) {
    await s.float.release()
    await s.compact.release()
  }
})

describe('compact-input models', () => {
  it('take uint8 pixels (and the column mask for line models) instead of the float input x', () => {
    expect(sessions.det.compact.inputNames).toEqual([PIXELS_INPUT])
    expect(sessions.cls.compact.inputNames).toEqual([PIXELS_INPUT, PIXELS_VALID_INPUT])
    expect(sessions.rec.compact.inputNames).toEqual([PIXELS_INPUT, PIXELS_VALID_INPUT])
    expect(hasCompactInput(sessions.rec.compact.inputNames)).toBe(true)
    expect(hasCompactInput(sessions.rec.float.inputNames)).toBe(false)
    const info = readOnnxModelInfo(sessions.rec.compactBytes)
    expect(info.inputs.map((i) => [i.name, i.type?.tensor_type?.elem_type])).toEqual([[PIXELS_INPUT, 2], [PIXELS_VALID_INPUT, 2]])
  })

  it('a model that already takes pixels comes back as it is', () => {
    const b = sessions.det.compactBytes
    expect(deriveCompactInputModel(b, LEGACY_NORMS.det, false)).toBe(b)
  })

  it('the detector computes the same map, bit for bit', async () => {
    const img = texture(300, 90, 3)
    const [w, h] = [320, 96]
    const a = await sessions.det.float.run({ x: new ort.Tensor('float32', packDetInput(img, w, h, DET_LAYOUT), [1, 3, h, w]) })
    const b = await sessions.det.compact.run({ [PIXELS_INPUT]: new ort.Tensor('uint8', packDetPixels(img, w, h, 'BGR'), [1, 3, h, w]) })
    const name = sessions.det.float.outputNames[0]!
    expect(b[name]!.dims).toEqual([1, 1, h, w])
    expect(firstDiff(a[name]!.data as Float32Array, b[name]!.data as Float32Array)).toBe(-1)
  })

  it.each(['cls', 'rec'] as const)('%s: a padded batch of lines gives the same outputs, bit for bit', async (role) => {
    // three lines of different widths in one batch: the narrower ones are zero-padded
    const lines = [texture(400, 40, 1), texture(120, 30, 5), texture(60, 48, 9)]
    const W = role === 'cls' ? 192 : 512
    const x = packRecBatch(lines, 48, W, REC_LAYOUT)
    const { pixels, valid } = packRecPixels(lines, 48, W, 'BGR')
    const a = await sessions[role].float.run({ x: new ort.Tensor('float32', x, [3, 3, 48, W]) })
    const b = await sessions[role].compact.run({
      [PIXELS_INPUT]: new ort.Tensor('uint8', pixels, [3, 3, 48, W]),
      [PIXELS_VALID_INPUT]: new ort.Tensor('uint8', valid, [3, 1, 1, W]),
    })
    for (const name of sessions[role].float.outputNames) expect(firstDiff(a[name]!.data as Float32Array, b[name]!.data as Float32Array), name).toBe(-1)
  })
})

describe('uint8 packers', () => {
  it('hold the pixels the float packers normalise, and mark the columns each line fills', () => {
    const lines = [texture(200, 40, 2), texture(50, 40, 4)]
    const [H, W] = [48, 256]
    const x = packRecBatch(lines, H, W, REC_LAYOUT)
    const { pixels, valid } = packRecPixels(lines, H, W, 'BGR')
    lines.forEach((img, n) => {
      const w = recResizedWidth(img, H, W)
      expect([...valid.subarray(n * W, (n + 1) * W)]).toEqual(Array.from({ length: W }, (_, c) => (c < w ? 1 : 0)))
    })
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / (H * W)) % 3
      const col = i % W
      const n = Math.floor(i / (3 * H * W))
      const want = valid[n * W + col] === 1 ? REC_LAYOUT.luts[c]![pixels[i]!]! : 0
      if (x[i] !== want) expect({ i, got: x[i], want }).toBeNull()
    }
    const det = texture(90, 70, 7)
    const dx = packDetInput(det, 64, 32, DET_LAYOUT)
    const dp = packDetPixels(det, 64, 32, 'BGR')
    expect(firstDiff(dx, Float32Array.from(dp, (v, i) => DET_LAYOUT.luts[Math.floor(i / (64 * 32))]![v]!))).toBe(-1)
  })
})
