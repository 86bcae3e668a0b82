/**
 * Model packs read into their typed spec (src/packs/): PaddleX inference.yml files as the exports
 * write them, pack.yml manifests, the PaddleOCR 2.x layout, and every way a pack can be wrong,
 * each reported with the pack, the file and the mismatch. The packs are built here from the
 * shipped models (test/helpers/packs.ts).
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readInferenceConfig } from '../../src/packs/paddle-config.js'
import { builtinPack } from '../../src/packs/builtin.js'
import { loadEnginePacks, packInfo } from '../../src/packs/index.js'
import { formatProblem, loadPack } from '../../src/packs/load.js'
import type { PackRole } from '../../src/packs/spec.js'
import { constantClassifier, detYml, docOriYml, rank3Model, recYml, SHIPPED, SHIPPED_KEYS, tempDir, textlineYml, toYaml, writeFileIn, writeLegacyPack, writePack } from '../helpers/packs.js'

let root: string
let cleanup: () => Promise<void>
let keys: string[]
beforeAll(async () => {
  ;({ dir: root, cleanup } = await tempDir())
  keys = await SHIPPED_KEYS()
})
afterAll(() => cleanup?.())

const messages = async (dir: string): Promise<string[]> => (await loadPack('p', dir, { onnx: 'required' })).problems.map(formatProblem)

describe('the builtin pack', () => {
  it('is the shipped PP-OCRv4 files with PaddleOCR 2.x processing', async () => {
    const b = await builtinPack({ models: {}, recImageHeight: 48 }, { onnx: 'required' })
    expect(b.name).toBe('builtin')
    expect(b.det.norm).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 1 / 255, order: 'BGR' })
    expect(b.rec.norm).toEqual({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: 1 / 255, divide: true, order: 'BGR' })
    expect(b.rec.charset).toHaveLength(6625)
    expect(b.rec.charset[0]).toBe('')
    expect(b.rec.charset[6624]).toBe(' ')
    expect(b.rec.charset.slice(1, 6624)).toEqual(keys)
    expect(b.rec).toMatchObject({ height: 48, width: null, inputShape: [null, 3, 48, null], modelName: 'ch_PP-OCRv4_rec' })
    expect(b.cls).toMatchObject({ height: 48, width: 192, resize: 'pad', angles: [0, 180], modelName: 'ch_ppocr_mobile_v2.0_cls' })
    expect(b.doc_ori).toBeNull()
    expect(b.settings).toEqual({})
    expect(packInfo(b, true)).toEqual({
      name: 'builtin',
      default: true,
      roles: {
        det: { model_name: 'ch_PP-OCRv4_det', input_shape: [null, 3, null, null] },
        cls: { model_name: 'ch_ppocr_mobile_v2.0_cls', input_shape: [null, 3, null, null] },
        rec: { model_name: 'ch_PP-OCRv4_rec', input_shape: [null, 3, 48, null], characters: 6624 },
      },
    })
  })
})

describe('a PaddleX pack', () => {
  it('takes its normalisation, channel order, sizes, dictionary and DB settings from its inference.yml files', async () => {
    const dir = await writePack(join(root, 'paddlex'), {
      det: detYml({ resize: { limit_side_len: 736, limit_type: 'min' }, normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: '1/255', order: 'hwc' }, post: { name: 'DBPostProcess', thresh: 0.2, box_thresh: 0.4, max_candidates: 3000, unclip_ratio: 1.4 } }),
      cls: { onnx: constantClassifier(80, 160, [0, 1]), yml: textlineYml([160, 80]) },
      docOri: { onnx: constantClassifier(224, 224, [0, 0, 1, 0]) },
      manifest: { settings: { dropScore: 0.6, detLimitSideLen: 800 } },
    })
    const { spec, problems } = await loadPack('px', dir, { onnx: 'required' })
    expect(problems).toEqual([])
    expect(spec!.det).toMatchObject({ modelName: 'PP-OCRv4_mobile_det', norm: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: 1 / 255, order: 'BGR' } })
    // PaddleX reads a classifier's image as RGB (no DecodeImage in its yml)
    expect(spec!.cls).toMatchObject({ modelName: 'PP-LCNet_x0_25_textline_ori', height: 80, width: 160, resize: 'stretch', angles: [0, 180], inputShape: [null, 3, 80, 160], norm: { order: 'RGB' } })
    expect(spec!.doc_ori).toMatchObject({ resizeShort: 256, crop: 224, angles: [0, 90, 180, 270] })
    expect(spec!.rec.charset).toEqual(['', ...keys, ' '])
    // the manifest's settings are the last word
    expect(spec!.settings).toEqual({ detLimitSideLen: 800, detLimitType: 'min', detThresh: 0.2, boxThresh: 0.4, maxCandidates: 3000, unclipRatio: 1.4, dropScore: 0.6 })
  })

  it('resize_long is the limit side with limit type max, as PaddleX passes it on; no arguments keep the engine settings', () => {
    const say = (m: string): never => {
      throw new Error(m)
    }
    expect(readInferenceConfig('det', detYml({ resize: { resize_long: 1280 } }), say).settings).toMatchObject({ detLimitSideLen: 1280, detLimitType: 'max' })
    expect(readInferenceConfig('det', detYml({ resize: null }), say).settings).toEqual({ detThresh: 0.3, boxThresh: 0.6, maxCandidates: 1000, unclipRatio: 1.5 })
  })

  it.each<[string, PackRole, Record<string, unknown>, string]>([
    ['an unknown transform', 'det', { ...detYml(), PreProcess: { transform_ops: [{ GrayImage: null }] } }, 'PreProcess.transform_ops[0]: unknown transform GrayImage for det'],
    ['an unknown post-process', 'det', detYml({ post: { name: 'EASTPostProcess' } }), 'PostProcess: unknown post-process EASTPostProcess for det (ocrserve knows DBPostProcess)'],
    ['a fixed detector size', 'det', detYml({ resize: { image_shape: [640, 640] } }), 'DetResizeForTest.image_shape: a fixed detector input size is not supported'],
    ['dilation', 'det', detYml({ post: { name: 'DBPostProcess', use_dilation: true } }), 'PostProcess.use_dilation true is not supported (ocrserve implements false)'],
    ['the slow box score', 'det', detYml({ post: { name: 'DBPostProcess', score_mode: 'slow' } }), 'PostProcess.score_mode "slow" is not supported (ocrserve implements "fast")'],
    ['an unknown argument', 'det', detYml({ post: { name: 'DBPostProcess', thresh: 0.3, box_threshold: 0.5 } }), 'PostProcess.box_threshold is not an argument ocrserve knows'],
    ['a bad scale', 'det', detYml({ normalize: { mean: [0, 0, 0], std: [1, 1, 1], scale: 'a/b' } }), 'NormalizeImage.scale must be a positive number or a quotient such as 1./255., got "a/b"'],
    ['a number in the dictionary', 'rec', recYml(['a', 'b'], { post: { name: 'CTCLabelDecode', character_dict: ['a', 7, 'b'] } }), 'PostProcess.character_dict[1] is 7, not text (quote it in the YAML)'],
    ['RGB as BGR channel_first', 'rec', { ...recYml(['a']), PreProcess: { transform_ops: [{ DecodeImage: { img_mode: 'GRAY' } }, { RecResizeImg: { image_shape: [3, 48, 320] } }] } }, 'DecodeImage.img_mode "GRAY" is not supported'],
    ['a cubic resize', 'cls', { ...textlineYml([160, 80]), PreProcess: { transform_ops: [{ ResizeImage: { size: [160, 80], interpolation: 'CUBIC' } }] } }, 'ResizeImage.interpolation "CUBIC" is not supported (ocrserve implements "LINEAR")'],
    ['a section it does not know', 'rec', { ...recYml(['a']), Train: {} }, 'has a section "Train" ocrserve does not know'],
  ])('%s is a problem that names it', (_what, role, doc, message) => {
    const said: string[] = []
    readInferenceConfig(role, doc, (m) => said.push(m))
    expect(said.join('\n')).toContain(message)
  })
})

describe('the PaddleOCR 2.x layout', () => {
  it('plain .onnx files, a dictionary and the processing in pack.yml load like the builtin pack', async () => {
    const { spec, problems } = await loadPack('legacy', await writeLegacyPack(join(root, 'legacy')), { onnx: 'required' })
    expect(problems).toEqual([])
    const b = await builtinPack({ models: {}, recImageHeight: 48 }, { onnx: 'required' })
    expect(spec!.rec.charset).toEqual(b.rec.charset)
    for (const role of ['det', 'cls', 'rec'] as const) expect({ ...spec![role], onnx: '', config: '', modelName: '' }).toEqual({ ...b[role], onnx: '', config: '', modelName: '' })
    expect(spec!.settings).toEqual({ detLimitSideLen: 960, detLimitType: 'max', detThresh: 0.3, boxThresh: 0.6, unclipRatio: 1.5 })
  })
})

describe('broken packs: one message per problem, naming the pack, the file and the mismatch', () => {
  it('a dictionary one entry short', async () => {
    const dir = await writePack(join(root, 'short-dict'), { rec: { onnx: await readFile(SHIPPED.rec), dictionary: keys.slice(0, -1) } })
    expect(await messages(dir)).toEqual([
      `pack "p": ${join(dir, 'rec', 'inference.yml')}: output "softmax_11.tmp_0" has 6625 classes but the dictionary gives blank + 6622 characters + space = 6624`,
    ])
  })

  it('no rec/', async () => {
    const dir = await writePack(join(root, 'no-rec'))
    await rm(join(dir, 'rec'), { recursive: true })
    expect(await messages(dir)).toEqual([`pack "p": ${join(dir, 'rec')}: missing: a pack needs rec/ (inference.onnx + inference.yml) or a "rec" entry in pack.yml`])
  })

  it('a detector whose input has rank 3', async () => {
    const dir = await writePack(join(root, 'rank3'))
    await writeFileIn(join(dir, 'det', 'inference.onnx'), rank3Model())
    expect(await messages(dir)).toEqual([`pack "p": ${join(dir, 'det', 'inference.onnx')}: input "x" has rank 3 [?, ?, ?]; a det model takes rank 4 [n, 3, H, W]`])
  })

  it('an unknown post-process', async () => {
    const dir = await writePack(join(root, 'east'), { det: detYml({ post: { name: 'EASTPostProcess', score_thresh: 0.8 } }) })
    expect(await messages(dir)).toEqual([`pack "p": ${join(dir, 'det', 'inference.yml')}: PostProcess: unknown post-process EASTPostProcess for det (ocrserve knows DBPostProcess)`])
  })

  it('a classifier whose fixed input size is not the yml size, and labels that are not angles', async () => {
    const dir = await writePack(join(root, 'cls-size'), { cls: { onnx: constantClassifier(80, 160, [0, 1]), yml: textlineYml([192, 48], ['up', 'down']) } })
    const said = await messages(dir)
    expect(said).toContain(`pack "p": ${join(dir, 'cls', 'inference.yml')}: label "up" is not one of the angles 0, 180 (as "180" or "180_degree")`)
    const fixed = await writePack(join(root, 'cls-size2'), { cls: { onnx: constantClassifier(80, 160, [0, 1]), yml: textlineYml([192, 48]) } })
    expect(await messages(fixed)).toEqual([
      `pack "p": ${join(fixed, 'cls', 'inference.onnx')}: input "x" is [?, 3, 80, 160] but the configuration resizes to height 48`,
      `pack "p": ${join(fixed, 'cls', 'inference.onnx')}: input "x" is [?, 3, 80, 160] but the configuration resizes to width 192`,
    ])
  })

  it('a manifest key it does not know, a missing dictionary, an unreadable yml, a missing ONNX file: all at once', async () => {
    const dir = await writePack(join(root, 'many'), { manifest: { settings: { dropScore: 2 }, colour: 'blue' } })
    await writeFileIn(join(dir, 'det', 'inference.yml'), 'Global: [unclosed\n')
    await rm(join(dir, 'rec', 'inference.onnx'))
    const said = await messages(dir)
    expect(said).toContain(`pack "p": ${join(dir, 'pack.yml')}: (top): Unrecognized key: "colour"`)
    expect(said.some((m) => m.startsWith(`pack "p": ${join(dir, 'det', 'inference.yml')}: unreadable YAML`))).toBe(true)
    expect(said).toContain(`pack "p": ${join(dir, 'rec', 'inference.onnx')}: missing file`)
  })

  it('the engine refuses every problem of every pack in one INVALID_CONFIG; a missing folder is one', async () => {
    const err = await loadEnginePacks({ packs: [{ name: 'a', dir: join(root, 'nowhere') }, { name: 'b', dir: join(root, 'east') }], models: {}, recImageHeight: 48 }).then(
      () => null,
      (e: unknown) => e as Error & { code: string },
    )
    expect(err?.code).toBe('INVALID_CONFIG')
    expect(err!.message.split('\n')).toEqual([
      'OCR_MODELS: the model packs have 2 problems:',
      `pack "a": ${join(root, 'nowhere')}: no such folder (a pack is a folder with det/ and rec/, see docs/MODELS.md)`,
      `pack "b": ${join(root, 'east', 'det', 'inference.yml')}: PostProcess: unknown post-process EASTPostProcess for det (ocrserve knows DBPostProcess)`,
    ])
  })

  it('remote mode loads a pack whose folders hold only the inference.yml files', async () => {
    const dir = join(root, 'yml-only')
    await writeFileIn(join(dir, 'det', 'inference.yml'), toYaml(detYml()))
    await writeFileIn(join(dir, 'rec', 'inference.yml'), toYaml(recYml(keys)))
    await writeFileIn(join(dir, 'doc_ori', 'inference.yml'), toYaml(docOriYml()))
    expect((await loadPack('p', dir, { onnx: 'optional' })).problems).toEqual([])
    expect((await messages(dir)).length).toBe(3)
  })
})
