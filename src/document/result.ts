/**
 * A result made of pages (pure: no decoding here, so the main thread can assemble pages read by
 * different workers without loading the decoders).
 */
import type { OcrResult, PageResult, StageTiming } from '../types.js'

const STAGES = ['decode', 'det', 'cls', 'rec', 'total'] as const

/** Stage times rounded to 1/100 ms (sums of page times carry float noise). */
export function roundTiming(t: StageTiming): StageTiming {
  const r = (v: number): number => Math.round(v * 100) / 100
  return { decode: r(t.decode), det: r(t.det), cls: r(t.cls), rec: r(t.rec), total: r(t.total) }
}

/**
 * The result of the pages `model` read, in order: the top-level fields are the first page's, the stage
 * times the pages' sums; `totalMs` (the job's wall time) replaces the summed total when given.
 */
export function resultFromPages(model: string, pages: readonly PageResult[], totalMs?: number): OcrResult {
  const first = pages[0]
  const timing: StageTiming = { decode: 0, det: 0, cls: 0, rec: 0, total: 0 }
  for (const p of pages) for (const k of STAGES) timing[k] += p.timing_ms[k]
  if (totalMs !== undefined) timing.total = totalMs
  return {
    model,
    width: first?.width ?? 0,
    height: first?.height ?? 0,
    rotation: first?.rotation ?? 0,
    lines: first?.lines ?? [],
    pages: [...pages],
    timing_ms: roundTiming(timing),
  }
}
