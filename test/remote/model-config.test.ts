/**
 * config.pbtxt: the text-format parser, the ModelConfig reader, and the shipped
 * deploy/triton/models configs checked against the real ONNX models' inputs and outputs.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, describe, expect, it } from 'vitest'
import { REPOSITORY_MODELS, repositoryModelBytes } from '../../src/cli/models-repo.js'
import type { ModelRole } from '../../src/inference/backend.js'
import { ModelConfigError, instanceCount, parseModelConfig, selectVersions, type VersionPolicy } from '../../src/model-server/model-config.js'
import { PbtxtError, parsePbtxt, type PbMessage } from '../../src/model-server/pbtxt.js'
import { scanRepository, validateInputs } from '../../src/model-server/repository.js'

const REPO = new URL('../../deploy/triton/models/', import.meta.url)

describe('protobuf text format parser', () => {
  it('parses the forms Triton configs use', () => {
    const msg = parsePbtxt(`
      # comment
      name: "m" platform: 'onnxruntime_onnx'
      max_batch_size: 8
      input [ { name: "a", data_type: TYPE_FP32, dims: [ 3, -1 ] }, { name: "b" data_type: TYPE_INT64 dims: 1 dims: 2 } ]
      dynamic_batching { max_queue_delay_microseconds: 100; preferred_batch_size: [ 4, 8 ] }
      instance_group < count: 2 kind: KIND_CPU >
      parameters: { key: "x" value: { string_value: "a\\"b\\n" } }
      ratio: -1.5e2
      flag: true
    `)
    const f = (m: PbMessage, k: string) => m.fields.get(k)!
    expect(f(msg, 'name')).toEqual([{ kind: 'string', value: 'm' }])
    expect(f(msg, 'platform')).toEqual([{ kind: 'string', value: 'onnxruntime_onnx' }])
    const inputs = f(msg, 'input') as PbMessage[]
    expect(inputs).toHaveLength(2)
    expect(f(inputs[0]!, 'dims').map((d) => (d as { value: number }).value)).toEqual([3, -1])
    expect(f(inputs[1]!, 'dims').map((d) => (d as { value: number }).value)).toEqual([1, 2])
    expect(f(inputs[1]!, 'data_type')).toEqual([{ kind: 'ident', value: 'TYPE_INT64' }])
    const db = f(msg, 'dynamic_batching')[0] as PbMessage
    expect(f(db, 'preferred_batch_size').map((d) => (d as { value: number }).value)).toEqual([4, 8])
    const ig = f(msg, 'instance_group')[0] as PbMessage
    expect(f(ig, 'kind')).toEqual([{ kind: 'ident', value: 'KIND_CPU' }])
    const value = f(f(msg, 'parameters')[0] as PbMessage, 'value')[0] as PbMessage
    expect(f(value, 'string_value')).toEqual([{ kind: 'string', value: 'a"b\n' }])
    expect((f(msg, 'ratio')[0] as { value: number }).value).toBe(-150)
  })

  it.each([
    ['name: "unterminated', /unterminated string at line 1/],
    ['input { name: "a" ', /missing "}"/],
    ['name "m"', /expected ":" after field "name" at line 1, column 6/],
    ['dims: [1, 2', /expected "," or "]"/],
    ['\n\n  ! ', /unexpected character "!" at line 3, column 3/],
  ])('reports %j with its position', (src, re) => {
    expect(() => parsePbtxt(src)).toThrow(PbtxtError)
    expect(() => parsePbtxt(src)).toThrow(re)
  })
})

describe('model config', () => {
  const base = `name: "m"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\ninput [{ name: "x" data_type: TYPE_FP32 dims: [3, -1] }]\noutput [{ name: "y" data_type: TYPE_FP32 dims: [-1] }]\n`

  it('reads the fields the server uses, with Triton defaults', () => {
    const c = parseModelConfig(base, 'm')
    expect(c).toMatchObject({ name: 'm', platform: 'onnxruntime_onnx', maxBatchSize: 8, versionPolicy: { kind: 'latest', numVersions: 1 }, defaultModelFilename: 'model.onnx' })
    expect(c.inputs).toEqual([{ name: 'x', type: 'float32', dataType: 'TYPE_FP32', dims: [3, -1] }])
    expect(c.dynamicBatching).toBeUndefined()
    expect(instanceCount(c)).toBe(1)
    const d = parseModelConfig(`${base}dynamic_batching { max_queue_delay_microseconds: 500 preferred_batch_size: [4, 2, 4] }\ninstance_group [{ count: 2 kind: KIND_CPU }, { count: 1 }]\nversion_policy: { specific: { versions: [1, 3] } }\noptimization { }`, 'm')
    expect(d.dynamicBatching).toEqual({ maxQueueDelayMicroseconds: 500, preferredBatchSizes: [2, 4] })
    expect(instanceCount(d)).toBe(3)
    expect(d.versionPolicy).toEqual({ kind: 'specific', versions: [1, 3] })
    expect(d.ignored).toEqual(['optimization'])
  })

  it.each([
    ['a name other than its directory', base.replace('name: "m"', 'name: "other"'), /differs from its directory/],
    ['another platform', base.replace('onnxruntime_onnx', 'tensorrt_plan'), /not served here/],
    ['an unsupported data type', base.replace('TYPE_FP32 dims: [3', 'TYPE_STRING dims: [3'), /TYPE_STRING is not supported/],
    ['no outputs', base.split('\n').filter((l) => !l.startsWith('output')).join('\n'), /input and output blocks are required/],
    ['batching without a batch dimension', base.replace('max_batch_size: 8', 'max_batch_size: 0') + 'dynamic_batching { }', /needs max_batch_size/],
    ['a preferred size above the maximum', base + 'dynamic_batching { preferred_batch_size: [16] }', /preferred_batch_size/],
    ['a zero dimension', base.replace('dims: [3, -1]', 'dims: [0]'), /positive or -1/],
    ['a string where a number belongs', base.replace('max_batch_size: 8', 'max_batch_size: "8"'), /must be an integer/],
  ])('rejects %s', (_name, text, re) => {
    expect(() => parseModelConfig(text, 'm')).toThrow(ModelConfigError)
    expect(() => parseModelConfig(text, 'm')).toThrow(re)
  })

  it.each([
    [{ kind: 'latest', numVersions: 1 } as const, [1, 10, 2], [10]],
    [{ kind: 'latest', numVersions: 2 } as const, [3, 1, 2], [2, 3]],
    [{ kind: 'all' } as const, [2, 1], [1, 2]],
    [{ kind: 'specific', versions: [1, 5] }, [1, 2, 3], [1]],
  ])('version policy %j over %j serves %j', (policy, available, expected) => {
    expect(selectVersions(policy as VersionPolicy, available)).toEqual(expected)
  })

  it('validates requests against the config: names, type, rank, fixed dims, batch size', () => {
    const c = parseModelConfig(base, 'm')
    const t = (dims: number[], type: 'float32' | 'int32' = 'float32') => ({ type, dims, data: type === 'float32' ? new Float32Array(dims.reduce((a, b) => a * b, 1)) : new Int32Array(dims.reduce((a, b) => a * b, 1)) })
    expect(Object.keys(validateInputs(c, [{ name: 'x', tensor: t([2, 3, 5]) }]))).toEqual(['x'])
    expect(() => validateInputs(c, [{ name: 'x', tensor: t([2, 4, 5]) }])).toThrow(/does not match model "m" shape \[-1, 3, -1\]/)
    expect(() => validateInputs(c, [{ name: 'x', tensor: t([3, 5]) }])).toThrow(/does not match/)
    expect(() => validateInputs(c, [{ name: 'x', tensor: t([9, 3, 5]) }])).toThrow(/exceeds max_batch_size 8/)
    expect(() => validateInputs(c, [{ name: 'x', tensor: t([1, 3, 5], 'int32') }])).toThrow(/datatype INT32, model "m" expects FP32/)
    expect(() => validateInputs(c, [{ name: 'z', tensor: t([1, 3, 5]) }])).toThrow(/has no input "z"/)
    expect(() => validateInputs(c, [])).toThrow(/needs input "x"/)
  })
})

describe('the shipped model repository', () => {
  const tmp: string[] = []
  afterAll(async () => {
    await Promise.all(tmp.map((d) => rm(d, { recursive: true, force: true })))
  })

  it.each(Object.entries(REPOSITORY_MODELS))('%s: %s/config.pbtxt matches the ONNX model', async (role, model) => {
    const config = parseModelConfig(await readFile(new URL(`${model}/config.pbtxt`, REPO), 'utf8'), model)
    expect(config.platform).toBe('onnxruntime_onnx')
    expect(config.maxBatchSize).toBeGreaterThan(0)
    expect(config.dynamicBatching).toBeDefined()
    expect(config.instanceGroups.length).toBeGreaterThan(0)
    // the model file models-repo writes (the recogniser with its reduced outputs)
    const session = await ort.InferenceSession.create(await repositoryModelBytes(role as ModelRole))
    try {
      const check = (tensors: typeof config.inputs, meta: readonly ort.InferenceSession.ValueMetadata[]): void => {
        expect(tensors.map((t) => t.name)).toEqual(meta.map((m) => m.name))
        for (const t of tensors) {
          const m = meta.find((x) => x.name === t.name)!
          expect(m.isTensor).toBe(true)
          if (!m.isTensor) continue
          expect(m.type).toBe(t.type)
          // batch dimension + config dims, rank for rank; fixed dims agree, dynamic ones are -1
          expect(m.shape.length).toBe(t.dims.length + 1)
          t.dims.forEach((d, i) => {
            const onnx = m.shape[i + 1]
            if (typeof onnx === 'number') expect(d).toBe(onnx)
            else expect(d).toBe(-1)
          })
          expect(typeof m.shape[0]).toBe('string') // the batch dimension is dynamic in the ONNX graph
        }
      }
      check(config.inputs, session.inputMetadata)
      check(config.outputs, session.outputMetadata)
    } finally {
      await session.release()
    }
  })

  it('explains a repository without model files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ocrserve-repo-'))
    tmp.push(dir)
    await mkdir(join(dir, 'ocr_cls'))
    await writeFile(join(dir, 'ocr_cls', 'config.pbtxt'), await readFile(new URL('ocr_cls/config.pbtxt', REPO)))
    await expect(scanRepository(dir)).rejects.toThrow(/no version directory holds model.onnx .*ocrserve models-repo/)
    await expect(scanRepository(join(dir, 'missing'))).rejects.toThrow(/cannot read model repository/)
  })

  it('serves the latest version directory that holds the model file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ocrserve-repo-'))
    tmp.push(dir)
    await mkdir(join(dir, 'ocr_cls', '2'), { recursive: true })
    await mkdir(join(dir, 'ocr_cls', '10'), { recursive: true })
    await mkdir(join(dir, 'ocr_cls', 'notes'), { recursive: true })
    await writeFile(join(dir, 'ocr_cls', 'config.pbtxt'), await readFile(new URL('ocr_cls/config.pbtxt', REPO)))
    await writeFile(join(dir, 'ocr_cls', '2', 'model.onnx'), 'x')
    await writeFile(join(dir, 'ocr_cls', '10', 'model.onnx'), 'x')
    const [m] = await scanRepository(dir)
    expect(m!.versions.map((v) => v.version)).toEqual(['10'])
  })
})
