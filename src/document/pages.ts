/**
 * Page selection for documents (multi-page TIFF, PDF): the `pages=1-3,7` option of the API and
 * `--pages` of the CLI. Ranges are parsed once (a malformed spec is BAD_PAGE_RANGE before any work)
 * and resolved against the real page count when the document is opened.
 */
import { OcrError } from '../errors.js'

/** An inclusive, 1-based range; `to` undefined = to the last page ("5-"). */
export interface PageRange {
  from: number
  to?: number
}

const PART = /^(\d+)?\s*(-)?\s*(\d+)?$/

/** Parses "1-3,7", "5-", "-2", "4" (whitespace allowed). Rejects empty parts, 0, and reversed ranges. */
export function parsePageRanges(spec: string): PageRange[] {
  const parts = spec.split(',').map((s) => s.trim())
  if (parts.length === 0 || parts.some((p) => p === '')) throw badSpec(spec, 'empty part')
  return parts.map((part) => {
    const m = PART.exec(part)
    if (!m || (m[1] === undefined && m[3] === undefined)) throw badSpec(spec, `"${part}" is not a page or a range`)
    const a = m[1] === undefined ? 1 : Number(m[1])
    const b = m[2] === undefined ? a : m[3] === undefined ? undefined : Number(m[3])
    if (a < 1 || (b !== undefined && b < 1)) throw badSpec(spec, 'pages are numbered from 1')
    if (b !== undefined && b < a) throw badSpec(spec, `"${part}" runs backwards`)
    if (a > 1_000_000 || (b ?? 0) > 1_000_000) throw badSpec(spec, 'page number too large')
    return b === undefined ? { from: a } : { from: a, to: b }
  })
}

/**
 * The 0-based page indices `ranges` select from a document of `pageCount` pages, in document
 * order, each once. A range that starts past the last page is an error (it names the page count).
 */
export function selectPages(ranges: readonly PageRange[] | undefined, pageCount: number): number[] {
  if (!ranges || ranges.length === 0) return Array.from({ length: pageCount }, (_, i) => i)
  const picked = new Set<number>()
  for (const r of ranges) {
    if (r.from > pageCount) {
      throw new OcrError('BAD_PAGE_RANGE', `page ${r.from} was asked for, but the document has ${pageCount} page${pageCount === 1 ? '' : 's'}`)
    }
    const to = Math.min(r.to ?? pageCount, pageCount)
    for (let p = r.from; p <= to; p++) picked.add(p - 1)
  }
  return [...picked].sort((x, y) => x - y)
}

/** The canonical text form of ranges ("1-3,7,9-"), for logs and job descriptions. */
export function formatPageRanges(ranges: readonly PageRange[]): string {
  return ranges.map((r) => (r.to === undefined ? `${r.from}-` : r.to === r.from ? `${r.from}` : `${r.from}-${r.to}`)).join(',')
}

function badSpec(spec: string, why: string): OcrError {
  return new OcrError('BAD_PAGE_RANGE', `invalid page range "${spec}": ${why} (expected e.g. "1-3,7" or "5-")`)
}
