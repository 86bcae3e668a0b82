/**
 * Where the ink of a text line is: the recogniser's input (a line resized to 48 px high) turned
 * into a per-column ink count, so that the gaps between characters can be measured in pixels
 * (finer than the recogniser's 8 px steps) and words can be boxed tightly. Pure functions on
 * typed arrays.
 *
 * Ink is what differs from the column's own background by more than INK_CONTRAST of the line's
 * contrast: the background is measured per column (a gradient, a shadow or faded thermal print
 * does not move it), and light text on a dark ground is found like dark text on a light one.
 */

/** A pixel is ink when it differs from its column's background by more than this share of the line's contrast. */
export const INK_CONTRAST = 0.35
/** Least contrast (grey levels) the threshold is taken from, so a blank crop's noise is not read as ink. */
const MIN_CONTRAST = 16
/** Rows with at least this share of the busiest row's ink belong to the text band (ascenders and descenders included). */
const BAND_ROW_SHARE = 0.03
/** Rows with at least this share of the busiest row's ink give the text height the gaps are measured against. */
const HEIGHT_ROW_SHARE = 0.1
/** Columns averaged (each side) into a column's background level. */
const BACKGROUND_SMOOTH = 2

export interface LineInk {
  /** Columns of the line image. */
  width: number
  /** Ink pixels per column, counted over the text band's rows. */
  columns: Uint16Array
  /** The text band: rows [top, bottom) hold the line's ink (a neighbouring line's edge left out). */
  top: number
  bottom: number
  /** Height of the text's body (rows with a tenth of the busiest row's ink), in pixels: the unit of every gap rule. */
  height: number
  /** Per column, the first and (one past) the last band row with ink; top > bottom where there is none. */
  columnTop: Uint16Array
  columnBottom: Uint16Array
}

/** The grey level at quantile q of `gray` (a histogram: one pass, no sort). */
function grayQuantile(hist: Uint32Array, total: number, q: number): number {
  const rank = Math.min(total - 1, Math.floor(q * total))
  let seen = 0
  for (let v = 0; v < 256; v++) {
    seen += hist[v]!
    if (seen > rank) return v
  }
  return 255
}

/** The value at quantile q of `values` (a sorted copy). */
function quantile(values: Float64Array, q: number): number {
  const s = Float64Array.from(values).sort()
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0
}

/**
 * Measures the ink of a grey line image (`gray`, `width` × `height`, row-major). The background
 * is the level most of the line has (its median): text darker than it is ink on a light ground,
 * lighter text on a dark one.
 */
export function measureLineInk(gray: Uint8Array, width: number, height: number): LineInk {
  const hist = new Uint32Array(256)
  for (let i = 0; i < gray.length; i++) hist[gray[i]!]!++
  const median = grayQuantile(hist, gray.length, 0.5)
  const dark = grayQuantile(hist, gray.length, 0.02)
  const light = grayQuantile(hist, gray.length, 0.98)
  const darkText = median - dark >= light - median
  // per column: its third most background-like pixel (two stray specks do not count), smoothed
  const raw = thirdExtremes(gray, width, height, darkText)
  const background = new Float64Array(width)
  for (let x = 0; x < width; x++) {
    let sum = 0
    let n = 0
    for (let d = -BACKGROUND_SMOOTH; d <= BACKGROUND_SMOOTH; d++) {
      if (x + d >= 0 && x + d < width) {
        sum += raw[x + d]!
        n++
      }
    }
    background[x] = sum / n
  }
  const level = quantile(background, 0.5)
  const contrast = Math.max(MIN_CONTRAST, darkText ? level - dark : light - level)
  const threshold = INK_CONTRAST * contrast
  // ink: darker than the column's background by more than the threshold (lighter, for light text)
  const cut = new Float64Array(width)
  for (let x = 0; x < width; x++) cut[x] = darkText ? background[x]! - threshold : background[x]! + threshold
  const rows = new Uint32Array(height)
  for (let y = 0; y < height; y++) rows[y] = inkInRow(gray, cut, y * width, width, darkText)
  const [top, bottom] = rowBand(rows, BAND_ROW_SHARE)
  const [bodyTop, bodyBottom] = rowBand(rows, HEIGHT_ROW_SHARE)
  const columns = new Uint16Array(width)
  const columnTop = new Uint16Array(width).fill(height)
  const columnBottom = new Uint16Array(width)
  for (let y = top; y < bottom; y++) addInkColumns(gray, cut, y, width, darkText, columns, columnTop, columnBottom)
  return { width, columns, top, bottom, height: Math.max(1, bodyBottom - bodyTop), columnTop, columnBottom }
}

/** The ink pixels of the row starting at `row`. */
function inkInRow(gray: Uint8Array, cut: Float64Array, row: number, width: number, darkText: boolean): number {
  let count = 0
  if (darkText) {
    for (let x = 0; x < width; x++) if (gray[row + x]! < cut[x]!) count++
  } else {
    for (let x = 0; x < width; x++) if (gray[row + x]! > cut[x]!) count++
  }
  return count
}

