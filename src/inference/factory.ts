/**
 * Chooses the backends for an engine: local ONNX Runtime sessions, or a remote model server.
 * The remote protocols are a typed table in ./remote.ts; this file only composes.
 */
import type { EngineSettings } from '../config.js'
import type { Logger } from '../logger.js'
import { resolveModelPaths } from '../models/assets.js'
import { localModelSource } from '../models/graph-rewrite.js'
import type { Backend, BackendFactory, ModelRole } from './backend.js'
import { createLocalBackend } from './local.js'

export interface FactoryContext {
  settings: EngineSettings
  threads: number
  logger: Logger
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
    const { createRemoteClient, createRemoteBackend, remoteReady } = await import('./remote.js')
    const client = createRemoteClient(remoteSettings, logger)
    return {
      factory: (role: ModelRole) => createRemoteBackend(client, remoteSettings.models[role], remoteSettings),
      ready: () => remoteReady(client, remoteSettings),
      close: () => client.close(),
    }
  }
  const paths = resolveModelPaths(settings.models)
  return {
    factory: async (role: ModelRole): Promise<Backend> => {
      const model = await localModelSource(paths[role], settings.modelRewrite, logger)
      return createLocalBackend(model, { device: settings.device, threads, logger })
    },
    ready: async () => true,
    close: async () => {},
  }
}
