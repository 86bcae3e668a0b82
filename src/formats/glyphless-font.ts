/**
 * A TrueType font with no visible glyphs, for the invisible text layer of searchable PDFs (the
 * idea of Tesseract's pdf.ttf, built here from scratch): two empty glyphs (.notdef and one blank
 * glyph that every CID maps to), each EM units wide, and a cmap that sends every code to the blank
 * glyph. The PDF's ToUnicode CMap, not this font, carries the text.
 */

/** Design units per em; every glyph advances one em (the PDF's /DW 1000 says the same). */
export const GLYPHLESS_EM = 1000

class Writer {
  private readonly bytes: number[] = []
  u8(v: number): this {
    this.bytes.push(v & 0xff)
    return this
  }
  u16(v: number): this {
    return this.u8(v >> 8).u8(v)
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff)
  }
  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.u8(0)
    return this
  }
  ascii(s: string): this {
    for (const c of s) this.u8(c.charCodeAt(0))
    return this
  }
  get length(): number {
    return this.bytes.length
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes)
  }
}

function checksum(b: Uint8Array): number {
  let sum = 0
  for (let i = 0; i < b.length; i += 4) sum = (sum + (((b[i]! << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0)) >>> 0)) >>> 0
  return sum
}

function nameTable(): Uint8Array {
  const names: [number, string][] = [[1, 'GlyphLessFont'], [2, 'Regular'], [4, 'GlyphLessFont'], [5, 'Version 1.0'], [6, 'GlyphLessFont']]
  const w = new Writer().u16(0).u16(names.length).u16(6 + names.length * 12)
  let offset = 0
  for (const [id, s] of names) {
    w.u16(3).u16(1).u16(0x409).u16(id).u16(s.length * 2).u16(offset)
    offset += s.length * 2
  }
  for (const [, s] of names) for (const c of s) w.u16(c.charCodeAt(0))
  return w.done()
}

function buildFont(): Uint8Array {
  const em = GLYPHLESS_EM
  const tables: [string, Uint8Array][] = [
    // OS/2 version 1
    ['OS/2', new Writer().u16(1).u16(em).u16(400).u16(5).u16(0).zeros(20).u16(0).zeros(10).zeros(16).ascii('OCRS').u16(0x40)
      .u16(0x20).u16(0xffff).u16(em).u16(0).u16(0).u16(em).u16(0).zeros(8).done()],
    // cmap: one format-4 subtable (Windows Unicode BMP): U+0020 → glyph 1. The PDF reaches the
    // glyph through its CIDToGIDMap, not through this table.
    ['cmap', new Writer().u16(0).u16(1).u16(3).u16(1).u32(12)
      .u16(4).u16(32).u16(0).u16(4).u16(4).u16(1).u16(0)
      .u16(0x20).u16(0xffff).u16(0).u16(0x20).u16(0xffff).u16(1 - 0x20).u16(1).u16(0).u16(0).done()],
    ['glyf', new Uint8Array(0)],
    ['head', new Writer().u32(0x00010000).u32(0x00010000).u32(0).u32(0x5f0f3cf5).u16(0x000b).u16(em).zeros(16)
      .u16(0).u16(0).u16(em).u16(em).u16(0).u16(8).u16(2).u16(0).u16(0).done()],
    ['hhea', new Writer().u32(0x00010000).u16(em).u16(0).u16(0).u16(em).u16(0).u16(0).u16(em).u16(1).u16(0).u16(0).zeros(8).u16(0).u16(2).done()],
    ['hmtx', new Writer().u16(em).u16(0).u16(em).u16(0).done()],
    ['loca', new Writer().u16(0).u16(0).u16(0).done()],
    ['maxp', new Writer().u32(0x00010000).u16(2).zeros(8).u16(2).zeros(16).done()],
    ['name', nameTable()],
    ['post', new Writer().u32(0x00030000).zeros(8).u32(1).zeros(16).done()],
  ]
  const n = tables.length
  const log2 = Math.floor(Math.log2(n))
  const w = new Writer().u32(0x00010000).u16(n).u16(16 << log2).u16(log2).u16(n * 16 - (16 << log2))
  let offset = 12 + 16 * n
  for (const [tag, data] of tables) {
    w.ascii(tag).u32(checksum(data)).u32(offset).u32(data.length)
    offset += (data.length + 3) & ~3
  }
  for (const [, data] of tables) {
    for (const b of data) w.u8(b)
    w.zeros(((data.length + 3) & ~3) - data.length)
  }
  const font = w.done()
  // head.checkSumAdjustment makes the whole file sum to 0xB1B0AFBA
  const headOffset = 12 + 16 * n + tables.slice(0, 3).reduce((s, [, d]) => s + ((d.length + 3) & ~3), 0)
  new DataView(font.buffer).setUint32(headOffset + 8, (0xb1b0afba - checksum(font)) >>> 0)
  return font
}

let cached: Uint8Array | undefined

/** The font file (built once, a few hundred bytes). */
export function glyphlessFont(): Uint8Array {
  cached ??= buildFont()
  return cached
}
