/**
 * Model packs in the engine: packs built from the shipped files (PaddleX layout with inference.yml
 * files, the PaddleOCR 2.x layout with a pack.yml, a recogniser whose classes are permuted and cut
 * and whose tensors are renamed) read the generated pages exactly as `builtin`, so the pack's own
 * dictionary, names and settings are what the engine uses; a detector yml's resize and
 * normalisation reach the detector's input; a line classifier of another size and its labels, and
 * a page classifier, are honoured; broken packs refuse to start, and `ocrserve models check`
 * reports the same.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEngineSettings } from '../../src/config.js'
import { createOcr, type OcrResult } from '../../src/index.js'
import { decodeImage } from '../../src/image/decode.js'
import type { Backend, Feeds } from '../../src/inference/backend.js'
import { createLocalBackend } from '../../src/inference/local.js'
import { detInputSize } from '../../src/models/det-db.js'
import { builtinPack } from '../../src/packs/builtin.js'
import { loadPack } from '../../src/packs/load.js'
import type { PackRole, PackSpec } from '../../src/packs/spec.js'
import { detPadding, Pipeline } from '../../src/pipeline/pipeline.js'
import { buildSet, renderPage, SET_NAMES } from '../fixtures/generate.js'
import { buildOnce } from '../helpers/build.js'
import { textImage } from '../helpers/images.js'
import { constantClassifier, detYml, recYml, SHIPPED, SHIPPED_KEYS, tempDir, textlineYml, writeLegacyPack, writePack, permuteRecClasses } from '../helpers/packs.js'
import { expectOcrError, squash } from './support.js'

let root: string
let cleanup: () => Promise<void>
beforeAll(async () => {
  ;({ dir: root, cleanup } = await tempDir())
})
afterAll(() => cleanup?.())

/** Reads on a machine shared with other test runs: a generous deadline (the tests check results, not time). */
const SLOW = 600_000

/** A page's result without what may differ between equal reads (timings) or packs (the name). */
const reading = (r: OcrResult) => r.pages.map((p) => ({ rotation: p.rotation, lines: p.lines }))

describe('packs derived from the shipped files read the generated pages exactly as builtin', () => {
  /** The first page of every generated set. */
  const pages: Array<{ id: string; png: Buffer }> = []
  let builtin: OcrResult[]

  beforeAll(async () => {
    for (const name of SET_NAMES) {
      const [page] = buildSet(name, 1, 7)
      pages.push({ id: page!.id, png: (await renderPage(page!.spec)).png })
    }
    const ocr = await createOcr({ workers: 2 })
    try {
      builtin = await Promise.all(pages.map((p) => ocr.read(p.png, { timeoutMs: SLOW })))
    } finally {
      await ocr.close()
    }
  }, 300_000)

  it('a PaddleX pack, a PaddleOCR 2.x pack and a recogniser with permuted, cut classes and renamed tensors', async () => {
    const keys = await SHIPPED_KEYS()
    // keep the blank, the space, every character builtin read on these pages and every third other
    // one, in a shuffled order (a fixed one: the test is the same every run)
    const used = new Set(builtin.flatMap((r) => r.pages.flatMap((p) => p.lines.flatMap((l) => [...l.text]))))
    const kept = keys.map((_, i) => i + 1).filter((c) => used.has(keys[c - 1]!) || c % 3 === 0)
    const shuffled = kept.map((c, i) => ({ c, key: (i * 7919) % kept.length })).sort((a, b) => a.key - b.key).map((x) => x.c)
    expect(shuffled.length).toBeLessThan(keys.length / 2)
    const classes = [0, ...shuffled, keys.length + 1]
    const onnx = permuteRecClasses(await readFile(SHIPPED.rec), classes)
    const dictionary = shuffled.map((c) => keys[c - 1]!)
    const packs = [
      { name: 'derived', dir: await writePack(join(root, 'derived')) },
      { name: 'legacy', dir: await writeLegacyPack(join(root, 'legacy')) },
      { name: 'permuted', dir: await writePack(join(root, 'permuted'), { rec: { onnx, dictionary } }) },
    ]
    const ocr = await createOcr({ workers: 2, packs: [...packs, { name: 'builtin' }] })
    try {
      expect(ocr.models.map((m) => [m.name, m.default])).toEqual([['derived', true], ['legacy', false], ['permuted', false], ['builtin', false]])
      expect(ocr.models[2]!.roles.rec).toEqual({ model_name: 'PP-OCRv4_mobile_rec', input_shape: [null, 3, 48, null], characters: dictionary.length + 1 })
      for (const { name } of packs) {
        const results = await Promise.all(pages.map((p) => ocr.read(p.png, { model: name, timeoutMs: SLOW })))
        results.forEach((r, i) => {
          expect(r.model).toBe(name)
          expect(reading(r), `${name} on ${pages[i]!.id}`).toEqual(reading(builtin[i]!))
        })
      }
      // the default pack reads when none is named
      expect((await ocr.read(pages[0]!.png)).model).toBe('derived')
      await expectOcrError(ocr.read(pages[0]!.png, { model: 'latin' }), 'UNKNOWN_MODEL').then((e) => expect(e.message).toBe('unknown model "latin"; this service has derived, legacy, permuted, builtin'))
    } finally {
      await ocr.close()
    }
  }, 600_000)
})

