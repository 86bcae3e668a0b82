/**
 * The import rule docs/ARCHITECTURE.md states for the wire formats: src/protocols/ is imported by
 * the model-server clients (src/inference/) and by the model server (src/model-server/), and
 * imports neither; neither side imports the other. Checked on the source tree's import
 * statements, so a change that breaks the rule fails here.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : []
  })
}

/** `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`. */
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g

/** The src-relative paths (`inference/remote.ts`) a file imports; packages are left out. */
function localImports(file: string, text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3]!
    if (!spec.startsWith('.')) continue
    out.push(relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'))
  }
  return out
}

const graph = new Map(sourceFiles(SRC).map((f) => [relative(SRC, f), localImports(f, readFileSync(f, 'utf8'))]))

/** Every import from a file under `from` of a file under `to` that `allowed` does not list. */
function violations(from: string, to: string, allowed: readonly string[] = []): string[] {
  const found: string[] = []
  for (const [file, imports] of graph) {
    if (!file.startsWith(from)) continue
    for (const target of imports) if (target.startsWith(to) && !allowed.includes(target)) found.push(`${file} → ${target}`)
  }
  return found
}

describe('import rules (docs/ARCHITECTURE.md, "Protocols")', () => {
  it('reads the imports of the source tree', () => {
    expect(localImports(join(SRC, 'model-server/x.ts'), `import a from '../protocols/rest.js'\nexport { b } from './b.js'\nimport type {\n  C,\n} from "../inference/backend.js"\nawait import('./c.js')\nimport './d.js'`)).toEqual([
      'protocols/rest.ts',
      'model-server/b.ts',
      'inference/backend.ts',
      'model-server/c.ts',
      'model-server/d.ts',
    ])
    expect(graph.get('model-server/grpc.ts')).toContain('protocols/kserve-grpc.ts')
    expect(graph.get('inference/kserve-http.ts')).toContain('protocols/kserve-rest.ts')
    for (const imports of graph.values()) for (const target of imports) expect(graph.has(target), target).toBe(true)
  })

  it('the model server imports no client: from inference/ only the Backend types and the local ONNX backend', () => {
    expect(violations('model-server/', 'inference/', ['inference/backend.ts', 'inference/local.ts'])).toEqual([])
  })

  it('no client imports the model server', () => {
    expect(violations('inference/', 'model-server/')).toEqual([])
  })

  it('protocols/ imports neither side (from inference/ only the Tensor types)', () => {
    expect(violations('protocols/', 'model-server/')).toEqual([])
    expect(violations('protocols/', 'inference/', ['inference/backend.ts'])).toEqual([])
  })

  it('model packs (docs/ARCHITECTURE.md, "The engine"): the pipeline takes a pack spec, loading packs is the composition root\'s; packs/ imports no face or pipeline', () => {
    expect(violations('pipeline/', 'packs/', ['packs/spec.ts'])).toEqual([])
    expect(violations('image/', 'packs/')).toEqual([])
    for (const above of ['pipeline/', 'server/', 'cli/', 'ocr.ts']) expect(violations('packs/', above)).toEqual([])
  })

  it('isRecord is written once', () => {
    const defs = sourceFiles(SRC).filter((f) => /function isRecord\b/.test(readFileSync(f, 'utf8')))
    expect(defs.map((f) => relative(SRC, f))).toEqual(['protocols/rest.ts'])
  })
})
