/**
 * The packs of an engine (OCR_MODELS): every one loaded and checked before the engine starts,
 * the default first, `builtin` always there; and how /v1/models describes them.
 */
import { resolve } from 'node:path'
import type { EngineSettings } from '../config.js'
import { OcrError } from '../errors.js'
import { builtinPack } from './builtin.js'
import { formatProblem, loadPack, type LoadOptions, type PackProblem } from './load.js'
import { BUILTIN_PACK, packRoles, type PackRole, type PackSpec } from './spec.js'

/**
 * The engine's packs in OCR_MODELS order (`builtin` last when not listed). Fails with
 * INVALID_CONFIG listing every problem of every pack, one line each, when there is any.
 */
export async function loadEnginePacks(settings: Pick<EngineSettings, 'packs' | 'models' | 'recImageHeight' | 'remote'>): Promise<PackSpec[]> {
  const options: LoadOptions = { onnx: settings.remote ? 'optional' : 'required' }
  const entries = settings.packs.some((p) => p.name === BUILTIN_PACK) ? settings.packs : [...settings.packs, { name: BUILTIN_PACK }]
  const problems: PackProblem[] = []
  const packs = await Promise.all(
    entries.map(async (e) => {
      if (e.dir === undefined) return builtinPack(settings, options)
      const loaded = await loadPack(e.name, resolve(e.dir), options)
      problems.push(...loaded.problems)
      return loaded.spec
    }),
  )
  if (problems.length > 0) throw new OcrError('INVALID_CONFIG', `OCR_MODELS: ${problems.length === 1 ? 'a model pack has a problem' : `the model packs have ${problems.length} problems`}:\n${problems.map(formatProblem).join('\n')}`)
  return packs as PackSpec[]
}

/** A role as GET /v1/models shows it. */
export interface ModelRoleInfo {
  /** Global.model_name of its inference.yml (2.x models: the file's name). */
  model_name: string
  /** [n, c, h, w] as the ONNX graph declares its input; null = any size. */
  input_shape: Array<number | null>
  /** rec: the characters it reads (the dictionary, with the space when it has one). */
  characters?: number
}

export interface ModelPackInfo {
  name: string
  default: boolean
  roles: Partial<Record<PackRole, ModelRoleInfo>>
}

export function packInfo(pack: PackSpec, isDefault: boolean): ModelPackInfo {
  const roles: Partial<Record<PackRole, ModelRoleInfo>> = {}
  for (const role of packRoles(pack)) {
    const spec = pack[role]!
    roles[role] = { model_name: spec.modelName, input_shape: [...spec.inputShape], ...(role === 'rec' ? { characters: pack.rec.charset.length - 1 } : {}) }
  }
  return { name: pack.name, default: isDefault, roles }
}
