/** `ocrserve read`: OCR files and directories (images and PDFs) from the command line. */
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, extname, join, relative, resolve } from 'node:path'
import type { Writable } from 'node:stream'
import { MultiBar, Presets, type SingleBar } from 'cli-progress'
import { Command, InvalidArgumentError, Option } from 'commander'
import { PDF_DPI_RANGE, PDF_TEXT_MODES } from '../config.js'
import { readInputFile } from '../document/document.js'
import { parsePageRanges } from '../document/pages.js'
import { toOcrError } from '../errors.js'
import { createOcr } from '../ocr.js'
import type { OcrResult, PdfTextMode } from '../types.js'
import { FORMAT_INFO, formatResult, FORMATS, renderResult, type Format } from '../formats/index.js'
import { formatNeedsWords } from '../formats/words.js'

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff'])
/** What a directory walk picks up: the images above and PDFs. */
export const INPUT_EXTENSIONS = new Set([...IMAGE_EXTENSIONS, '.pdf'])

/** Formats whose outputs for several files can share one stream (stdout, --out); the others (hOCR, ALTO, PDF) are one document per file. */
const STREAMABLE: readonly Format[] = ['json', 'jsonl', 'text']

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
  return join(outDir, (ext ? rel.slice(0, -ext.length) : rel) + FORMAT_INFO[format].extension)
}

function positiveInt(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

/** --dpi: the engine's accepted range (OCR_PDF_DPI). */
function dpiValue(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < PDF_DPI_RANGE.min || n > PDF_DPI_RANGE.max) throw new InvalidArgumentError(`must be an integer from ${PDF_DPI_RANGE.min} to ${PDF_DPI_RANGE.max}`)
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
  workers?: number
  threadsPerWorker?: number
  cls: boolean
  autoRotate: boolean
  maxPixels?: number
  maxPages?: number
  detLimitSideLen?: number
  pages?: string
  dpi?: number
  pdfText?: PdfTextMode
  words: boolean
  progress: boolean
}

/** Exit status after Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130
/** A CLI run has no request deadline; a stuck job still ends (a 1000-page book at 20 s a page fits). */
const CLI_JOB_TIMEOUT_MS = 6 * 3600_000

export function register(program: Command): void {
  program
    .command('read')
    .description('OCR image and PDF files, or every image and PDF in directories; one result per file')
    .argument('<paths...>', 'image or PDF files, or directories (searched recursively)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('json'))
    .addOption(new Option('-o, --out <file>', 'write the output to FILE instead of stdout').conflicts('outDir'))
    .option('--out-dir <dir>', 'write one output file per input into DIR (input name, format extension; sub-directories mirrored)')
    .option('--pages <ranges>', 'pages of each document to read, e.g. 1-3,7 or 5- (default all)', pageRanges)
    .option('--dpi <n>', 'PDF pages are rendered at this resolution (36-1200, default 200)', dpiValue)
    .addOption(new Option('--pdf-text <mode>', 'PDF pages with a text layer: auto uses it, ocr always OCRs, embedded never OCRs (default auto)').choices(PDF_TEXT_MODES))
    .option('--words', 'give every line its words with their boxes (json, jsonl; hocr, alto and pdf always place every word)', false)
    .option('-c, --concurrency <n>', 'files in flight at once (default: the number of workers)', positiveInt)
    .option('--workers <n>', 'pipeline worker threads (default: one per core)', positiveInt)
    .option('--threads-per-worker <n>', 'ONNX Runtime intra-op threads per worker', positiveInt)
    .option('--no-cls', 'skip the 0/180° angle classifier')
    .option('--no-auto-rotate', 'do not detect pages turned 90/180/270°')
    .option('--max-pixels <n>', 'largest image or rendered PDF page accepted (width × height)', positiveInt)
    .option('--max-pages <n>', 'most pages of one document (default 100)', positiveInt)
    .option('--det-limit-side-len <n>', 'detector input bound on the longer side', positiveInt)
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (paths: string[], flags: ReadFlags) => {
      process.exitCode = await runRead(paths, flags)
    })
}

/** A file's end: read, failed, or cancelled by Ctrl-C (neither output nor a failure). */
type Outcome = { ok: true; output: string | Uint8Array } | { ok: false; code: string; message: string } | { ok: 'interrupted' }

