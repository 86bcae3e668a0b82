/**
 * How the pipeline drives a backend that takes several run() calls at once (a model server,
 * `concurrentRuns`): the classifier's and recogniser's calls of one page overlap up to that many,
 * the page reads exactly as with one call at a time, and a failing call fails the page without
 * starting the calls behind it. The networks are the real ones (local sessions) behind a wrapper
 * that delays each call a little and counts the calls under way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEngineSettings } from '../../src/config.js'
import { OcrError } from '../../src/errors.js'
import { decodeImage } from '../../src/image/decode.js'
import type { RgbImage } from '../../src/image/image.js'
import type { Backend, ModelRole } from '../../src/inference/backend.js'
import { createLocalBackend } from '../../src/inference/local.js'
import { resolveModelPaths } from '../../src/models/assets.js'
import { readRewrittenModel } from '../../src/models/graph-rewrite.js'
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

/** `inner` declaring `concurrentRuns`, each run() delayed 5 ms, counted; call number `failAt` rejects. */
function wrapped(inner: Backend, concurrentRuns: number, probe: Probe, failAt = 0): Backend {
  return {
    inputNames: inner.inputNames,
    outputNames: inner.outputNames,
    concurrentRuns,
    async run(feeds, options) {
      const n = ++probe.calls
      probe.inFlight++
      probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight)
      try {
        await new Promise((r) => setTimeout(r, 5))
        if (n === failAt) throw new OcrError('MODEL_ERROR', 'the model server failed this call')
        return await inner.run(feeds, options)
      } finally {
        probe.inFlight--
      }
    },
    dispose: () => Promise.resolve(),
  }
}

function pipeline(concurrentRuns: number, rec: Probe, failAt = 0): Pipeline {
  const settings = parseEngineSettings({})
  const cls: Probe = { calls: 0, inFlight: 0, maxInFlight: 0 }
  return new Pipeline(
    (role) => Promise.resolve(role === 'rec' ? wrapped(local.rec, concurrentRuns, rec, failAt) : role === 'cls' ? wrapped(local.cls, concurrentRuns, cls) : local.det),
    builtin,
    settings,
  )
}

describe('a backend that takes several calls at once', () => {
  it('gets up to concurrentRuns recogniser calls at a time, and the page reads as with one at a time', async () => {
    const one: Probe = { calls: 0, inFlight: 0, maxInFlight: 0 }
    const three: Probe = { calls: 0, inFlight: 0, maxInFlight: 0 }
    const a = await pipeline(1, one).readPage(page, { useCls: true })
    const b = await pipeline(3, three).readPage(page, { useCls: true })
    expect(a.lines.map((l) => squash(l.text))).toEqual(LINES.map(squash))
    expect(one.maxInFlight).toBe(1)
    expect(three.calls).toBe(one.calls)
    expect(three.maxInFlight).toBe(3)
    expect(b.lines).toEqual(a.lines)
  })

  it('a failed call fails the page, and the calls behind it are not started', async () => {
    const probe: Probe = { calls: 0, inFlight: 0, maxInFlight: 0 }
    await expect(pipeline(2, probe, 2).readPage(page, { useCls: true })).rejects.toMatchObject({ code: 'MODEL_ERROR' })
    // call 2 failed while call 1 or 3 was under way: at most one more started after it
    expect(probe.calls).toBeLessThanOrEqual(3)
    expect(probe.calls).toBeLessThan(LINES.length)
  })
})
