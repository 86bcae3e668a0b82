/**
 * The README's JSON upload example, run as printed (bash, base64, curl) against a real listening
 * service, on a photo whose base64 is longer than one command-line argument may be (128 KiB on
 * Linux): the example must work for real files, not only for tiny ones.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import { startService, type Service } from '../../src/server/index.js'
import { squash, textImage, type TextImage } from '../helpers/images.js'
import { program, requireForEach } from '../helpers/requirements.js'

const curlNeeded = program('README example test', 'curl', 'apt-get install curl')

/** The README block that sends JSON through a pipe: its shell lines, continuation included. */
function jsonExample(): string {
  const md = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const lines = md.split('\n')
  const start = lines.findIndex((l) => l.includes("printf '{") && l.includes('base64'))
  expect(start, 'the README has a JSON example that pipes base64').toBeGreaterThanOrEqual(0)
  const block: string[] = []
  for (let i = start; i < lines.length && !lines[i]!.startsWith('```'); i++) {
    block.push(lines[i]!)
    if (!/[|\\]\s*$/.test(lines[i]!)) break
  }
  return block.join('\n')
}

describe('README: the JSON example', () => {
  requireForEach(curlNeeded)
  let svc: Service
  let dir: string
  let img: TextImage
  beforeAll(async () => {
    if (curlNeeded.missing) return // every test skips (or fails, under CI) with the reason
    svc = await startService(loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1' }))
    dir = mkdtempSync(join(tmpdir(), 'ocrserve-readme-'))
    img = await textImage(['RECEIPT TOTAL 42.50', 'THANK YOU'], 44)
    // a photo-like JPEG: the text on a grainy background, big enough that its base64 is > 128 KiB
    const grain = await sharp({ create: { width: img.width, height: img.height, channels: 3, background: '#fff', noise: { type: 'gaussian', mean: 225, sigma: 28 } } })
      .png()
      .toBuffer()
    const photo = await sharp(grain).composite([{ input: img.png, blend: 'multiply' }]).jpeg({ quality: 97 }).toBuffer()
    writeFileSync(join(dir, 'photo.jpg'), photo)
  })
  afterAll(async () => {
    await svc?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('reads a photo whose base64 does not fit in one argument', async () => {
    expect(Math.ceil(statSync(join(dir, 'photo.jpg')).size / 3) * 4).toBeGreaterThan(128 * 1024)
    const command = jsonExample().replace('localhost:8080', svc.url.replace('http://', ''))
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile('bash', ['-c', command], { cwd: dir, maxBuffer: 8 * 1024 * 1024 }, (err, out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out))),
    )
    const body = JSON.parse(stdout) as { lines: { text: string }[] }
    expect(body.lines.map((l) => squash(l.text))).toEqual(img.lines.map(squash))
  })
})
