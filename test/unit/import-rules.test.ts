/**
 * The import rules docs/ARCHITECTURE.md states, checked on the source tree's import statements, so
 * a change that breaks one fails here:
 * - the layers ("Layers": the page's table is read here): a file imports files of its own layer
 *   and of layers below it, never above;
 * - the wire formats ("Protocols"): src/protocols/ is imported by the model-server clients
 *   (src/inference/) and by the model server (src/model-server/), and imports neither; neither
 *   side imports the other.
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

/**
 * The layers of docs/ARCHITECTURE.md's "Layers" table, top first: each a list of src/ folders
 * (`pipeline/`) and files (`ocr.ts`).
 */
function pageLayers(): Array<{ name: string; members: string[] }> {
  const page = readFileSync(new URL('../../docs/ARCHITECTURE.md', import.meta.url), 'utf8')
  const start = page.indexOf('\n## Layers\n')
  expect(start, 'a "## Layers" section').toBeGreaterThanOrEqual(0)
  const section = page.slice(start + 1, page.indexOf('\n## ', start + 1))
  const rows = section.split('\n').filter((l) => l.startsWith('|') && !/^\|[-| ]+\|$/.test(l)).slice(1)
  return rows.map((row) => {
    const [name, holds] = row.split('|').slice(1, 3).map((c) => c.trim())
    return { name: name!, members: [...holds!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) }
  })
}

const layers = pageLayers()

/** The index (0 = top) of the layer holding a src-relative path, or -1. */
function layerOf(file: string): number {
  return layers.findIndex((l) => l.members.some((m) => (m.endsWith('/') ? file.startsWith(m) : file === m)))
}

/** Every import from a file under `from` of a file under `to` that `allowed` does not list. */
function violations(from: string, to: string, allowed: readonly string[] = []): string[] {
  const found: string[] = []
  for (const [file, imports] of graph) {
    if (!file.startsWith(from)) continue
    for (const target of imports) if (target.startsWith(to) && !allowed.includes(target)) found.push(`${file} → ${target}`)
  }
  return found
}

describe('layers (docs/ARCHITECTURE.md, "Layers")', () => {
  it('the page names the layers, and every source file is in exactly one', () => {
    expect(layers.map((l) => l.name)).toEqual(['faces', 'services', 'composition', 'pipeline', 'stages', 'primitives', 'foundation'])
    for (const file of graph.keys()) {
      const holding = layers.filter((l) => l.members.some((m) => (m.endsWith('/') ? file.startsWith(m) : file === m)))
      expect(holding.map((l) => l.name), file).toHaveLength(1)
    }
  })

  it('nothing imports a layer above its own', () => {
    const upward: string[] = []
    for (const [file, imports] of graph) {
      for (const target of imports) if (layerOf(target) < layerOf(file)) upward.push(`${file} (${layers[layerOf(file)]!.name}) → ${target} (${layers[layerOf(target)]!.name})`)
    }
    expect(upward).toEqual([])
  })

  it('the scheduler sits below engine.ts and the clients below models/: importing those would be upward', () => {
    expect(layerOf('pipeline/scheduler.ts')).toBeGreaterThan(layerOf('engine.ts'))
    expect(layerOf('inference/tfserving.ts')).toBeGreaterThan(layerOf('models/onnx/compact-input.ts'))
  })
})

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
