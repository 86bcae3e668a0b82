/**
 * Words in remote mode: an engine whose recogniser runs in `ocrserve model-server` (the default
 * repository: uint8 `pixels` inputs, the recogniser's reduced argmax/maxprob outputs) gives the
 * same lines, spaces and word boxes as the engine running the models in-process (softmax).
 * Needs `npm run build` (npm test runs it first).
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildModelRepository } from '../../src/cli/models-repo.js'
import { createOcr, type Ocr } from '../../src/index.js'
import { startModelServerProcess, type ModelServerProcess } from './helpers.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/real/images/', import.meta.url))
/** English text whose spaces the recogniser partly leaves out, a line crop, Chinese text. */
const IMAGES = ['page/tesseract_phototest.png', 'page/cnocr_multi-line_en_white.png', 'line/rapidocr_en_rec.jpg', 'page/cnocr_multi-line_cn1.png']

let repo: string
let server: ModelServerProcess
let local: Ocr
let remote: Ocr

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), 'ocrserve-words-models-'))
  await buildModelRepository(repo)
  server = await startModelServerProcess(repo, { workers: 1 })
  local = await createOcr({ workers: 1 })
  remote = await createOcr({ workers: 1, remote: { url: server.http, protocol: 'kserve-http' } })
}, 180_000)

afterAll(async () => {
  await Promise.all([local?.close(), remote?.close()])
  await server?.stop()
  if (repo) await rm(repo, { recursive: true, force: true })
})

describe('words in remote mode (reduced recogniser outputs) equal single mode', () => {
  it.each(IMAGES)('%s', async (name) => {
    const image = await readFile(join(FIXTURES, name))
    const [a, b] = await Promise.all([local.read(image, { words: true }), remote.read(image, { words: true })])
    expect(a.lines.length).toBeGreaterThan(0)
    expect(b.lines.map((l) => l.text)).toEqual(a.lines.map((l) => l.text))
    b.lines.forEach((line, i) => {
      const ref = a.lines[i]!
      expect(line.words!.map((w) => w.text)).toEqual(ref.words!.map((w) => w.text))
      line.words!.forEach((w, k) => {
        expect(Math.abs(w.score - ref.words![k]!.score)).toBeLessThan(1e-3)
        w.box.forEach((p, j) => {
          expect(Math.abs(p[0] - ref.words![k]!.box[j]![0])).toBeLessThanOrEqual(1)
          expect(Math.abs(p[1] - ref.words![k]!.box[j]![1])).toBeLessThanOrEqual(1)
        })
      })
    })
  }, 120_000)
})
