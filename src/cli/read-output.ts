/**
 * Where `ocrserve read` writes its results: one stream (stdout or --out) holding every input's
 * result in input order, framed as the format says (formats/ RENDERERS[format].stream); or, with
 * --out-dir, one file per input, each written as soon as it is read.
 */
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, extname, join } from 'node:path'
import type { Writable } from 'node:stream'
import { framedStream, RENDERERS, type Format, type FramedStream, type StreamFraming } from '../formats/index.js'
import type { OcrResult } from '../types.js'
import type { InputFile } from './read-inputs.js'

/** An input's end: read (its output), failed, or cancelled by Ctrl-C (neither output nor a failure). */
export type Outcome = { ok: true; output: string | Uint8Array } | { ok: false; code: string; message: string } | { ok: 'interrupted' }

/** An input that failed, for the caller to report and count. */
export interface Failure {
  file: string
  code: string
  message: string
}

export interface ReadOutput {
  /** One input's result as this output takes it: a whole document, or its piece of the shared stream. */
  render(file: string, result: OcrResult, source: Uint8Array | undefined): Promise<string | Uint8Array>
  /** Before the first outcome (a JSON array's opening bracket). */
  begin(): void
  /** Input `index`'s outcome, in any order. Resolves with the failures now due for reporting, in input order. */
  put(index: number, outcome: Outcome): Promise<Failure[]>
  /** A failed write that stops the run (start no more inputs), or null. */
  readonly error: NodeJS.ErrnoException | null
  /** After the last outcome: completes and closes the output. Resolves with the failed write worth reporting, or null. */
  finish(): Promise<string | null>
  /** The run stops before begin (the engine did not start): drop the output. */
  abandon(): void
}

/** The output path of `rel` under --out-dir: the input's name with the format's extension. */
export function outputPath(outDir: string, rel: string, format: Format): string {
  const ext = extname(rel)
  return join(outDir, (ext ? rel.slice(0, -ext.length) : rel) + RENDERERS[format].extension)
}

/**
 * Opens the output the flags name: --out-dir (created), --out (a file), or stdout. A path that
 * cannot be written gives the usage error's message instead, before any model loads.
 */
export async function openOutput(inputs: readonly InputFile[], flags: { format: Format; out?: string | undefined; outDir?: string | undefined }): Promise<ReadOutput | string> {
  const files = inputs.map((f) => f.path)
  const { format, out, outDir } = flags
  if (outDir) {
    try {
      await mkdir(outDir, { recursive: true })
    } catch (err) {
      return `cannot write ${outDir}: ${(err as Error).message}`
    }
    return new DirOutput(format, files, inputs.map((f) => outputPath(outDir, f.rel, format)))
  }
  if (!out) return new StreamOutput(process.stdout, format, files)
  try {
    return new StreamOutput((await open(out, 'w')).createWriteStream(), format, files, out)
  } catch (err) {
    return `cannot write ${out}: ${(err as Error).message}`
  }
}

/** Values put by index in any order, handed on in index order: each as soon as every one before it has been. */
export class InOrder<T> {
  private readonly waiting = new Map<number, T>()
  private next = 0

  constructor(private readonly emit: (value: T, index: number) => void) {}

  put(index: number, value: T): void {
    this.waiting.set(index, value)
    while (this.waiting.has(this.next)) {
      const v = this.waiting.get(this.next)!
      this.waiting.delete(this.next)
      this.emit(v, this.next++)
    }
  }
}

/** One input's output alone: its whole document, nothing around it. */
const UNFRAMED = { open: '', between: '', close: '' }

/** Every input's result in one stream, in input order; several inputs framed as the format says. */
export class StreamOutput implements ReadOutput {
  error: NodeJS.ErrnoException | null = null
  /** Several inputs' framing; null for one input, which is written as its document. */
  private readonly framing: StreamFraming | null
  private readonly stream: FramedStream
  private readonly inOrder: InOrder<Outcome>
  private due: Failure[] = []

  /** `file`: the --out path (the stream is closed at the end); none: stdout (left open). */
  constructor(
    private readonly out: Writable,
    private readonly format: Format,
    private readonly files: readonly string[],
    private readonly file?: string,
  ) {
    this.framing = files.length > 1 ? RENDERERS[format].stream : null
    this.stream = framedStream(this.framing ?? UNFRAMED)
    // a failed write (disk full, or EPIPE when the reader of stdout went away, as with `| head`)
    // stops the run instead of crashing it
    out.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err
    })
    this.inOrder = new InOrder((outcome, index) => this.write(index, outcome))
  }

  async render(file: string, result: OcrResult, source: Uint8Array | undefined): Promise<string | Uint8Array> {
    if (this.framing) return this.framing.item(file, result)
    return RENDERERS[this.format].render(result, { fileName: file, ...(source ? { source } : {}) })
  }

  begin(): void {
    if (this.stream.open) this.out.write(this.stream.open)
  }

  async put(index: number, outcome: Outcome): Promise<Failure[]> {
    this.inOrder.put(index, outcome)
    const due = this.due
    this.due = []
    return due
  }

  private write(index: number, r: Outcome): void {
    const file = this.files[index]!
    if (r.ok === 'interrupted') return
    if (r.ok) {
      this.out.write(typeof r.output === 'string' ? this.stream.next(r.output) : r.output)
      return
    }
    this.due.push({ file, code: r.code, message: r.message })
    const failure = RENDERERS[this.format].stream?.failure
    if (failure) this.out.write(this.stream.next(failure(file, { code: r.code, message: r.message })))
  }

  async finish(): Promise<string | null> {
    // after Ctrl-C a JSON array holds the results written so far, still valid JSON
    if (this.stream.close && !this.error) this.out.write(this.stream.close)
    if (this.file !== undefined && !this.error) await new Promise<void>((resolve) => this.out.end(() => resolve()))
    const err = this.error as NodeJS.ErrnoException | null
    return err && err.code !== 'EPIPE' ? `cannot write ${this.file ?? 'stdout'}: ${err.message}` : null
  }

  abandon(): void {
    if (this.file !== undefined) this.out.destroy()
  }
}

/** --out-dir: each input's document in its own file as soon as it is read (a temporary name, then renamed). */
export class DirOutput implements ReadOutput {
  readonly error = null

  constructor(
    private readonly format: Format,
    private readonly files: readonly string[],
    /** Each input's output path (outputPath). */
    private readonly targets: readonly string[],
  ) {}

  async render(file: string, result: OcrResult, source: Uint8Array | undefined): Promise<string | Uint8Array> {
    return RENDERERS[this.format].render(result, { fileName: file, ...(source ? { source } : {}) })
  }

  begin(): void {}

  async put(index: number, r: Outcome): Promise<Failure[]> {
    const file = this.files[index]!
    if (r.ok === 'interrupted') return []
    if (!r.ok) return [{ file, code: r.code, message: r.message }]
    const target = this.targets[index]!
    const writeFailed = (err: unknown): Failure[] => [{ file, code: 'WRITE_FAILED', message: `cannot write ${target}: ${(err as Error).message}` }]
    try {
      await mkdir(dirname(target), { recursive: true })
    } catch (err) {
      // no folder, so no temporary file to remove (a file in the folder's place, no permission)
      return writeFailed(err)
    }
    const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.part`)
    try {
      await writeFile(tmp, r.output)
      await rename(tmp, target)
      return []
    } catch (err) {
      await rm(tmp, { force: true })
      return writeFailed(err)
    }
  }

  async finish(): Promise<null> {
    return null
  }

  abandon(): void {}
}
