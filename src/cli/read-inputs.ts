/**
 * `ocrserve read`'s inputs: the files named and found in directories, and the checks on inputs and
 * output flags that make a usage error before anything loads.
 */
import { readdir, stat } from 'node:fs/promises'
import { basename, extname, join, relative, resolve } from 'node:path'
import { RENDERERS, type Format } from '../formats/index.js'
import { outputPath } from './read-output.js'

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

/** Why these inputs cannot be written as the flags ask (a usage error's message), or null. */
export function usageError(inputs: readonly InputFile[], flags: { format: Format; outDir?: string | undefined }): string | null {
  if (inputs.length === 0) return 'no image or PDF files found'
  const { format, outDir } = flags
  if (!outDir) {
    return inputs.length > 1 && !RENDERERS[format].stream ? `--format ${format} writes one document per input; with several inputs use --out-dir` : null
  }
  const targets = inputs.map((f) => outputPath(outDir, f.rel, format))
  // --out-dir next to the inputs with --format pdf must not replace a PDF it reads
  const inputSet = new Set(inputs.map((f) => resolve(f.path)))
  const clobbered = targets.find((t) => inputSet.has(resolve(t)))
  if (clobbered) return `${clobbered} is an input; it would be overwritten (choose another --out-dir)`
  // two inputs that would write the same output file (a.png and a.pdf)
  const seen = new Map<string, string>()
  for (const [i, t] of targets.entries()) {
    const other = seen.get(t)
    if (other !== undefined) return `${other} and ${inputs[i]!.path} would both be written to ${t}`
    seen.set(t, inputs[i]!.path)
  }
  return null
}
