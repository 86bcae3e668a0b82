/**
 * Chooses the backends for an engine: local ONNX Runtime sessions (the pack's files, rewritten
 * once, models/onnx/), or a remote model server (a typed table protocol → client in
 * inference/remote.ts); this file only composes, so it sits above models/ and inference/. A backend
 * is made per pack and role (src/packs/spec.ts): locally from the pack's ONNX file, remotely from
 * the model-server model that `ocrserve models-repo` writes for it.
 */
import type { EngineSettings, RemoteSettings } from '../config.js'
import type { Backend } from '../inference/backend.js'
import type { Logger } from '../logger.js'
import { localModelSource } from '../models/onnx/model-file.js'
import { BUILTIN_PACK, packRoles, type PackRole, type PackSpec } from '../packs/spec.js'

/** What each local session loads, by modelKey(): a model file's path, or its (rewritten) bytes. */
export type LocalModels = Record<string, string | Uint8Array>

/** The key of a pack's role among prepared models and made backends. */
export const modelKey = (pack: string, role: PackRole): string => `${pack}/${role}`

/** modelKey() read back (a pack's name has no '/'). */
export function splitModelKey(key: string): { pack: string; role: PackRole } {
  const at = key.lastIndexOf('/')
  return { pack: key.slice(0, at), role: key.slice(at + 1) as PackRole }
}

/**
 * A pack's model on a model server: the builtin pack's are OCR_REMOTE_MODELS (ocr_det, ocr_cls,
 * ocr_rec); every other pack's are NAME_det, NAME_cls, NAME_rec, NAME_doc_ori, as `ocrserve
 * models-repo` writes them.
 */
export function remoteModelName(pack: string, role: PackRole, remote: Pick<RemoteSettings, 'models'>): string {
  if (pack === BUILTIN_PACK && role !== 'doc_ori') return remote.models[role]
  return `${pack}_${role}`
}

export interface FactoryContext {
  settings: EngineSettings
  threads: number
  logger: Logger
  /** Local models prepared by prepareLocalModels (once per engine); absent: prepared per session. */
  models?: LocalModels
}

/**
 * The models of `pack` (the default one: it loads when the engine starts) for the engine's local
 * sessions, prepared once: with `modelRewrite` the graph rewrites parse and re-encode ~16 MB of
 * models, which every worker thread would otherwise redo at start-up (and again when a crashed
 * worker is replaced). Undefined in remote mode.
 */
export async function prepareLocalModels(settings: EngineSettings, pack: PackSpec, logger?: Logger): Promise<LocalModels | undefined> {
  if (settings.remote) return undefined
  const models: LocalModels = {}
  for (const role of packRoles(pack)) models[modelKey(pack.name, role)] = await localModelSource(pack[role]!.onnx, settings.modelRewrite, logger, role)
  return models
}

/** Creates the backend of one role of one pack. */
export type PackBackendFactory = (pack: PackSpec, role: PackRole) => Promise<Backend>

export interface BackendSet {
  factory: PackBackendFactory
  /** Readiness of what the backends of `pack` talk to (true for local sessions once created). */
  ready(pack: PackSpec): Promise<boolean>
  close(): Promise<void>
}

export async function createBackendSet(ctx: FactoryContext): Promise<BackendSet> {
  const { settings, threads, logger } = ctx
  if (settings.remote) {
    const remoteSettings = settings.remote
    const { createRemoteClient, createRemoteBackend, remoteReady } = await import('../inference/remote.js')
    const client = createRemoteClient(remoteSettings, logger)
    return {
      factory: (pack, role) => createRemoteBackend(client, remoteModelName(pack.name, role, remoteSettings), remoteSettings),
      ready: (pack) => remoteReady(client, packRoles(pack).map((role) => remoteModelName(pack.name, role, remoteSettings))),
      close: () => client.close(),
    }
  }
  const prepared = { ...ctx.models }
  // ONNX Runtime is loaded where sessions are made (the worker threads), not where models are prepared
  const { createLocalBackend } = await import('../inference/local.js')
  return {
    factory: async (pack, role): Promise<Backend> => {
      const key = modelKey(pack.name, role)
      const model = prepared[key] ?? (await localModelSource(pack[role]!.onnx, settings.modelRewrite, logger, role))
      // the session holds its own copy: the bytes are not kept here
      delete prepared[key]
      return createLocalBackend(model, { device: settings.device, threads, logger })
    },
    ready: async () => true,
    close: async () => {},
  }
}
