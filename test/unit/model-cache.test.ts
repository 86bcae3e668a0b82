/** model-cache.ts: a derived model is computed once per (model bytes, code), then read back; the cache never serves a stale entry. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveModelPaths } from '../../src/models/assets.js'
import { rewriteModel } from '../../src/models/onnx/graph-rewrite.js'
import { localModelSource } from '../../src/models/onnx/model-file.js'
import { defaultCacheDir, derivedModel, type Derivation } from '../../src/models/onnx/model-cache.js'

let dir: string
let model: string
let code: string
let derived = 0
/** A derivation whose output is easy to check (bytes reversed) and whose runs are counted. */
let how: Derivation

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ocrserve-model-cache-'))
  model = join(dir, 'm.onnx')
  code = join(dir, 'derive.js')
  writeFileSync(model, Uint8Array.from([1, 2, 3, 4]))
  writeFileSync(code, 'version 1')
  how = {
    name: 'reversed',
    code: [pathToFileURL(code)],
    derive: (b) => {
      derived++
      return Uint8Array.from(b).reverse()
    },
  }
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const entries = (cache: string): string[] => readdirSync(cache).sort()

describe('derivedModel', () => {
  it('derives once, writes one entry, and reads it back on the next call', async () => {
    const cache = join(dir, 'cache-1')
    derived = 0
    expect([...(await derivedModel(model, how, { dir: cache }))]).toEqual([4, 3, 2, 1])
    expect(entries(cache)).toHaveLength(1)
    expect(entries(cache)[0]).toMatch(/^m\.reversed\.[0-9a-f]{32}\.onnx$/)
    expect([...(await derivedModel(model, how, { dir: cache }))]).toEqual([4, 3, 2, 1])
    expect(derived).toBe(1)
  })

  it('new model bytes: derived again; the two newest entries of a model are kept', async () => {
    const cache = join(dir, 'cache-2')
    const seen: string[][] = []
    derived = 0
    for (const bytes of [[9, 8], [7, 6], [5, 4]]) {
      writeFileSync(model, Uint8Array.from(bytes))
      expect([...(await derivedModel(model, how, { dir: cache }))]).toEqual([...bytes].reverse())
      seen.push(entries(cache))
      await new Promise((r) => setTimeout(r, 20)) // distinct modification times
    }
    expect(derived).toBe(3)
    expect(seen.map((e) => e.length)).toEqual([1, 2, 2])
    // the oldest went when the third arrived
    expect(seen[2]).not.toContain(seen[0]![0])
  })

  it('changed code: derived again (a new process reads the code once, so a fresh derivation object stands for it)', async () => {
    const cache = join(dir, 'cache-3')
    await derivedModel(model, how, { dir: cache })
    writeFileSync(code, 'version 2')
    const changed: Derivation = { ...how }
    derived = 0
    await derivedModel(model, changed, { dir: cache })
    expect(derived).toBe(1)
    expect(entries(cache)).toHaveLength(2)
  })

  it('a cache that cannot be written still gives the derived model', async () => {
    const notADir = join(dir, 'a-file')
    writeFileSync(notADir, 'x')
    derived = 0
    expect([...(await derivedModel(model, how, { dir: join(notADir, 'cache') }))]).toEqual([...readFileSync(model)].reverse())
    expect(derived).toBe(1)
  })

  it('a missing model is MODEL_ERROR', async () => {
    await expect(derivedModel(join(dir, 'none.onnx'), how, { dir })).rejects.toMatchObject({ code: 'MODEL_ERROR' })
  })
})

describe('the rewritten models the engine loads', () => {
  it('come from the cache beside the models package, byte for byte what the rewrite gives', async () => {
    const path = resolveModelPaths().cls
    const fresh = rewriteModel(readFileSync(path)).bytes
    const first = (await localModelSource(path, true)) as Uint8Array
    const again = (await localModelSource(path, true)) as Uint8Array
    expect(Buffer.from(first).equals(Buffer.from(fresh))).toBe(true)
    expect(Buffer.from(again).equals(Buffer.from(fresh))).toBe(true)
    expect(defaultCacheDir()).toMatch(/node_modules[\\/]\.cache[\\/]ocrserve[\\/]models$/)
    expect(readdirSync(defaultCacheDir()).some((f) => f.startsWith('ch_ppocr_mobile_v2.0_cls_infer.rewritten.'))).toBe(true)
  })
})
