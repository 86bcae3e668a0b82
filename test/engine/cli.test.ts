/**
 * `ocrserve read` as a user runs it: the built binary (bin/ocrserve.js → dist/) in a child process,
 * on files and directories made in the test.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildOnce } from '../helpers/build.js'
import { renderPage, squash, type Page } from './support.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI; resolves with its exit code and output whatever the code. */
function ocrserve(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bin/ocrserve.js', ...args], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err)
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr })
    })
  })
}

interface JsonLine {
  text: string
  score: number
  box: [number, number][]
}
interface JsonRecord {
  file: string
  width?: number
  height?: number
  lines?: JsonLine[]
  error?: { code: string; message: string }
}

let dir: string
let pageA: Page
let pageB: Page
const files = { a: '', b: '', corrupt: '' }

beforeAll(async () => {
  await buildOnce()
  ;[pageA, pageB] = await Promise.all([renderPage(['HELLO WORLD 2024', 'Quick brown fox']), renderPage(['PAGE TWO 77'])])
  dir = mkdtempSync(join(tmpdir(), 'ocrserve-cli-'))
  const images = join(dir, 'images')
  mkdirSync(join(images, 'sub'), { recursive: true })
  files.a = join(images, 'a.png')
  files.b = join(images, 'sub', 'b.jpg')
  files.corrupt = join(images, 'c.png')
  writeFileSync(files.a, pageA.png)
  writeFileSync(files.b, await sharp(pageB.png).jpeg({ quality: 90 }).toBuffer())
  writeFileSync(files.corrupt, pageA.png.subarray(0, 300)) // a PNG cut short
  writeFileSync(join(images, 'notes.txt'), 'not an image; the directory walk skips it\n')
  mkdirSync(join(dir, 'empty'))
})

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const expectRecord = (rec: JsonRecord, page: Page) => {
  expect([rec.width, rec.height]).toEqual([page.width, page.height])
  expect(rec.lines!.map((l) => squash(l.text))).toEqual(page.lines.map(squash))
  for (const l of rec.lines!) {
    expect(typeof l.score).toBe('number')
    expect(l.score).toBeGreaterThan(0.5)
    expect(l.box).toHaveLength(4)
    for (const p of l.box) expect(p).toHaveLength(2)
  }
}

describe('ocrserve read', () => {
  it('--format jsonl on a directory: one JSON object per image file, failures reported, exit 1', async () => {
    const r = await ocrserve(['read', '--format', 'jsonl', '--workers', '1', join(dir, 'images')])
    expect(r.code, r.stderr).toBe(1)
    const lines = r.stdout.split('\n').filter((l) => l !== '')
    expect(r.stdout.endsWith('\n')).toBe(true)
    expect(lines).toHaveLength(3)
    const recs = lines.map((l) => JSON.parse(l) as JsonRecord)
    // the walk is sorted and recursive; notes.txt is not an image
    expect(recs.map((x) => x.file)).toEqual([files.a, files.corrupt, files.b])
    expectRecord(recs[0]!, pageA)
    expectRecord(recs[2]!, pageB)
    expect(recs[1]!.error?.code).toBe('UNDECODABLE_IMAGE')
    expect(recs[1]!.lines).toBeUndefined()
    // stderr names the file and the reason
    expect(r.stderr).toContain(files.corrupt)
    expect(r.stderr).toContain('UNDECODABLE_IMAGE')
    expect(r.stderr).not.toContain(files.a)
  })

  it('--format json on two files → a JSON array; --out writes it to a file and nothing to stdout', async () => {
    const out = join(dir, 'out.json')
    const r = await ocrserve(['read', '--format', 'json', '--workers', '1', '--out', out, files.b, files.a])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('')
    const recs = JSON.parse(readFileSync(out, 'utf8')) as JsonRecord[]
    expect(Array.isArray(recs)).toBe(true)
    // in the order given
    expect(recs.map((x) => x.file)).toEqual([files.b, files.a])
    expectRecord(recs[0]!, pageB)
    expectRecord(recs[1]!, pageA)
  })

  it('--format text prints the lines in reading order; a missing file fails with its reason', async () => {
    const missing = join(dir, 'missing.png')
    const r = await ocrserve(['read', '--format', 'text', '--workers', '1', files.a, missing])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(missing)
    expect(r.stderr).toContain('NOT_FOUND')
    const body = r.stdout.split('\n').filter((l) => l !== '')
    // several files: each result under a header naming it
    expect(body[0]).toContain(files.a)
    expect(body.slice(1).map(squash)).toEqual(pageA.lines.map(squash))
  })

  it('no image files → exit 2 without starting the engine', async () => {
    const r = await ocrserve(['read', join(dir, 'empty')])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/no image files/)
  })

  it('a bad option value → usage error, non-zero exit', async () => {
    const r = await ocrserve(['read', '--format', 'yaml', files.a])
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/yaml/)
  })

  it('--out in a folder that does not exist → exit 2 with the reason, no crash', async () => {
    const out = join(dir, 'no-such-folder', 'out.json')
    const r = await ocrserve(['read', '--out', out, files.a])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`cannot write ${out}`)
    expect(r.stderr).toContain('ENOENT')
    expect(r.stderr).not.toMatch(/Unhandled|node:events/)
  })

  it.skipIf(!existsSync('/dev/full'))('a failing output (disk full) → exit 1 with the reason, no crash', async () => {
    const r = await ocrserve(['read', '--workers', '1', '--out', '/dev/full', files.a])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('cannot write /dev/full')
    expect(r.stderr).not.toMatch(/Unhandled|node:events/)
  })

  it('stdout closed early (as by `| head -1`) ends the run quietly', async () => {
    const child = spawn(process.execPath, ['bin/ocrserve.js', 'read', '--format', 'jsonl', '--workers', '1', files.a, files.corrupt, files.b], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    let first = ''
    child.stdout.once('data', (d: Buffer) => {
      first = d.toString()
      child.stdout.destroy() // the reader goes away after the first record
    })
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    expect(JSON.parse(first.split('\n')[0]!).file).toBe(files.a)
    expect(stderr).not.toMatch(/EPIPE|Unhandled|node:events/)
    // the corrupt file may or may not have been reached; either way no crash
    expect([0, 1]).toContain(code)
  })
})
