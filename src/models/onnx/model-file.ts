/** A model file as an ONNX Runtime session loads it: its path as is, or its bytes rewritten (graph-rewrite.ts). */
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { OcrError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { rewriteModel } from './graph-rewrite.js'
import { deriveReducedRecModel } from './rec-reduced.js'
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
 * The recogniser rewritten, then with its CTC arg-max in the graph (rec-reduced.ts), as the model
 * server's repository has it: the pipeline then asks for [n, steps] best classes and probabilities
 * instead of the [n, steps, classes] softmax, which ONNX Runtime would otherwise copy into a fresh
 * JS buffer on every batch (6.4 MB for six 320 px lines) for the CTC decoder to scan once; those
 * buffers were most of what made a worker's V8 heap collect. Same text and confidences (ArgMax
 * keeps the first index on ties, as ctcDecode). A recogniser whose output is not one float
 * [n, steps, classes] keeps its graph as rewritten.
 */
const REWRITE_REC: Derivation = {
  name: 'rewritten-rec',
  code: [...REWRITE.code, new URL(`./rec-reduced${ext}`, import.meta.url), new URL(`../rec-ctc${ext}`, import.meta.url)],
  derive(bytes) {
    const rewritten = REWRITE.derive(bytes)
    try {
      return deriveReducedRecModel(rewritten)
    } catch {
      return rewritten
    }
  },
}

/**
 * What to hand ONNX Runtime for the model at `path`: its rewritten bytes (kept on disk between runs
 * by model-cache.ts; a recogniser, `role` 'rec', with its arg-max outputs: REWRITE_REC), or the
 * path itself when `rewrite` is off (the file as it is). The engine and the bench's model-only
 * floor both load models through this.
 */
export async function localModelSource(path: string, rewrite: boolean, logger?: Logger, role?: string): Promise<string | Uint8Array> {
  if (!rewrite) return path
  return derivedModel(path, role === 'rec' ? REWRITE_REC : REWRITE, logger ? { logger } : {})
}