/** A pipeline over local sessions of `pack` whose detector records the feeds it gets. */
async function recordingPipeline(pack: PackSpec, detFeeds: Feeds[]): Promise<{ pipeline: Pipeline; close: () => Promise<void> }> {
  const made: Backend[] = []
  const backends = new Map<PackRole, Promise<Backend>>()
  const backend = (role: PackRole): Promise<Backend> => {
    let b = backends.get(role)
    if (!b) {
      b = createLocalBackend(pack[role]!.onnx, { device: 'cpu', threads: 1 }).then((inner) => {
        made.push(inner)
        if (role !== 'det') return inner
        return { ...inner, inputNames: inner.inputNames, outputNames: inner.outputNames, run: (feeds, o) => (detFeeds.push(feeds), inner.run(feeds, o)), dispose: () => inner.dispose() }
      })
      backends.set(role, b)
    }
    return b
  }
  return { pipeline: new Pipeline(backend, pack, parseEngineSettings({})), close: async () => void (await Promise.all(made.map((b) => b.dispose()))) }
}

describe('a detector yml with another resize and normalisation', () => {
  it('changes the detector input size and values accordingly', async () => {
    const dir = await writePack(join(root, 'det-yml'), {
      det: detYml({ resize: { limit_side_len: 320, limit_type: 'max' }, normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: '1./255.', order: 'hwc' } }),
    })
    const { spec } = await loadPack('small', dir, { onnx: 'required' })
    const page = (await decodeImage((await textImage(['HELLO WORLD 2024', 'QUICK BROWN FOX'])).png, { maxPixels: 1e8 })).pages[0]!
    const pad = detPadding(page.width, page.height, -1)
    const [w, h] = [page.width + 2 * pad, page.height + 2 * pad]
    const feeds: Record<string, Feeds[]> = { builtin: [], small: [] }
    for (const [name, pack] of [['builtin', await builtinPack({ models: {}, recImageHeight: 48 }, { onnx: 'required' })], ['small', spec!]] as const) {
      const { pipeline, close } = await recordingPipeline(pack, feeds[name]!)
      try {
        const out = await pipeline.readPage(page, { useCls: true })
        expect(out.lines.map((l) => squash(l.text))).toEqual(['HELLOWORLD2024', 'QUICKBROWNFOX'])
      } finally {
        await close()
      }
    }
    const first = (name: string) => Object.values(feeds[name]![0]!)[0]!
    expect(first('builtin').dims).toEqual([1, 3, ...Object.values(detInputSize(w, h, 960, 'max', 64, 2560)).reverse()])
    expect(first('small').dims).toEqual([1, 3, ...Object.values(detInputSize(w, h, 320, 'max', 64, 2560)).reverse()])
    expect(first('small').dims).not.toEqual(first('builtin').dims)
    // the top-left pixel is the white margin: (1 − 0.485) / 0.229 in tensor channel 0 with ImageNet, (1 − 0.5) / 0.5 with the yml's
    expect(first('builtin').data[0]).toBeCloseTo((1 - 0.485) / 0.229, 5)
    expect(first('small').data[0]).toBeCloseTo(1, 6)
  }, 120_000)
})

