/**
 * Models derived from the shipped ones, kept on disk between runs. The graph rewrites
 * (graph-rewrite.ts) cost ~0.3 s of every start on the 2-core machine (ocrserve read of one file
 * spends that before its first page; serve before it is ready), and their output depends only on
 * the model's bytes and the code that rewrites it. So the first run writes the result under
 * node_modules/.cache/ocrserve/ (beside the models' package) and later runs read it back.
 *
 * An entry is named by a hash of the model's bytes and of the source files of the code that
 * derives it, so a new model or a changed rewrite gets a new entry, never a stale one. It is
 * written under a temporary name and renamed whole (two processes writing the same entry write
 * the same bytes). A cache that cannot be read or written (a read-only install, as in the images)
 * costs nothing but the derivation, as without a cache.
 */
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { OcrError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { modelsDir } from '../assets.js'

export interface Derivation {
  /** Names the derivation in entry names (`rewritten`). */
  name: string
  /** The source files whose code decides the output (hashed into the entry's name). */
  code: readonly URL[]
  derive(bytes: Uint8Array): Uint8Array
}

/** node_modules/.cache/ocrserve/models in the node_modules that holds the models' package. */
export function defaultCacheDir(): string {
  return join(modelsDir(), '..', '..', '..', '.cache', 'ocrserve', 'models')
}

/** Hashes of the derivations' code, computed once per process. */
const codeHashes = new Map<Derivation, Promise<string>>()

function codeHash(how: Derivation): Promise<string> {
  let h = codeHashes.get(how)
  if (!h) {
    h = Promise.all(how.code.map((u) => readFile(fileURLToPath(u)))).then((files) => {
      const hash = createHash('sha256')
      for (const f of files) hash.update(f)
      return hash.digest('hex')
    })
    codeHashes.set(how, h)
  }
  return h
}

/**
 * Entries of one model and derivation beyond the newest KEEP_ENTRIES are dead weight (another
 * model version, or code since changed). Two stay: the compiled code (dist/) and the TypeScript
 * sources (tests, tsx) hash differently, and each has its entry.
 */
const KEEP_ENTRIES = 2

async function pruneOlder(dir: string, stem: string): Promise<void> {
  const entries = (await readdir(dir)).filter((f) => f.startsWith(stem) && f.endsWith('.onnx'))
  const dated = await Promise.all(entries.map(async (f) => ({ f, at: (await stat(join(dir, f))).mtimeMs })))
  dated.sort((a, b) => b.at - a.at)
  for (const { f } of dated.slice(KEEP_ENTRIES)) await rm(join(dir, f), { force: true })
}

/**
 * The model at `path` derived by `how`: from the cache when an entry for these bytes and this code
 * is there, else derived and written to the cache (best effort).
 */
export async function derivedModel(path: string, how: Derivation, options: { dir?: string; logger?: Logger } = {}): Promise<Uint8Array> {
  const { dir = defaultCacheDir(), logger } = options
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new OcrError('MODEL_ERROR', `cannot read model ${path}: ${(err as Error).message}`, { cause: err })
  }
  const key = createHash('sha256').update(bytes).update(await codeHash(how)).digest('hex').slice(0, 32)
  const stem = `${basename(path).replace(/\.onnx$/, '')}.${how.name}.`
  const entry = join(dir, `${stem}${key}.onnx`)
  try {
    const cached = await readFile(entry)
    logger?.debug({ model: path, entry }, 'model read from the cache')
    return cached
  } catch {
    // not cached yet (or unreadable): derive it
  }
  const out = how.derive(bytes)
  try {
    await mkdir(dirname(entry), { recursive: true })
    const tmp = `${entry}.${process.pid}.${Math.random().toString(36).slice(2)}.part`
    await writeFile(tmp, out)
    await rename(tmp, entry)
    await pruneOlder(dir, stem)
  } catch (err) {
    logger?.debug({ model: path, dir, err: (err as Error).message }, 'model cache not written')
  }
  return out
}
