/**
 * CPU profiling of a section of the benchmark (main thread, via the inspector), and a summary of
 * the profile: self time per function, the flat view of a flame graph.
 */
import { Session } from 'node:inspector/promises'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  hitCount?: number
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface HotSpot {
  /** "name (file:line)". */
  where: string
  selfMs: number
  /** Share of all samples (0..1). */
  share: number
}

/** Runs `fn` under the V8 sampling profiler and returns its result with the profile. */
export async function profile<T>(fn: () => Promise<T>, intervalUs = 500): Promise<{ result: T; profile: CpuProfile }> {
  const session = new Session()
  session.connect()
  try {
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: intervalUs })
    await session.post('Profiler.start')
    const outcome = await fn().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    )
    const { profile: p } = (await session.post('Profiler.stop')) as { profile: CpuProfile }
    if (!outcome.ok) throw outcome.error
    return { result: outcome.value, profile: p }
  } finally {
    session.disconnect()
  }
}

function frameName(f: CallFrame, root: string): string {
  const file = f.url ? f.url.replace(/^file:\/\//, '').replace(root, '') : ''
  return file ? `${f.functionName || '(anonymous)'} (${file}:${f.lineNumber + 1})` : f.functionName || '(anonymous)'
}

/**
 * Self time per function (summed over call sites), largest first. Native code without a frame of
 * its own (an addon's synchronous call, e.g. ONNX Runtime's run) is named after its JS caller.
 */
export function hotSpots(p: CpuProfile, root = ''): HotSpot[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, ProfileNode>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n)
  const self = new Map<number, number>()
  const samples = p.samples ?? []
  const deltas = p.timeDeltas ?? []
  // time delta i is the time before sample i; attribute it to that sample's node
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i] ?? 0) / 1000)
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const agg = new Map<string, number>()
  for (const [id, ms] of self) {
    const node = byId.get(id)
    if (!node) continue
    const f = node.callFrame
    const caller = parent.get(id)
    const where = !f.url && !f.functionName && caller?.callFrame.url ? `(native) called from ${frameName(caller.callFrame, root)}` : frameName(f, root)
    agg.set(where, (agg.get(where) ?? 0) + ms)
  }
  return [...agg]
    .map(([where, selfMs]) => ({ where, selfMs, share: total > 0 ? selfMs / total : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs)
}
