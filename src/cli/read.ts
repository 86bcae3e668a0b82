/** `ocrserve read`: OCR files and directories (images and PDFs) from the command line. */
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, extname, join, relative, resolve } from 'node:path'
import type { Writable } from 'node:stream'
import cliProgress, { type GenericFormatter, type MultiBar, type SingleBar } from 'cli-progress'
import { Command, InvalidArgumentError, Option } from 'commander'
import { parsePageRanges } from '../document/pages.js'
import { OcrError, toOcrError } from '../errors.js'
import type { Ocr } from '../engine.js'
import type { OcrResult } from '../types.js'
import { FORMATS, framedStream, RENDERERS, type Format } from '../formats/index.js'
import { EXIT_INTERRUPTED, EXIT_USAGE } from './exit-codes.js'
import { addReadFlags, engineSettingsFromReadFlags } from './setting-flags.js'

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff'])
/** What a directory walk picks up: the images above and PDFs. */
export const INPUT_EXTENSIONS = new Set([...IMAGE_EXTENSIONS, '.pdf'])

export interface InputFile {
  path: string
  /** Where its output goes under --out-dir: a file given by name → its name; a file found in a directory → its path below that directory. */
  rel: string
}

/** Files given, plus the images and PDFs found (recursively, sorted) in directories given. */
export async function collectInputs(paths: readonly string[]): Promise<InputFile[]> {
  const out: InputFile[] = []
  for (const p of paths) {
    let st
    try {
      st = await stat(p)
    } catch {
      out.push({ path: p, rel: basename(p) }) // reported as a per-file failure
      continue
    }
    if (st.isDirectory()) out.push(...(await walk(p)).map((f) => ({ path: f, rel: relative(p, f) })))
    else out.push({ path: p, rel: basename(p) })
  }
  return out
}

async function walk(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))
  const out: string[] = []
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await walk(p)))
    else if (e.isFile() && INPUT_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p)
  }
  return out
}

/** The output path of `rel` under --out-dir: the input's name with the format's extension. */
export function outputPath(outDir: string, rel: string, format: Format): string {
  const ext = extname(rel)
  return join(outDir, (ext ? rel.slice(0, -ext.length) : rel) + RENDERERS[format].extension)
}

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
    .option('-c, --concurrency <n>', 'files in flight at once (default: the number of workers)', positiveInt)
    .option('--model <name>', 'the model pack that reads the files: a name of --models (default: its first; builtin: the shipped models)')
  addReadFlags(cmd)
  cmd
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (paths: string[], flags: ReadFlags) => {
      process.exitCode = await runRead(paths, flags)
    })
}

/** A file's end: read, failed, or cancelled by Ctrl-C (neither output nor a failure). */
type Outcome = { ok: true; output: string | Uint8Array } | { ok: false; code: string; message: string } | { ok: 'interrupted' }

/** The bar's line without the file name, which takes the rest of the terminal's width. */
const BAR_LINE = '{bar} {value}/{total} pages | {files}/{fileCount} files | {eta_formatted} left | '

/**
 * The end of `path` that fits in `width` columns ("…/scans/2024/page-17.png"): where a long path
 * is cut, its file name is the part worth showing. Cut after a "/" when the file name still fits.
 */
export function fitPath(path: string, width: number): string {
  const chars = [...path]
  if (chars.length <= width) return path
  if (width < 2) return ''
  let tail = chars.slice(chars.length - (width - 1)).join('')
  const name = path.slice(path.lastIndexOf('/') + 1)
  const slash = tail.indexOf('/')
  if (slash > 0 && tail.length - slash > name.length) tail = tail.slice(slash)
  return '…' + tail
}

/** cli-progress's line with the current file fitted into the columns left (the terminal cuts longer lines). */
const barLine: GenericFormatter = (options, params, payload: { file?: string }) => {
  const line = cliProgress.Format.Formatter({ ...options, format: BAR_LINE }, params, payload)
  return line + fitPath(payload.file ?? '', params.maxWidth - line.length - 1)
}

/**
 * Page progress across all files on stderr (a TTY only). Each file counts as one page until its
 * first page reports the document's page count, so the total grows as documents are opened. A file
 * stopped by Ctrl-C is not counted as done.
 */
class PageProgress {
  private readonly multi: MultiBar | null
  private readonly bar: SingleBar | null
  private readonly expected: number[]
  private readonly done: number[]
  private filesDone = 0