/** Adds the ink pixels of row y to their columns' counts and row extents (rows come in order). */
function addInkColumns(gray: Uint8Array, cut: Float64Array, y: number, width: number, darkText: boolean, columns: Uint16Array, top: Uint16Array, bottom: Uint16Array): void {
  const row = y * width
  for (let x = 0; x < width; x++) {
    const v = gray[row + x]!
    if (darkText ? v < cut[x]! : v > cut[x]!) {
      columns[x]!++
      if (top[x]! > y) top[x] = y
      bottom[x] = y + 1
    }
  }
}

/**
 * Each column's third lightest pixel (dark text) or third darkest (light text), or its most
 * extreme one when it has fewer than three rows. Rows are read in order (the image is row-major),
 * keeping the three most extreme values per column.
 */
function thirdExtremes(gray: Uint8Array, width: number, height: number, lightest: boolean): Float64Array {
  // a ≥ b ≥ c: the most extreme values so far, as lightness (or darkness) 0..255; −1 = none yet
  const a = new Int16Array(width).fill(-1)
  const b = new Int16Array(width).fill(-1)
  const c = new Int16Array(width).fill(-1)
  for (let y = 0; y < height; y++) {
    const row = y * width
    for (let x = 0; x < width; x++) {
      const v = lightest ? gray[row + x]! : 255 - gray[row + x]!
      if (v > c[x]!) {
        if (v > b[x]!) {
          c[x] = b[x]!
          if (v > a[x]!) {
            b[x] = a[x]!
            a[x] = v
          } else {
            b[x] = v
          }
        } else {
          c[x] = v
        }
      }
    }
  }
  const third = height >= 3 ? c : height === 2 ? b : a
  const out = new Float64Array(width)
  for (let x = 0; x < width; x++) out[x] = lightest ? third[x]! : 255 - third[x]!
  return out
}

/**
 * The run of consecutive rows with at least `share` of the busiest row's ink that holds the most
 * ink: the line itself, not the edge of the line above or below that the crop caught.
 */
function rowBand(rows: Uint32Array, share: number): [number, number] {
  let max = 0
  for (const r of rows) if (r > max) max = r
  const min = Math.max(1, share * max)
  let best: [number, number] = [0, rows.length]
  let bestMass = -1
  for (let y = 0; y < rows.length; ) {
    if (rows[y]! < min) {
      y++
      continue
    }
    let end = y
    let mass = 0
    while (end < rows.length && rows[end]! >= min) mass += rows[end++]!
    if (mass > bestMass) {
      bestMass = mass
      best = [y, end]
    }
    y = end
  }
  return best
}

/**
 * The cut between two characters centred at columns `from` < `to`: the widest run of columns
 * without ink between them, as [start, end); where the glyphs touch, the column with the least
 * ink, as an empty run in its middle.
 */
export function inkCut(columns: Uint16Array, from: number, to: number): [number, number] {
  const a = Math.max(0, Math.round(from))
  const b = Math.min(columns.length, Math.round(to))
  let best: [number, number] | null = null
  let run = -1
  for (let x = a; x <= b; x++) {
    if (x < b && columns[x] === 0) {
      if (run < 0) run = x
    } else if (run >= 0) {
      if (!best || x - run > best[1] - best[0]) best = [run, x]
      run = -1
    }
  }
  if (best) return best
  let least = a
  for (let x = a + 1; x < b; x++) if (columns[x]! < columns[least]!) least = x
  return [least + 0.5, least + 0.5]
}

/**
 * The ink extent around column `at`, walking outwards over gaps narrower than `maxGap` columns:
 * a line's first or last glyph, whose outer side has no neighbour to cut against.
 */
export function inkReach(columns: Uint16Array, at: number, direction: -1 | 1, maxGap: number): number {
  const n = columns.length
  let x = Math.min(n - 1, Math.max(0, Math.round(at)))
  let edge = direction < 0 ? x : x + 1
  let gap = 0
  for (; x >= 0 && x < n; x += direction) {
    if (columns[x]! > 0) {
      edge = direction < 0 ? x : x + 1
      gap = 0
    } else if (++gap > maxGap) {
      break
    }
  }
  return edge
}

/** Rows [top, bottom) of the band that hold ink within columns [x0, x1); the band when none do. */
export function inkRows(ink: LineInk, x0: number, x1: number): [number, number] {
  const a = Math.max(0, Math.floor(x0))
  const b = Math.min(ink.width, Math.ceil(x1))
  let top = Number.MAX_SAFE_INTEGER
  let bottom = 0
  for (let x = a; x < b; x++) {
    if (ink.columnTop[x]! < top) top = ink.columnTop[x]!
    if (ink.columnBottom[x]! > bottom) bottom = ink.columnBottom[x]!
  }
  return top >= bottom ? [ink.top, ink.bottom] : [top, bottom]
}