describe('classifiers of a pack', () => {
  /** One line of text, turned upside down. */
  async function upsideDown(lines: string[]): Promise<Buffer> {
    return sharp((await textImage(lines)).png).rotate(180).png().toBuffer()
  }

  it('a textline classifier of another input size: its [N, 3, 80, 160] input and its label_list are honoured', async () => {
    // the graph says class 1 for every line; its labels decide whether that is 0° or 180°
    const onnx = constantClassifier(80, 160, [0, 4])
    const packs = [
      { name: 'says180', dir: await writePack(join(root, 'tl180'), { cls: { onnx, yml: textlineYml([160, 80], ['0_degree', '180_degree']) } }) },
      { name: 'says0', dir: await writePack(join(root, 'tl0'), { cls: { onnx, yml: textlineYml([160, 80], ['180_degree', '0_degree']) } }) },
    ]
    const ocr = await createOcr({ workers: 1, packs, autoRotate: false })
    try {
      const png = await upsideDown(['HELLO WORLD 2024', 'QUICK BROWN FOX'])
      const turned = await ocr.read(png, { model: 'says180' })
      expect(turned.lines.map((l) => squash(l.text))).toEqual(['QUICKBROWNFOX', 'HELLOWORLD2024'])
      const kept = await ocr.read(png, { model: 'says0' })
      expect(kept.lines.map((l) => squash(l.text)).join(' ')).not.toContain('HELLOWORLD2024')
    } finally {
      await ocr.close()
    }
  }, 180_000)

  it('a page classifier (doc_ori): a page it says is turned is read turned when that reads better, and not when it does not', async () => {
    // class 2 = label "180" for every page
    const dir = await writePack(join(root, 'docori'), { docOri: { onnx: constantClassifier(224, 224, [0, 0, 5, 0]) } })
    const ocr = await createOcr({ workers: 1, packs: [{ name: 'docori', dir }, { name: 'builtin' }] })
    try {
      // one line upside down: too few lines for ocrserve's own upside-down check, and cls off
      const png = await upsideDown(['HELLO WORLD 2024'])
      const own = await ocr.read(png, { model: 'builtin', cls: false })
      expect(own.lines.map((l) => squash(l.text))).not.toEqual(['HELLOWORLD2024'])
      const withPageModel = await ocr.read(png, { model: 'docori', cls: false })
      expect(withPageModel.rotation).toBe(180)
      expect(withPageModel.lines.map((l) => squash(l.text))).toEqual(['HELLOWORLD2024'])
      // an upright page the classifier calls upside down reads upright
      const upright = await ocr.read((await textImage(['HELLO WORLD 2024'])).png, { model: 'docori', cls: false })
      expect(upright.rotation).toBe(0)
      expect(upright.lines.map((l) => squash(l.text))).toEqual(['HELLOWORLD2024'])
    } finally {
      await ocr.close()
    }
  }, 180_000)
})

describe('broken packs refuse start-up with their message; models check reports the same', () => {
  const run = promisify(execFile)

  it.each([
    ['a dictionary one entry short', async (dir: string) => writePack(dir, { rec: { onnx: await readFile(SHIPPED.rec), dictionary: (await SHIPPED_KEYS()).slice(0, -1) } }), 'the dictionary gives blank + 6622 characters + space = 6624'],
    ['an unknown post-process', (dir: string) => writePack(dir, { det: detYml({ post: { name: 'EASTPostProcess' } }) }), 'PostProcess: unknown post-process EASTPostProcess for det'],
    ['a recogniser yml with a bad image_shape', async (dir: string) => writePack(dir, { rec: { onnx: await readFile(SHIPPED.rec), dictionary: await SHIPPED_KEYS(), yml: recYml(await SHIPPED_KEYS(), { imageShape: [3, 32, 320] }) } }), 'input "x" is [?, 3, 48, ?] but the configuration resizes to height 32'],
  ] as const)('%s', async (what, make, message) => {
    await buildOnce()
    const dir = await make(join(root, `broken-${what.replace(/\W+/g, '-')}`))
    const err = await expectOcrError(createOcr({ workers: 1, packs: [{ name: 'broken', dir }] }), 'INVALID_CONFIG')
    expect(err.message).toContain(`pack "broken": `)
    expect(err.message).toContain(message)
    const check = await run(process.execPath, ['bin/ocrserve.js', 'models', 'check', dir, '--name', 'broken']).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    )
    expect(check.code).toBe(2)
    const problem = err.message.split('\n').find((l) => l.includes(message))!
    expect(check.stderr).toContain(problem)
  }, 120_000)

  it('ocrserve read --models … --model NAME reads with that pack; an unknown --model is a usage error (exit 2)', async () => {
    await buildOnce()
    const dir = await writePack(join(root, 'cli-pack'))
    const png = join(root, 'page.png')
    await sharp((await textImage(['HELLO WORLD 2024'])).png).toFile(png)
    const ok = await run(process.execPath, ['bin/ocrserve.js', 'read', '--models', `mine=${dir},builtin`, '--model', 'builtin', png])
    expect((JSON.parse(ok.stdout) as OcrResult).model).toBe('builtin')
    const bad = await run(process.execPath, ['bin/ocrserve.js', 'read', '--models', `mine=${dir}`, '--model', 'nope', png]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    )
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('ocrserve read: --model: unknown model "nope"; this service has mine, builtin')
  }, 120_000)

  it('ocrserve serve with a broken pack in OCR_MODELS exits 2 with the message, before listening', async () => {
    await buildOnce()
    const dir = await writePack(join(root, 'serve-broken'), { det: detYml({ post: { name: 'EASTPostProcess' } }) })
    const r = await run(process.execPath, ['bin/ocrserve.js', 'serve', '--port', '0'], { env: { ...process.env, OCR_MODELS: `east=${dir}` } }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`pack "east": ${join(dir, 'det', 'inference.yml')}: PostProcess: unknown post-process EASTPostProcess for det`)
  }, 120_000)
})
