import { GlobalFonts } from '@napi-rs/canvas'
import * as fontkit from 'fontkit'
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

  it('is read by a font parser (fontkit) as GlyphLessFont: two glyphs, one em wide, no outlines', () => {
    const f = fontkit.create(Buffer.from(font))
    if (!('getGlyph' in f)) throw new Error('read as a font collection')
    expect([f.type, f.familyName, f.subfamilyName, f.unitsPerEm, f.numGlyphs]).toEqual(['TTF', 'GlyphLessFont', 'Regular', GLYPHLESS_EM, 2])
    expect(f.glyphForCodePoint(0x20).id).toBe(1) // the cmap's one mapping: U+0020 → the blank glyph
    for (const id of [0, 1]) {
      expect(f.getGlyph(id).advanceWidth).toBe(GLYPHLESS_EM)
      expect(f.getGlyph(id).path.commands).toEqual([])
    }
  })

  it('is loaded by FreeType (through skia) under its family name, which refuses a broken font', () => {
    // what fc-query did: FreeType opens the file as a scalable font and reads its family
    expect(GlobalFonts.register(Buffer.from(font))).not.toBeNull()
    expect(GlobalFonts.families.map((f) => f.family)).toContain('GlyphLessFont')
    const broken = Buffer.from(font.subarray(0, 40)) // the table directory, without the tables
    expect(GlobalFonts.register(broken)).toBeNull()
  })
})