  constructor(
    private readonly fileCount: number,
    enabled: boolean,
  ) {
    this.expected = new Array<number>(fileCount).fill(1)
    this.done = new Array<number>(fileCount).fill(0)
    this.multi = enabled
      ? new cliProgress.MultiBar(
          { stream: process.stderr, format: barLine, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        )
      : null
    this.bar = this.multi?.create(fileCount, 0, { files: 0, fileCount, file: '' }) ?? null
  }

  page(index: number, file: string, total: number): void {
    if (this.done[index] === 0 && total !== this.expected[index]) this.grow(index, total)
    this.done[index]!++
    this.bar?.increment(1, { file })
  }

  /** A file finished (read or failed): its uncounted pages leave the total. */
  fileDone(index: number, pagesRead: number): void {
    this.grow(index, this.done[index]! + Math.max(0, pagesRead - this.done[index]!))
    if (pagesRead > this.done[index]!) this.bar?.increment(pagesRead - this.done[index]!)
    this.done[index] = pagesRead
    this.filesDone++
    this.bar?.update({ files: this.filesDone })
  }

  /** A message above the bar (or on stderr when there is none). */
  log(msg: string): void {
    if (this.multi) this.multi.log(msg)
    else process.stderr.write(msg)
  }

  stop(): void {
    this.multi?.stop()
  }

  private grow(index: number, total: number): void {
    if (this.bar) this.bar.setTotal(this.bar.getTotal() + total - this.expected[index]!)
    this.expected[index] = total
  }
}

export async function runRead(paths: readonly string[], flags: ReadFlags): Promise<number> {
  const inputs = await collectInputs(paths)
  if (inputs.length === 0) {
    process.stderr.write('ocrserve read: no image or PDF files found\n')
    return EXIT_USAGE
  }
  const files = inputs.map((f) => f.path)
  const many = files.length > 1
  if (many && !flags.outDir && !RENDERERS[flags.format].stream) {
    process.stderr.write(`ocrserve read: --format ${flags.format} writes one document per input; with several inputs use --out-dir\n`)
    return EXIT_USAGE
  }
  const targets = flags.outDir ? inputs.map((f) => outputPath(flags.outDir!, f.rel, flags.format)) : []
  // --out-dir next to the inputs with --format pdf must not replace a PDF it reads
  const inputSet = new Set(files.map((f) => resolve(f)))
  const clobbered = targets.find((t) => inputSet.has(resolve(t)))
  if (clobbered) {
    process.stderr.write(`ocrserve read: ${clobbered} is an input; it would be overwritten (choose another --out-dir)\n`)
    return EXIT_USAGE
  }
  // two inputs that would write the same output file (a.png and a.pdf) are a usage error
  const seen = new Map<string, string>()
  for (const [i, t] of targets.entries()) {
    const other = seen.get(t)
    if (other !== undefined) {
      process.stderr.write(`ocrserve read: ${other} and ${files[i]} would both be written to ${t}\n`)
      return EXIT_USAGE
    }
    seen.set(t, files[i]!)
  }
  // open the output first: a bad --out path is a usage error, reported before the models load
  let out: Writable = process.stdout
  if (flags.outDir) {
    try {
      await mkdir(flags.outDir, { recursive: true })
    } catch (err) {
      process.stderr.write(`ocrserve read: cannot write ${flags.outDir}: ${(err as Error).message}\n`)
      return EXIT_USAGE
    }
  } else if (flags.out) {
    try {
      out = (await open(flags.out, 'w')).createWriteStream()
    } catch (err) {
      process.stderr.write(`ocrserve read: cannot write ${flags.out}: ${(err as Error).message}\n`)
      return EXIT_USAGE
    }
  }
  // a failed write (disk full, or EPIPE when the reader of stdout went away, as with `| head`)
  // stops the run instead of crashing it
  let outError: NodeJS.ErrnoException | null = null
  out.on('error', (err: NodeJS.ErrnoException) => {
    outError ??= err
  })
  // the engine (and, for a searchable PDF, the document reader) are loaded only now: a usage
  // error above is reported without loading them
  const { createOcr } = await import('../ocr.js')
  const readInputFile = RENDERERS[flags.format].needsSource ? (await import('../document/document.js')).readInputFile : null
  // Ctrl-C: start no more files, cancel the ones in flight, keep what is written complete
  const interrupt = new AbortController()
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(EXIT_INTERRUPTED) // a second Ctrl-C: now
    interrupt.abort()
  }
  process.on('SIGINT', onSigint)
  try {
    let ocr: Ocr
    try {
      ocr = await createOcr({
        ...engineSettingsFromReadFlags(flags),
        maxQueue: Number.MAX_SAFE_INTEGER,
        timeoutMs: CLI_JOB_TIMEOUT_MS,
        // one file is read by one job: one worker with every core's threads, not a pool (whose
        // other workers would load their sessions only to help with that job's lines)
        ...(flags.workers === undefined && files.length === 1 ? { workers: 1 } : {}),
      })
    } catch (err) {
      if (out !== process.stdout) out.destroy()
      // settings only the engine can check (a model pack's files): a start-up error, exit 2
      if (!(err instanceof OcrError && err.code === 'INVALID_CONFIG')) throw err
      process.stderr.write(`ocrserve read: ${err.message}\n`)
      return EXIT_USAGE
    }
    try {
      ocr.resolveModel(flags.model)
    } catch (err) {
      // an unknown --model is a usage error, said before any file is read
      await ocr.close()
      if (out !== process.stdout) out.destroy()
      process.stderr.write(`ocrserve read: --model: ${(err as Error).message}\n`)
      return EXIT_USAGE
    }
    const progress = new PageProgress(files.length, flags.progress && process.stderr.isTTY === true)
    const concurrency = flags.concurrency ?? ocr.stats().workers
    const results: (Outcome | undefined)[] = new Array(files.length)
    const renderer = RENDERERS[flags.format]
    // stdout / --out: several inputs framed as the format says (a JSON array, JSON Lines, text with
    // a header per file); one input: its document
    const stream = framedStream(many && renderer.stream ? renderer.stream : { open: '', between: '', close: '' })
    let failed = 0
    let finished = 0
    let nextToPrint = 0
    let nextToStart = 0
    const fail = (file: string, code: string, message: string): void => {
      failed++
      progress.log(`ocrserve read: ${file}: ${code}: ${message}\n`)
    }
    // stdout / --out: results in input order
    const emit = (): void => {
      while (nextToPrint < files.length && results[nextToPrint]) {
        const r = results[nextToPrint]!
        const file = files[nextToPrint]!
        if (r.ok === 'interrupted') {
          // nothing to print
        } else if (r.ok) {
          out.write(typeof r.output === 'string' ? stream.next(r.output) : r.output)
        } else {
          fail(file, r.code, r.message)
          const failure = renderer.stream?.failure
          if (failure) out.write(stream.next(failure(file, { code: r.code, message: r.message })))
        }
        results[nextToPrint] = undefined as never
        nextToPrint++
      }
    }
    // --out-dir: each result to its own file as soon as it is read (temp name, then rename)
    const writeOne = async (i: number, r: Outcome): Promise<void> => {
      const file = files[i]!
      if (r.ok === 'interrupted') return
      if (!r.ok) return fail(file, r.code, r.message)
      const target = targets[i]!
      const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.part`)
      try {
        await mkdir(dirname(target), { recursive: true })
        await writeFile(tmp, r.output)
        await rename(tmp, target)
      } catch (err) {
        await rm(tmp, { force: true })
        fail(file, 'WRITE_FAILED', `cannot write ${target}: ${(err as Error).message}`)
      }
    }
    /** A result as the output wants it: one document per file (--out-dir, binary formats), or a piece of the shared stream. */
    const render = async (file: string, result: OcrResult, source: Uint8Array | undefined): Promise<string | Uint8Array> => {
      if (!flags.outDir && many) return renderer.stream!.item(file, result)
      return renderer.render(result, { fileName: file, ...(source ? { source } : {}) })
    }
    if (!flags.outDir && stream.open) out.write(stream.open)
    const worker = async (): Promise<void> => {
      while (nextToStart < files.length && !outError && !interrupt.signal.aborted) {
        const i = nextToStart++
        const file = files[i]!
        let outcome: Outcome
        try {
          // a searchable PDF is built on the input's own pages: read the file once, OCR those bytes
          const source = readInputFile ? await readInputFile(file) : undefined
          const result = await ocr.read(source ?? file, {
            signal: interrupt.signal,
            onPage: (_page, { total }) => progress.page(i, file, total),
            ...(flags.pages !== undefined ? { pages: flags.pages } : {}),
            ...(flags.model !== undefined ? { model: flags.model } : {}),
          })
          progress.fileDone(i, result.pages.length)
          try {
            outcome = { ok: true, output: await render(file, result, source) }
          } catch (err) {
            const e = toOcrError(err)
            outcome = { ok: false, code: e.code, message: `cannot write --format ${flags.format}: ${e.message}` }
          }
        } catch (err) {
          const e = toOcrError(err)
          // an interrupted file is neither output nor a failure, nor done: the run stops
          if (interrupt.signal.aborted && e.code === 'CANCELLED') {
            outcome = { ok: 'interrupted' }
          } else {
            progress.fileDone(i, 0)
            outcome = { ok: false, code: e.code, message: e.message }
          }
        }
        if (outcome.ok !== 'interrupted') finished++
        if (flags.outDir) await writeOne(i, outcome)
        else {
          results[i] = outcome
          emit()
        }
      }
    }
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker))
    } finally {
      progress.stop()
      await ocr.close()
    }
    // after Ctrl-C a JSON array holds the results printed so far, still valid JSON
    if (!flags.outDir && stream.close && !outError) out.write(stream.close)
    if (out !== process.stdout && !outError) await new Promise<void>((resolve) => out.end(() => resolve()))
    const writeError = outError as NodeJS.ErrnoException | null
    if (writeError && writeError.code !== 'EPIPE') {
      process.stderr.write(`ocrserve read: cannot write ${flags.out ?? 'stdout'}: ${writeError.message}\n`)
      return 1
    }
    if (interrupt.signal.aborted) {
      const failures = failed > 0 ? ` (${failed} failed)` : ''
      process.stderr.write(`ocrserve read: interrupted: ${finished} of ${files.length} files done${failures}, the rest not read\n`)
      return EXIT_INTERRUPTED
    }
    if (failed > 0) process.stderr.write(`ocrserve read: ${failed} of ${files.length} files failed\n`)
    return failed > 0 ? 1 : 0
  } finally {
    process.off('SIGINT', onSigint)
  }
}
