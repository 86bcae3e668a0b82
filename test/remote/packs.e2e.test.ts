/**
 * Remote mode with two packs: `ocrserve models-repo --models` writes the pack's models beside the
 * builtin ones (NAME_det, NAME_cls, NAME_rec, with generated configs), `ocrserve model-server`
 * serves them, and an engine in remote mode maps each pack to its models and reads the pack's
 * inference.yml (its dictionary: the recogniser's classes are permuted) from the same folder.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOcr, type Ocr, type OcrResult } from '../../src/index.js'
import { buildOnce } from '../helpers/build.js'
import { squash, textImage } from '../helpers/images.js'
import { permuteRecClasses, SHIPPED, SHIPPED_KEYS, tempDir, writePack } from '../helpers/packs.js'
import { BIN, ROOT, startModelServerProcess, type ModelServerProcess } from './helpers.js'

let root: string
let cleanup: () => Promise<void>
let server: ModelServerProcess
let remote: Ocr
let packDir: string

beforeAll(async () => {
  await buildOnce()
  ;({ dir: root, cleanup } = await tempDir())
  const keys = await SHIPPED_KEYS()
  // every character class in another order (the blank stays first, the space last)
  const order = keys.map((_, i) => i + 1).sort((a, b) => ((a * 7919) % keys.length) - ((b * 7919) % keys.length))
  const onnx = permuteRecClasses(await readFile(SHIPPED.rec), [0, ...order, keys.length + 1])
  packDir = await writePack(join(root, 'pack'), { rec: { onnx, dictionary: order.map((c) => keys[c - 1]!) } })
  const repo = join(root, 'repo')
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'models-repo', '--out', repo, '--models', `perm=${packDir}`], { cwd: ROOT })
  expect(stdout).toContain('perm_rec: ')
  server = await startModelServerProcess(repo, { workers: 1 })
  remote = await createOcr({ workers: 1, remote: { url: server.http }, packs: [{ name: 'perm', dir: packDir }, { name: 'builtin' }] })
}, 300_000)

afterAll(async () => {
  await remote?.close()
  await server?.stop()
  await cleanup?.()
})

const reading = (r: OcrResult) => r.pages.map((p) => ({ rotation: p.rotation, lines: p.lines.map((l) => ({ text: l.text, box: l.box })) }))

describe('remote mode with two packs', () => {
  it('models-repo writes each role of the pack under NAME_role with a config from its graph', () => {
    for (const role of ['det', 'cls', 'rec']) {
      expect(existsSync(join(root, 'repo', `perm_${role}`, '1', 'model.onnx'))).toBe(true)
      expect(existsSync(join(root, 'repo', `perm_${role}`, 'config.pbtxt'))).toBe(true)
    }
  })

  it('is ready when the default pack’s models are, and reads with each pack as the builtin models read', async () => {
    expect(await remote.ready()).toBe(true)
    const png = (await textImage(['INVOICE 2024-117', 'TOTAL 42.50 EUR'])).png
    const [perm, builtin] = await Promise.all([remote.read(png, { model: 'perm', timeoutMs: 300_000 }), remote.read(png, { model: 'builtin', timeoutMs: 300_000 })])
    expect(perm.model).toBe('perm')
    expect(builtin.model).toBe('builtin')
    expect(perm.lines.map((l) => squash(l.text))).toEqual(['INVOICE2024-117', 'TOTAL42.50EUR'])
    expect(reading(perm)).toEqual(reading(builtin))
  }, 300_000)
})
