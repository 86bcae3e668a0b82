/** A model file as an ONNX Runtime session loads it: its path as is, or its bytes rewritten (graph-rewrite.ts). */
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { OcrError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { rewriteModel } from './graph-rewrite.js'
import { derivedModel, type Derivation } from './model-cache.js'
import { ONNX_PROTO_PATH } from './onnx-proto.js'

/** The model file at `path`, rewritten (see rewriteModel); what changed is logged at debug level. */
export async function readRewrittenModel(path: string, logger?: Logger): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new OcrError('MODEL_ERROR', `cannot read model ${path}: ${(err as Error).message}`, { cause: err })
  }
  const { bytes: out, report } = rewriteModel(bytes)
  logger?.debug({ model: path, ...report }, 'model graph rewritten')
  return out
}

/** The rewrite as a cached derivation: the rewrite's code, the wire helpers and the schema decide its output. */
const ext = extname(fileURLToPath(import.meta.url))
const REWRITE: Derivation = {
  name: 'rewritten',
  code: [new URL(`./graph-rewrite${ext}`, import.meta.url), new URL(`./onnx-proto${ext}`, import.meta.url), pathToFileURL(ONNX_PROTO_PATH)],
  derive: (bytes) => rewriteModel(bytes).bytes,
}

/**
 * What to hand ONNX Runtime for the model at `path`: its rewritten bytes (kept on disk between runs
 * by model-cache.ts), or the path itself when `rewrite` is off. The engine and the bench's
 * model-only floor both load models through this.
 */
export async function localModelSource(path: string, rewrite: boolean, logger?: Logger): Promise<string | Uint8Array> {
  return rewrite ? derivedModel(path, REWRITE, logger ? { logger } : {}) : path
}