/**
 * Page progress across all files on stderr (a TTY only). Each file counts as one page until its
 * first page reports the document's page count, so the total grows as documents are opened.
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
      ? new MultiBar(
          { stream: process.stderr, format: '{bar} {value}/{total} pages | {files}/{fileCount} files | {eta_formatted} left | {file}', hideCursor: true, clearOnComplete: false },
          Presets.shades_classic,
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
    return 2
  }
  const files = inputs.map((f) => f.path)
  const many = files.length > 1
  if (many && !flags.outDir && !STREAMABLE.includes(flags.format)) {
    process.stderr.write(`ocrserve read: --format ${flags.format} writes one document per input; with several inputs use --out-dir\n`)
    return 2
  }
  const targets = flags.outDir ? inputs.map((f) => outputPath(flags.outDir!, f.rel, flags.format)) : []
  // --out-dir next to the inputs with --format pdf must not replace a PDF it reads
  const inputSet = new Set(files.map((f) => resolve(f)))
  const clobbered = targets.find((t) => inputSet.has(resolve(t)))
  if (clobbered) {
    process.stderr.write(`ocrserve read: ${clobbered} is an input; it would be overwritten (choose another --out-dir)\n`)
    return 2
  }
  // two inputs that would write the same output file (a.png and a.pdf) are a usage error
  const seen = new Map<string, string>()
  for (const [i, t] of targets.entries()) {
    const other = seen.get(t)
    if (other !== undefined) {
      process.stderr.write(`ocrserve read: ${other} and ${files[i]} would both be written to ${t}\n`)
      return 2
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
      return 2
    }
  } else if (flags.out) {
    try {
      out = (await open(flags.out, 'w')).createWriteStream()
    } catch (err) {
      process.stderr.write(`ocrserve read: cannot write ${flags.out}: ${(err as Error).message}\n`)
      return 2
    }
  }
  // a failed write (disk full, or EPIPE when the reader of stdout went away, as with `| head`)
  // stops the run instead of crashing it
  let outError: NodeJS.ErrnoException | null = null
  out.on('error', (err: NodeJS.ErrnoException) => {
    outError ??= err
  })
  // Ctrl-C: start no more files, cancel the ones in flight, keep what is written complete
  const interrupt = new AbortController()
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(EXIT_INTERRUPTED) // a second Ctrl-C: now
    interrupt.abort()
  }
  process.on('SIGINT', onSigint)
  try {
    const ocr = await createOcr({
      useCls: flags.cls,
      autoRotate: flags.autoRotate,
      maxQueue: Number.MAX_SAFE_INTEGER,
      timeoutMs: CLI_JOB_TIMEOUT_MS,
      ...(flags.workers ? { workers: flags.workers } : {}),
      ...(flags.threadsPerWorker ? { threadsPerWorker: flags.threadsPerWorker } : {}),
      ...(flags.maxPixels ? { maxPixels: flags.maxPixels } : {}),
      ...(flags.maxPages ? { maxPages: flags.maxPages } : {}),
      ...(flags.detLimitSideLen ? { detLimitSideLen: flags.detLimitSideLen } : {}),
    }).catch((err: unknown) => {
      if (out !== process.stdout) out.destroy()
      throw err
    })
    const progress = new PageProgress(files.length, flags.progress && process.stderr.isTTY === true)
    const concurrency = flags.concurrency ?? ocr.stats().workers
    const results: (Outcome | undefined)[] = new Array(files.length)
    let failed = 0
    let finished = 0
    let nextToPrint = 0
    let nextToStart = 0
    let jsonItems = 0
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
          const sep = flags.format === 'json' && many ? (jsonItems++ > 0 ? ',\n' : '') : ''
          out.write(typeof r.output === 'string' ? sep + r.output : r.output)
        } else {
          fail(file, r.code, r.message)
          if (flags.format === 'jsonl') out.write(JSON.stringify({ file, error: { code: r.code, message: r.message } }) + '\n')
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
      if (!flags.outDir && !FORMAT_INFO[flags.format].binary) return formatResult(flags.format, file, result, many)
      return renderResult(flags.format, result, { fileName: file, ...(source ? { source } : {}) })
    }
    if (!flags.outDir && flags.format === 'json' && many) out.write('[\n')
    const worker = async (): Promise<void> => {
      while (nextToStart < files.length && !outError && !interrupt.signal.aborted) {
        const i = nextToStart++
        const file = files[i]!
        let outcome: Outcome
        try {
          // a searchable PDF is built on the input's own pages: read the file once, OCR those bytes
          const source = FORMAT_INFO[flags.format].binary ? await readInputFile(file) : undefined
          const result = await ocr.read(source ?? file, {
            signal: interrupt.signal,
            onPage: (_page, { total }) => progress.page(i, file, total),
            ...(flags.pages !== undefined ? { pages: flags.pages } : {}),
            ...(flags.dpi !== undefined ? { dpi: flags.dpi } : {}),
            ...(flags.pdfText !== undefined ? { pdfText: flags.pdfText } : {}),
            words: flags.words || formatNeedsWords(flags.format),
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
          progress.fileDone(i, 0)
          // an interrupted file is neither output nor a failure: the run stops
          outcome = interrupt.signal.aborted && e.code === 'CANCELLED' ? { ok: 'interrupted' } : { ok: false, code: e.code, message: e.message }
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
    if (!flags.outDir && flags.format === 'json' && many && !outError) {
      // after Ctrl-C the array holds the results printed so far, still valid JSON
      out.write('\n]\n')
    }
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
