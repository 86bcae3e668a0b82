/**
 * Small statistics and table helpers for the benchmarks. Pure functions, no timing of their own.
 *
 * Percentiles use linear interpolation between closest ranks (R's type 7, numpy's default):
 * p-th percentile of sorted x[0..n-1] = x[h] interpolated at h = (n − 1) · p / 100.
 */

export interface Summary {
  n: number
  mean: number
  min: number
  max: number
  p50: number
  p95: number
  p99: number
}

/** p in [0, 100]; NaN for an empty sample. Does not modify `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`)
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return percentileSorted(sorted, p)
}

/** As percentile(), for an already ascending-sorted sample. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const h = ((sorted.length - 1) * p) / 100
  const lo = Math.floor(h)
  const hi = Math.ceil(h)
  const a = sorted[lo]!
  const b = sorted[hi]!
  return a + (b - a) * (h - lo)
}

export function median(values: readonly number[]): number {
  return percentile(values, 50)
}

export function sum(values: readonly number[]): number {
  let s = 0
  for (const v of values) s += v
  return s
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : sum(values) / values.length
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    n: sorted.length,
    mean: mean(sorted),
    min: sorted.length ? sorted[0]! : Number.NaN,
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    p50: percentileSorted(sorted, 50),
    p95: percentileSorted(sorted, 95),
    p99: percentileSorted(sorted, 99),
  }
}

/** a / b, or null when either is missing or b is not positive (a ratio that cannot be formed). */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null
  return a / b
}

/** Rounds to `digits` decimals; null/NaN/±Infinity stay null (JSON has no NaN). */
export function round(value: number | null | undefined, digits = 2): number | null {
  if (value == null || !Number.isFinite(value)) return null
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Formats a number for a table cell: '–' for missing values. */
export function fmt(value: number | null | undefined, digits = 1): string {
  if (value == null || !Number.isFinite(value)) return '–'
  return value.toFixed(digits)
}

/**
 * A GitHub-flavoured markdown table. `align` per column: 'l' or 'r' (default: 'l' for the first
 * column, 'r' for the others). Cells are padded so the table also reads well as plain text.
 */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  for (const r of rows) if (r.length !== headers.length) throw new RangeError(`row has ${r.length} cells, the header ${headers.length}`)
  const al = headers.map((_, i) => align?.[i] ?? (i === 0 ? 'l' : 'r'))
  const width = headers.map((h, i) => Math.max(3, [...h].length, ...rows.map((r) => [...r[i]!].length)))
  const pad = (s: string, i: number): string => {
    const fill = ' '.repeat(width[i]! - [...s].length)
    return al[i] === 'r' ? fill + s : s + fill
  }
  const line = (cells: readonly string[]): string => `| ${cells.map(pad).join(' | ')} |`
  const rule = `|${width.map((w, i) => (al[i] === 'r' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`
  return [line(headers), rule, ...rows.map(line)].join('\n')
}

/** A measure repeated in rounds: how many rounds gave a value, and the least, median and largest. */
export interface Spread {
  n: number
  min: number
  median: number
  max: number
}

/** The spread of a repeated measure; rounds without a finite value are left out; null when none is left. */
export function spread(values: readonly (number | null | undefined)[]): Spread | null {
  const ok = values.filter((v): v is number => v != null && Number.isFinite(v)).sort((a, b) => a - b)
  if (ok.length === 0) return null
  return { n: ok.length, min: ok[0]!, median: percentileSorted(ok, 50), max: ok[ok.length - 1]! }
}

/** (max − min) / median: how far the rounds of one run scatter, relative to their median. */
export function relativeRange(s: Spread | null): number | null {
  return s && s.median > 0 ? (s.max - s.min) / s.median : null
}

/** Per round, a[i] / b[i]: ratios of measures taken in the same round; rounds where one is missing are left out. */
export function pairedRatios(a: readonly (number | null | undefined)[], b: readonly (number | null | undefined)[]): number[] {
  const out: number[] = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const r = ratio(a[i], b[i])
    if (r !== null) out.push(r)
  }
  return out
}

/** "1.23 (1.20–1.31)": median (min–max) of the rounds; the value alone for one round; '–' for none. */
export function fmtSpread(s: Spread | null, digits = 2): string {
  if (!s) return '–'
  return s.n === 1 ? fmt(s.median, digits) : `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
}

/** A spread as JSON: rounded median, min, max and the round count (null for none). */
export function spreadJson(s: Spread | null, digits = 3): { median: number | null; min: number | null; max: number | null; n: number } | null {
  return s ? { median: round(s.median, digits), min: round(s.min, digits), max: round(s.max, digits), n: s.n } : null
}

/**
 * The order in which `n` contestants take their turn in round `r` (0-based): rotated by one each
 * round, so that over n rounds each goes first (and follows each other) equally often.
 */
export function rotation(n: number, r: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`rotation needs a count ≥ 0, got ${n}`)
  return Array.from({ length: n }, (_, j) => (j + r) % n)
}
