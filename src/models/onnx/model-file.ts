/** A model file as an ONNX Runtime session loads it: its path as is, or its bytes rewritten (graph-rewrite.ts). */
import { readFile } from 'node:fs/promises'
import { OcrError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { rewriteModel } from './graph-rewrite.js'

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

/**
 * What to hand ONNX Runtime for the model at `path`: its rewritten bytes, or the path itself when
 * `rewrite` is off. The engine and the bench's model-only floor both load models through this.
 */
export async function localModelSource(path: string, rewrite: boolean, logger?: Logger): Promise<string | Uint8Array> {
  return rewrite ? readRewrittenModel(path, logger) : path
}
