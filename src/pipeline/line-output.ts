/**
 * A page's lines as the engine returns them: the recogniser's readings turned into text with its
 * spaces restored and punctuation width settled (models/rec-words.ts), boxed in the image as given
 * (line-frame.ts), with their words when asked for.
 */
import { measureLineInk } from '../image/ink.js'
import type { Decoded } from '../models/rec-ctc.js'
import { layoutLine, lineSpaces, lineText, lineWords, mayNeedSpaces, pageSpacing, readChars, type LineLayout } from '../models/rec-words.js'
import type { OcrLine, Quad } from '../types.js'
import { LineFrame, lineBox, type CropPlacement, type PagePlacement } from './line-frame.js'

/** The recogniser's input for one line: the crop resized to `width` × `height`, padded to `tensorWidth`. */
export interface RecInput {
  width: number
  height: number
  /** Width of the tensor the line was read in: the CTC steps divide it. */
  tensorWidth: number
  /** Grey levels of the input's first `width` columns, row-major (image/tensor.ts recInputGray). */
  gray: Uint8Array
}

/** A line as the recogniser read it, with the input it read it from. */
export interface RecReading extends Decoded {
  input: RecInput
}

/** A crop that was read: how it was cut, and its size as the recogniser saw it (after its turns). */
export interface ReadCrop extends CropPlacement {
  image: { width: number; height: number }
}

export interface LineOutputOptions {
  /** Give each line its words (OcrLine.words). */
  words: boolean
  /** Insert the spaces the recogniser did not emit (models/rec-words.ts). */
  restoreSpaces: boolean
  /** Full-width punctuation inside Latin text as ASCII. */
  asciiPunctuation: boolean
}

/**
 * The page's lines, in the order given. Spacing looks at the whole page: a short line takes its
 * type (monospaced or not) from the page's other lines.
 */
export function pageLines(
  read: ReadonlyArray<{ crop: ReadCrop; reading: RecReading }>,
  page: PagePlacement,
  charset: readonly string[],
  options: LineOutputOptions,
): OcrLine[] {
  if (!options.words && !options.restoreSpaces && !options.asciiPunctuation) {
    return read.map(({ crop, reading }) => ({ text: reading.text, score: reading.score, box: lineBox(crop, page) }))
  }
  const chars = read.map(({ reading }) => readChars(reading.chars, charset, options))
  // the ink is measured where spaces or words need it (a Chinese line's spaces do not)
  const layouts = read.map(({ reading }, i): LineLayout | null => {
    if (!options.words && !(options.restoreSpaces && mayNeedSpaces(chars[i]!))) return null
    const { input } = reading
    return layoutLine(chars[i]!, input.tensorWidth / reading.steps, measureLineInk(input.gray, input.width, input.height))
  })
  const spacing = pageSpacing(layouts.filter((l): l is LineLayout => l !== null))
  const lines: OcrLine[] = []
  read.forEach(({ crop, reading }, i) => {
    const layout = layouts[i]
    const spaces = layout && options.restoreSpaces ? lineSpaces(layout, spacing) : chars[i]!.modelSpace
    const text = lineText(chars[i]!, spaces)
    if (text === '') return
    const line: OcrLine = { text, score: reading.score, box: lineBox(crop, page) }
    if (layout && options.words) {
      const frame = new LineFrame(crop, page, reading.input, crop.image.width, crop.image.height)
      line.words = lineWords(layout, spaces).map((w) => ({ text: w.text, score: w.score, box: roundQuad(frame.box(w.x0, w.y0, w.x1, w.y1)) }))
    }
    lines.push(line)
  })
  return lines
}

/** A word's corners to a tenth of a pixel: finer is below what the recogniser's steps resolve, and it reads better in JSON. */
function roundQuad(q: Quad): Quad {
  return q.map(([x, y]) => [Math.round(x * 10) / 10, Math.round(y * 10) / 10]) as Quad
}
