/**
 * Throughput in rounds: several engines (or one engine with several settings) each read the same
 * images, all at once at their throughput layout, once per round, taking turns in a rotating order
 * (bench/lib/stats.ts rotation), so every round gives each of them a rate and a CPU cost measured
 * under the same machine conditions, and every ratio between them can be formed per round and
 * reported with its spread over the rounds.
 */
import { cpuSecondsNow } from './procs.js'
import { rotation } from './stats.js'

/** One engine in the rounds. */
export interface Contestant<Image> {
  /** Key in results and JSON, e.g. 'ocrserve', 'ppu'. */
  key: string
  /** Its row in the tables. */
  label: string
  /** The engine's own description (version, settings). */
  describe: string
  /** How it reads the images at once, e.g. "2 worker threads × 1 ORT thread". */
  mode: string
  /** Whether it reads in child processes (their CPU time counts only once they have exited). */
  childProcesses: boolean
  /** A pass before the rounds, so that first-use costs (arenas per shape, caches) are not measured. */
  warmUp: boolean
  /** Reads every image once, at its layout; per image: lines found and that read's latency (ms). */
  pass(images: readonly Image[]): Promise<{ lines: number[]; latency: number[] }>
  close(): Promise<void>
}

/**
 * Another measure that takes its turn in every round, in the rotation with the contestants (the
 * saturated floor: ratios to it are then formed within a round), recording its own results.
 */
export interface Companion {
  label: string
  /** Its measurement for round `round` (0-based). */
  round(round: number): Promise<void>
}

export interface RoundsResult {
  key: string
  label: string
  describe: string
  mode: string
  /** Per round: images per second. */
  imgPerSec: number[]
  /** Per round: CPU seconds per image (all threads; child processes included), null where it cannot be read. */
  cpuPerImage: (number | null)[]
  /** Per round, per image (its first copy): the read's latency (ms) while the other reads of the pass ran. */
  latency: number[][]
  /** Per image (its first copy): lines found in the last round. */
  lines: number[]
}

/**
 * Runs `rounds` rounds over the contestants (after a warm-up pass of the images for those that
 * want one); in a round each reads `copies` copies of the images at once (more than one keeps
 * every worker busy until near the end, so the last large image's tail weighs less).
 * `onTurn` is told who reads next (progress). `companions` take their turns in the same rotation.
 * The contestants are not closed here.
 */
export async function throughputRounds<Image>(
  contestants: readonly Contestant<Image>[],
  images: readonly Image[],
  rounds: number,
  onTurn: (what: string) => void = () => {},
  copies = 1,
  companions: readonly Companion[] = [],
): Promise<RoundsResult[]> {
  const list = Array.from({ length: copies }, () => images).flat()
  const out: RoundsResult[] = contestants.map((c) => ({ key: c.key, label: c.label, describe: c.describe, mode: c.mode, imgPerSec: [], cpuPerImage: [], latency: [], lines: [] }))
  for (const c of contestants) {
    if (!c.warmUp) continue
    onTurn(`${c.label}: warm-up pass`)
    await c.pass(images)
  }
  for (let r = 0; r < rounds; r++) {
    for (const j of rotation(contestants.length + companions.length, r)) {
      if (j >= contestants.length) {
        const companion = companions[j - contestants.length]!
        onTurn(`${companion.label}: round ${r + 1} of ${rounds}`)
        await companion.round(r)
        continue
      }
      const c = contestants[j]!
      onTurn(`${c.label}: round ${r + 1} of ${rounds}`)
      const cpu0 = cpuSecondsNow()
      const t0 = performance.now()
      const { lines, latency } = await c.pass(list)
      const seconds = (performance.now() - t0) / 1000
      const cpu1 = cpuSecondsNow()
      const o = out[j]!
      o.imgPerSec.push(list.length / seconds)
      o.cpuPerImage.push(cpuPerImage(cpu0, cpu1, list.length, c.childProcesses))
      // per image: its first copy
      o.latency.push(latency.slice(0, images.length))
      o.lines = lines.slice(0, images.length)
    }
  }
  return out
}

/** CPU seconds per image between two readings; null when child processes count and /proc was not readable. */
export function cpuPerImage(a: ReturnType<typeof cpuSecondsNow>, b: ReturnType<typeof cpuSecondsNow>, images: number, childProcesses: boolean): number | null {
  if (images <= 0) return null
  let cpu = b.self - a.self
  if (a.children !== null && b.children !== null) cpu += b.children - a.children
  else if (childProcesses) return null
  return cpu / images
}

/** Reads images with `parallel` reads in flight (a pool over the list): per image, lines and latency (ms). */
export async function pooled<Image>(read: (img: Image) => Promise<number>, images: readonly Image[], parallel: number): Promise<{ lines: number[]; latency: number[] }> {
  let next = 0
  const latency = images.map(() => 0)
  const lines = images.map(() => 0)
  await Promise.all(
    Array.from({ length: Math.min(parallel, images.length) }, async () => {
      while (next < images.length) {
        const i = next++
        const t0 = performance.now()
        lines[i] = await read(images[i]!)
        latency[i] = performance.now() - t0
      }
    }),
  )
  return { lines, latency }
}
