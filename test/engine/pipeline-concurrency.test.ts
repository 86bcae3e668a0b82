/**
 * How the pipeline drives a model server's backend, which runs a list of calls with up to
 * `callsInFlight` under way (OCR_REMOTE_CALLS_IN_FLIGHT): the classifier's and recogniser's calls
 * of one page overlap up to that many, the page reads exactly as with one call at a time, and a
 * failing call fails the page without starting the calls behind it. The backend is the real
 * remote one (createRemoteBackend); its client runs the real networks (local sessions), delaying
 * each call a little and counting the calls under way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEngineSettings, RemoteSettingsSchema } from '../../src/config.js'
import { OcrError } from '../../src/errors.js'
import { decodeImage } from '../../src/image/decode.js'
import type { RgbImage } from '../../src/image/image.js'
import type { Backend, ModelRole } from '../../src/inference/backend.js'
import { createLocalBackend } from '../../src/inference/local.js'
import { createRemoteBackend, type RemoteClient } from '../../src/inference/remote.js'
import { resolveModelPaths } from '../../src/models/assets.js'
import { readRewrittenModel } from '../../src/models/onnx/model-file.js'
import { builtinPack } from '../../src/packs/builtin.js'
import type { PackSpec } from '../../src/packs/spec.js'
import { Pipeline } from '../../src/pipeline/pipeline.js'
import { squash, textImage } from '../helpers/images.js'

const LINES = ['FIRST LINE 101', 'SECOND LINE 202', 'THIRD LINE 303', 'FOURTH LINE 404', 'FIFTH LINE 505']

let local: Record<ModelRole, Backend>
let builtin: PackSpec
let page: RgbImage

beforeAll(async () => {
  const paths = resolveModelPaths()
  local = {} as Record<ModelRole, Backend>
  for (const role of ['det', 'cls', 'rec'] as const) local[role] = await createLocalBackend(await readRewrittenModel(paths[role]), { device: 'cpu', threads: 1 })
  builtin = await builtinPack({ models: {}, recImageHeight: 48 }, { onnx: 'required' })
  page = (await decodeImage((await textImage(LINES, 36)).png, { maxPixels: 1e8 })).pages[0]!
}, 60_000)

afterAll(async () => {
  for (const b of Object.values(local ?? {})) await b.dispose()
})

interface Probe {
  calls: number
  inFlight: number
  maxInFlight: number
}

/** A model server client over `inner`: each infer() delayed 5 ms, counted; call number `failAt` rejects. */
function client(inner: Backend, probe: Probe, failAt = 0): RemoteClient {
  const meta = (names: readonly string[]) => names.map((name) => ({ name, datatype: 'FP32', shape: [-1] }))
  return {
    serverReady: async () => true,
    modelReady: async () => true,
    modelMetadata: async (name) => ({ name, inputs: meta(inner.inputNames), outputs: meta(inner.outputNames) }),
    async infer(_model, feeds, outputNames) {
      const n = ++probe.calls
      probe.inFlight++
      probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight)
      try {
        await new Promise((r) => setTimeout(r, 5))
        if (n === failAt) throw new OcrError('MODEL_ERROR', 'the model server failed this call')
        return await inner.run(feeds, { outputs: outputNames })
      } finally {
        probe.inFlight--
      }
    },
    close: async () => {},
  }
}

async function pipeline(callsInFlight: number, rec: Probe, failAt = 0): Promise<Pipeline> {
  const settings = parseEngineSettings({})
  const remote = RemoteSettingsSchema.parse({ url: 'http://model-server.test', callsInFlight })
  const cls: Probe = { calls: 0, inFlight: 0, maxInFlight: 0 }
  const backends: Record<ModelRole, Backend> = {
    det: local.det,
    cls: await createRemoteBackend(client(local.cls, cls), 'ocr_cls', remote),
    rec: await createRemoteBackend(client(local.rec, rec, failAt), 'ocr_rec', remote),
  }
  return new Pipeline((role) => Promise.resolve(backends[role as ModelRole]), builtin, settings)
}

describe('a model server backend: up to callsInFlight calls at once', () => {
  it('gets up to callsInFlight recogniser calls at a time, and the page reads as with one at a time', async () => {
    const one: Probe = { calls: 0, inFlight: 0, maxInFlight: 0 }
    const three: Probe = { calls: 0, inFlight: 0, maxInFlight: 0 }
    const a = await (await pipeline(1, one)).readPage(page, { useCls: true })
    const b = await (await pipeline(3, three)).readPage(page, { useCls: true })
    expect(a.lines.map((l) => squash(l.text))).toEqual(LINES.map(squash))
    expect(one.maxInFlight).toBe(1)
    expect(three.calls).toBe(one.calls)
    expect(three.maxInFlight).toBe(3)
    expect(b.lines).toEqual(a.lines)
  })

  it('a failed call fails the page, and the calls behind it are not started', async () => {
    const probe: Probe = { calls: 0, inFlight: 0, maxInFlight: 0 }
    await expect((await pipeline(2, probe, 2)).readPage(page, { useCls: true })).rejects.toMatchObject({ code: 'MODEL_ERROR' })
    // call 2 failed while call 1 or 3 was under way: at most one more started after it
    expect(probe.calls).toBeLessThanOrEqual(3)
    expect(probe.calls).toBeLessThan(LINES.length)
  })
})
