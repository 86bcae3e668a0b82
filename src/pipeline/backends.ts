/**
 * Chooses the backends for an engine: local ONNX Runtime sessions over the model manifest's files
 * (rewritten once, models/onnx/), or a remote model server. The remote protocols are a typed table
 * in inference/remote.ts; this file only composes, so it sits above models/ and inference/.
 */
import type { EngineSettings } from '../config.js'
import { MODEL_ROLES, type Backend, type BackendFactory, type ModelRole } from '../inference/backend.js'
import type { Logger } from '../logger.js'
import { resolveModelPaths } from '../models/assets.js'
import { localModelSource } from '../models/onnx/model-file.js'

/** What each local session loads: a model file's path, or its (rewritten) bytes. */
export type LocalModels = Partial<Record<ModelRole, string | Uint8Array>>

export interface FactoryContext {
  settings: EngineSettings
  threads: number
  logger: Logger
  /** Local models prepared by prepareLocalModels (once per engine); absent: prepared per session. */
  models?: LocalModels
}

/**
 * The models an engine's local sessions load, prepared once: with `modelRewrite` the graph
 * rewrites parse and re-encode ~16 MB of models, which every worker thread would otherwise redo
 * at start-up (and again when a crashed worker is replaced). Undefined in remote mode.
 */
export async function prepareLocalModels(settings: EngineSettings, logger?: Logger): Promise<LocalModels | undefined> {
  if (settings.remote) return undefined
  const paths = resolveModelPaths(settings.models)
  const models: LocalModels = {}
  for (const role of MODEL_ROLES) models[role] = await localModelSource(paths[role], settings.modelRewrite, logger)
  return models
}

export interface BackendSet {
  factory: BackendFactory
  /** Readiness of what the backends talk to (true for local sessions once created). */
  ready(): Promise<boolean>
  close(): Promise<void>
}

export async function createBackendSet(ctx: FactoryContext): Promise<BackendSet> {
  const { settings, threads, logger } = ctx
  if (settings.remote) {
    const remoteSettings = settings.remote
    const { createRemoteClient, createRemoteBackend, remoteReady } = await import('../inference/remote.js')
    const client = createRemoteClient(remoteSettings, logger)
    return {
      factory: (role: ModelRole) => createRemoteBackend(client, remoteSettings.models[role], remoteSettings),
      ready: () => remoteReady(client, remoteSettings),
      close: () => client.close(),
    }
  }
  const paths = resolveModelPaths(settings.models)
  const prepared = { ...ctx.models }
  // ONNX Runtime is loaded where sessions are made (the worker threads), not where models are prepared
  const { createLocalBackend } = await import('../inference/local.js')
  return {
    factory: async (role: ModelRole): Promise<Backend> => {
      const model = prepared[role] ?? (await localModelSource(paths[role], settings.modelRewrite, logger))
      // the session holds its own copy: the bytes are not kept here
      delete prepared[role]
      return createLocalBackend(model, { device: settings.device, threads, logger })
    },
    ready: async () => true,
    close: async () => {},
  }
}
