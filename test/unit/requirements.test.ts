/** test/helpers/requirements.ts: what is found, the one-line reasons, and that CI fails instead of skipping. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { file, program, requireOrSkip, unless } from '../helpers/requirements.js'

describe('test requirements', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ocrserve-req-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('finds a program on PATH only when it is executable, and says how to install a missing one', () => {
    const path = process.env.PATH
    try {
      writeFileSync(join(dir, 'tool'), '#!/bin/sh\n')
      writeFileSync(join(dir, 'notes'), 'not a program')
      chmodSync(join(dir, 'tool'), 0o755)
      process.env.PATH = `${dir}:/nonexistent`
      expect(program('tool test', 'tool', 'apt-get install tool').missing).toBeNull()
      expect(program('notes test', 'notes', 'apt-get install notes').missing).toBe('notes test skipped: no notes on PATH — apt-get install notes')
    } finally {
      process.env.PATH = path
    }
  })

  it('names a missing file by what it is and where it was looked for', () => {
    expect(file('web page test', join(dir, 'chromium'), 'Chromium', 'apt-get install chromium').missing).toBe(
      `web page test skipped: no Chromium at ${join(dir, 'chromium')} — apt-get install chromium`,
    )
    expect(file('t', dir, 'd', 'i').missing).toBeNull()
  })

  it('skips with the reason outside CI, fails under CI, and lets a met requirement run', () => {
    const missing = file('web page test', join(dir, 'chromium'), 'Chromium', 'apt-get install chromium')
    const ctx = { skip: vi.fn() }
    requireOrSkip(ctx as never, missing, false)
    expect(ctx.skip).toHaveBeenCalledWith(missing.missing)
    expect(() => requireOrSkip(ctx as never, missing, true)).toThrow(/^web page test skipped: no Chromium .* \(CI=true: /)
    ctx.skip.mockClear()
    requireOrSkip(ctx as never, file('t', dir, 'd', 'i'), true)
    expect(ctx.skip).not.toHaveBeenCalled()
  })

  it('a condition of the machine (not an install away) skips under CI too', () => {
    const ctx = { skip: vi.fn() }
    requireOrSkip(ctx as never, unless('CUDA fallback test', true, 'the CUDA provider is installed'), true)
    expect(ctx.skip).toHaveBeenCalledWith('CUDA fallback test skipped: the CUDA provider is installed')
  })
})
