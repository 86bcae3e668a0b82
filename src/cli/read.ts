/** `ocrserve read`: OCR files and directories from the command line. */
import { open, readdir, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import type { Writable } from 'node:stream'
import { SingleBar, Presets } from 'cli-progress'
import { Command, InvalidArgumentError, Option } from 'commander'
import { toOcrError } from '../errors.js'
import { createOcr } from '../ocr.js'
import type { OcrResult } from '../types.js'
import { formatResult, FORMATS, type Format } from '../formats/index.js'

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff'])

/** Files given, plus the images found (recursively, sorted) in directories given. */
export async function collectInputs(paths: readonly string[]): Promise<string[]> {
  const out: string[] = []
  for (const p of paths) {
    let st
    try {
      st = await stat(p)
    } catch {
      out.push(p) // reported as a per-file failure
      continue
    }
    if (st.isDirectory()) out.push(...(await walk(p)))
    else out.push(p)
  }
  return out
}

async function walk(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))
  const out: string[] = []
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await walk(p)))
    else if (e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p)
  }
  return out
}

function positiveInt(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

interface ReadFlags {
  format: Format
  out?: string
  concurrency?: number
  workers?: number
  threadsPerWorker?: number
  cls: boolean
  autoRotate: boolean
  maxPixels?: number
  detLimitSideLen?: number
  progress: boolean
}

export function register(program: Command): void {
  program
    .command('read')
    .description('OCR image files, or every image in directories; one result per file')
    .argument('<paths...>', 'image files or directories (searched recursively)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('json'))
    .option('-o, --out <file>', 'write the output to FILE instead of stdout')
    .option('-c, --concurrency <n>', 'files in flight at once (default: the number of workers)', positiveInt)
    .option('--workers <n>', 'pipeline worker threads (default: one per core)', positiveInt)
    .option('--threads-per-worker <n>', 'ONNX Runtime intra-op threads per worker', positiveInt)
    .option('--no-cls', 'skip the 0/180° angle classifier')
    .option('--no-auto-rotate', 'do not detect pages turned 90/180/270°')
    .option('--max-pixels <n>', 'largest image accepted (width × height)', positiveInt)
    .option('--det-limit-side-len <n>', 'detector input bound on the longer side', positiveInt)
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (paths: string[], flags: ReadFlags) => {
      process.exitCode = await runRead(paths, flags)
    })
}

export async function runRead(paths: readonly string[], flags: ReadFlags): Promise<number> {
  const files = await collectInputs(paths)
  if (files.length === 0) {
    process.stderr.write('ocrserve read: no image files found\n')
    return 2
  }
  // open the output first: a bad --out path is a usage error, reported before the models load
  let out: Writable = process.stdout
  if (flags.out) {
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
  const ocr = await createOcr({
    useCls: flags.cls,
    autoRotate: flags.autoRotate,
    maxQueue: Number.MAX_SAFE_INTEGER,
    timeoutMs: 10 * 60_000,
    ...(flags.workers ? { workers: flags.workers } : {}),
    ...(flags.threadsPerWorker ? { threadsPerWorker: flags.threadsPerWorker } : {}),
    ...(flags.maxPixels ? { maxPixels: flags.maxPixels } : {}),
    ...(flags.detLimitSideLen ? { detLimitSideLen: flags.detLimitSideLen } : {}),
  }).catch((err: unknown) => {
    if (out !== process.stdout) out.destroy()
    throw err
  })
  const bar =
    flags.progress && process.stderr.isTTY && files.length > 3
      ? new SingleBar({ stream: process.stderr, format: '{bar} {value}/{total} files | {eta_formatted} left | {file}', hideCursor: true }, Presets.shades_classic)
      : null
  bar?.start(files.length, 0, { file: '' })
  const concurrency = flags.concurrency ?? ocr.stats().workers
  const results: ({ ok: true; result: OcrResult } | { ok: false; code: string; message: string } | undefined)[] = new Array(files.length)
  let failed = 0
  let nextToPrint = 0
  let nextToStart = 0
  let jsonItems = 0
  const emit = (): void => {
    while (nextToPrint < files.length && results[nextToPrint]) {
      const r = results[nextToPrint]!
      const file = files[nextToPrint]!
      if (r.ok) {
        const many = files.length > 1
        const sep = flags.format === 'json' && many ? (jsonItems++ > 0 ? ',\n' : '') : ''
        out.write(sep + formatResult(flags.format, file, r.result, many))
      }
      else {
        failed++
        const msg = `ocrserve read: ${file}: ${r.code}: ${r.message}\n`
        if (bar) bar.stop()
        process.stderr.write(msg)
        if (flags.format === 'jsonl') out.write(JSON.stringify({ file, error: { code: r.code, message: r.message } }) + '\n')
      }
      results[nextToPrint] = undefined as never
      nextToPrint++
    }
  }
  if (flags.format === 'json' && files.length > 1) out.write('[\n')
  const worker = async (): Promise<void> => {
    while (nextToStart < files.length && !outError) {
      const i = nextToStart++
      const file = files[i]!
      try {
        results[i] = { ok: true, result: await ocr.read(file) }
      } catch (err) {
        const e = toOcrError(err)
        results[i] = { ok: false, code: e.code, message: e.message }
      }
      bar?.increment(1, { file })
      emit()
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker))
  } finally {
    bar?.stop()
    await ocr.close()
  }
  if (flags.format === 'json' && files.length > 1 && !outError) out.write('\n]\n')
  if (out !== process.stdout && !outError) await new Promise<void>((resolve) => out.end(() => resolve()))
  const writeError = outError as NodeJS.ErrnoException | null
  if (writeError && writeError.code !== 'EPIPE') {
    process.stderr.write(`ocrserve read: cannot write ${flags.out ?? 'stdout'}: ${writeError.message}\n`)
    return 1
  }
  if (failed > 0) process.stderr.write(`ocrserve read: ${failed} of ${files.length} files failed\n`)
  return failed > 0 ? 1 : 0
}
