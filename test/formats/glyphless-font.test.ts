import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { GLYPHLESS_EM, glyphlessFont } from '../../src/formats/glyphless-font.js'

describe('glyph-less font', () => {
  const font = glyphlessFont()
  const view = new DataView(font.buffer, font.byteOffset, font.byteLength)
  const tables = new Map<string, { offset: number; length: number }>()
  for (let i = 0; i < view.getUint16(4); i++) {
    const rec = 12 + 16 * i
    tables.set(String.fromCharCode(...font.subarray(rec, rec + 4)), { offset: view.getUint32(rec + 8), length: view.getUint32(rec + 12) })
  }

  it('is a TrueType file with the required tables and a whole-file checksum of 0xB1B0AFBA', () => {
    expect(view.getUint32(0)).toBe(0x00010000)
    expect([...tables.keys()]).toEqual(['OS/2', 'cmap', 'glyf', 'head', 'hhea', 'hmtx', 'loca', 'maxp', 'name', 'post'])
    let sum = 0
    for (let i = 0; i < font.length; i += 4) sum = (sum + view.getUint32(i)) >>> 0
    expect(sum).toBe(0xb1b0afba)
    const head = tables.get('head')!.offset
    expect(view.getUint32(head + 12)).toBe(0x5f0f3cf5)
    expect(view.getUint16(head + 18)).toBe(GLYPHLESS_EM)
    expect(view.getUint16(tables.get('maxp')!.offset + 4)).toBe(2) // .notdef + the blank glyph
    expect(tables.get('glyf')!.length).toBe(0) // no outlines at all
  })

  it('is read by FreeType (fc-query) as GlyphLessFont', () => {
    const dir = mkdtempSync(join(tmpdir(), 'glyphless-'))
    try {
      const file = join(dir, 'glyphless.ttf')
      writeFileSync(file, font)
      expect(execFileSync('fc-query', ['--format=%{family}|%{outline}', file], { encoding: 'utf8' })).toBe('GlyphLessFont|True')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
