/**
 * `ocrserve read`: OCR files and directories (images and PDFs) from the command line. runRead puts
 * the parts together: the inputs and usage checks (read-inputs.ts), the output (read-output.ts),
 * the engine, Ctrl-C (interrupt.ts), a pool of files in flight (pool.ts) and the progress bar
 * (read-progress.ts).
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { parsePageRanges } from '../document/pages.js'
import { OcrError, toOcrError } from '../errors.js'
import type { Ocr } from '../engine.js'
import type { ReadOptions } from '../types.js'
import { formatNeedsWords, FORMATS, RENDERERS, type Format } from '../formats/index.js'
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE } from './exit-codes.js'
import { interruptOnCtrlC } from './interrupt.js'
import { runPool } from './pool.js'
import { collectInputs, usageError } from './read-inputs.js'
import { openOutput, type Failure, type Outcome, type ReadOutput } from './read-output.js'
import { PageProgress } from './read-progress.js'
import { addReadFlags, engineSettingsFromReadFlags } from './setting-flags.js'

function positiveInt(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

/** --pages: checked here so a malformed range is a usage error before the models load. */
function pageRanges(v: string): string {
  try {
    parsePageRanges(v)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
  return v
}

export interface ReadFlags {
  format: Format
  out?: string
  outDir?: string
  concurrency?: number
  pages?: string
  /** The model pack that reads the files (one of --models / OCR_MODELS). */
  model?: string
  words: boolean
  progress: boolean
  /** The engine settings' flags (--workers, --no-cls, --dpi, …: cli/setting-flags.ts). */
  [setting: string]: unknown
}

/** A CLI run has no request deadline; a stuck job still ends (a 1000-page book at 20 s a page fits). */
const CLI_JOB_TIMEOUT_MS = 6 * 3600_000

export function register(program: Command): void {
  const cmd = program
    .command('read')
    .description('OCR image and PDF files, or every image and PDF in directories; one result per file')
    .argument('<paths...>', 'image or PDF files, or directories (searched recursively)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('json'))
    .addOption(new Option('-o, --out <file>', 'write the output to FILE instead of stdout').conflicts('outDir'))
    .option('--out-dir <dir>', 'write one output file per input into DIR (input name, format extension; sub-directories mirrored)')
    .option('--pages <ranges>', 'pages of each document to read, e.g. 1-3,7 or 5- (default all)', pageRanges)
    .option('--words', 'give every line its words with their boxes (json, jsonl; hocr, alto and pdf always place every word)', false)
    .option('-c, --concurrency <n>', 'files in flight at once (default: the number of workers)', positiveInt)
    .option('--model <name>', 'the model pack that reads the files: a name of --models (default: its first; builtin: the shipped models)')
  addReadFlags(cmd)
  cmd
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (paths: string[], flags: ReadFlags) => {
      process.exitCode = await runRead(paths, flags)
    })
}

/** What every file is read with, from the flags (the signal and the progress callback are added per file). */
function readOptions(flags: ReadFlags): ReadOptions {
  return {
    ...(flags.pages !== undefined ? { pages: flags.pages } : {}),
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    words: flags.words || formatNeedsWords(flags.format),
  }
}

/** A usage error: its message on stderr, exit 2. */
function usage(message: string): number {
  process.stderr.write(`ocrserve read: ${message}\n`)
  return EXIT_USAGE
}

/**
 * The engine for this run, or the usage error's message that stops it: a setting only the engine
 * can check (a model pack's files), or an unknown --model, said before any file is read.
 */
async function startEngine(createOcr: typeof import('../ocr.js').createOcr, flags: ReadFlags, fileCount: number): Promise<Ocr | string> {
  let ocr: Ocr
  try {
    ocr = await createOcr({
      ...engineSettingsFromReadFlags(flags),
      maxQueue: Number.MAX_SAFE_INTEGER,
      timeoutMs: CLI_JOB_TIMEOUT_MS,
      // one file is read by one job: one worker with every core's threads, not a pool (whose
      // other workers would load their sessions only to help with that job's lines)
      ...(flags.workers === undefined && fileCount === 1 ? { workers: 1 } : {}),
    })
  } catch (err) {
    if (!(err instanceof OcrError && err.code === 'INVALID_CONFIG')) throw err
    return err.message
  }
  try {
    ocr.resolveModel(flags.model)
  } catch (err) {
    await ocr.close()
    return `--model: ${(err as Error).message}`
  }
  return ocr
}

interface FileReader {
  ocr: Ocr
  output: ReadOutput
  progress: PageProgress
  signal: AbortSignal
  format: Format
  options: ReadOptions
  /** The input's bytes, when the format is built on them (a searchable PDF on the input's own pages); null: the engine reads the file. */
  readSource: ((file: string) => Promise<Uint8Array>) | null
}

/** Reads input `index` and renders its result for the output; every error becomes the file's outcome. */
async function readOne(r: FileReader, index: number, file: string): Promise<Outcome> {
  try {
    const source = r.readSource ? await r.readSource(file) : undefined
    const result = await r.ocr.read(source ?? file, { ...r.options, signal: r.signal, onPage: (_page, { total }) => r.progress.page(index, file, total) })
    r.progress.fileDone(index, result.pages.length)
    try {
      return { ok: true, output: await r.output.render(file, result, source) }
    } catch (err) {
      const e = toOcrError(err)
      return { ok: false, code: e.code, message: `cannot write --format ${r.format}: ${e.message}` }
    }
  } catch (err) {
    const e = toOcrError(err)
    // an interrupted file is neither output nor a failure, nor done: the run stops
    if (r.signal.aborted && e.code === 'CANCELLED') return { ok: 'interrupted' }
    r.progress.fileDone(index, 0)
    return { ok: false, code: e.code, message: e.message }
  }
}

/** The run's last line on stderr and its exit status: a failed write, Ctrl-C, failed inputs, or none of those (0). */
function endOfRun(writeError: string | null, interrupted: boolean, counts: { failed: number; finished: number; total: number }): number {
  const { failed, finished, total } = counts
  if (writeError) {
    process.stderr.write(`ocrserve read: ${writeError}\n`)
    return EXIT_FAILED
  }
  if (interrupted) {
    const failures = failed > 0 ? ` (${failed} failed)` : ''
    process.stderr.write(`ocrserve read: interrupted: ${finished} of ${total} files done${failures}, the rest not read\n`)
    return EXIT_INTERRUPTED
  }
  if (failed > 0) process.stderr.write(`ocrserve read: ${failed} of ${total} files failed\n`)
  return failed > 0 ? EXIT_FAILED : 0
}

export async function runRead(paths: readonly string[], flags: ReadFlags): Promise<number> {
  const inputs = await collectInputs(paths)
  const problem = usageError(inputs, flags)
  if (problem) return usage(problem)
  const files = inputs.map((f) => f.path)
  // open the output first: a bad --out path is a usage error, reported before the models load
  const output = await openOutput(inputs, flags)
  if (typeof output === 'string') return usage(output)
  // the engine (and, for a searchable PDF, the document reader) are loaded only now: a usage
  // error above is reported without loading them
  const { createOcr } = await import('../ocr.js')
  const readSource = RENDERERS[flags.format].needsSource ? (await import('../document/document.js')).readInputFile : null
  const interrupt = interruptOnCtrlC()
  try {
    let ocr: Ocr | string = ''
    try {
      ocr = await startEngine(createOcr, flags, files.length)
    } finally {
      if (typeof ocr === 'string') output.abandon()
    }
    if (typeof ocr === 'string') return usage(ocr)
    const progress = new PageProgress(files.length, flags.progress && process.stderr.isTTY === true)
    const reader: FileReader = { ocr, output, progress, signal: interrupt.signal, format: flags.format, options: readOptions(flags), readSource }
    let failed = 0
    let finished = 0
    const report = (failures: Failure[]): void => {
      for (const f of failures) {
        failed++
        progress.log(`ocrserve read: ${f.file}: ${f.code}: ${f.message}\n`)
      }
    }
    output.begin()
    try {
      await runPool(
        files.length,
        flags.concurrency ?? ocr.stats().workers,
        async (i) => {
          const outcome = await readOne(reader, i, files[i]!)
          if (outcome.ok !== 'interrupted') finished++
          report(await output.put(i, outcome))
        },
        () => output.error !== null || interrupt.signal.aborted,
      )
    } finally {
      progress.stop()
      await ocr.close()
    }
    return endOfRun(await output.finish(), interrupt.signal.aborted, { failed, finished, total: files.length })
  } finally {
    interrupt.dispose()
  }
}
