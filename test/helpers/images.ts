/** Test images made on the fly with sharp (fonts: DejaVu Sans, installed by .ci/run). */
import sharp from 'sharp'

export interface TextImage {
  png: Buffer
  lines: string[]
  width: number
  height: number
}

/** Black lines of big text on white, one per row. */
export async function textImage(lines: string[] = ['HELLO WORLD 2024', 'QUICK BROWN FOX'], size = 40): Promise<TextImage> {
  const width = 760
  const rowH = Math.round(size * 1.9)
  const height = rowH * lines.length + 40
  const rows = lines
    .map((t, i) => `<text x="30" y="${30 + size + i * rowH}" font-family="DejaVu Sans" font-size="${size}" fill="#000">${t}</text>`)
    .join('')
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#fff"/>${rows}</svg>`
  const png = await sharp(Buffer.from(svg)).png().toBuffer()
  return { png, lines, width, height }
}

/** Uppercase, no whitespace: how tests compare recognised text. */
export const squash = (s: string): string => s.normalize('NFKC').replace(/\s+/g, '').toUpperCase()
