/**
 * One engine's start-up in a fresh process, for `npm run bench`'s startup section:
 *
 *   node --import tsx bench/lib/startup.ts ENGINE IMAGE
 *
 * Prints one JSON line: createMs, from createEngine() to an engine ready to read (the package's
 * import, its model loading; for ocrserve its worker threads and their warm-up; for Tesseract only
 * the checks of the binary and its languages), and firstReadMs, the first read of IMAGE (for
 * Tesseract: a process started, its traineddata loaded, the image read, as for every image).
 * An engine that cannot run here prints {"unavailable": why}.
 */
import { createEngine, ENGINE_NAMES, type EngineName, EngineUnavailable, type EvalEngine } from './engines.js'

const [name, image] = process.argv.slice(2)
if (!ENGINE_NAMES.includes(name as EngineName) || !image) {
  process.stderr.write(`usage: startup.ts ENGINE IMAGE (ENGINE: ${ENGINE_NAMES.join(', ')})\n`)
  process.exit(2)
}
const t0 = performance.now()
let engine: EvalEngine
try {
  engine = await createEngine(name as EngineName)
} catch (err) {
  if (!(err instanceof EngineUnavailable)) throw err
  process.stdout.write(`${JSON.stringify({ unavailable: err.message })}\n`)
  process.exit(0)
}
const t1 = performance.now()
await engine.read(image)
const t2 = performance.now()
await engine.close()
process.stdout.write(`${JSON.stringify({ createMs: t1 - t0, firstReadMs: t2 - t1 })}\n`)
process.exit(0)
