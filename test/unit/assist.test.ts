/**
 * AssistedBackend.runEach and helpWith (src/pipeline/assist.ts) with helpers simulated in this
 * thread: the same shared counter and message shapes as between workers, the scheduler's routing
 * replaced by direct calls. Every call's outputs must reach onResult exactly once, at its index,
 * whoever ran it; a helper that goes away leaves its calls to the busy worker; a failure anywhere
 * fails the list; nobody takes a call after a failure or a cancel. WorkerAssist (a worker's side)
 * is driven with the messages the main thread sends; the main thread's routing (AssistRouter) is
 * tested through the scheduler (scheduler.test.ts).
 */
import { describe, expect, it } from 'vitest'
import { OcrError } from '../../src/errors.js'
import { runInLanes, type Backend, type Feeds, type RunOptions, type Tensor } from '../../src/inference/backend.js'
import { silentLogger } from '../../src/logger.js'
import { AssistedBackend, helpWith, inSharedMemory, WorkerAssist, type AssistSessions, type AssistToMain, type OfferCalls, type OfferEvents, type SharedCalls } from '../../src/pipeline/assist.js'
import { until } from '../helpers/fake-workers.js'

/** A fake network: output = input × 2 (one float), after `delayMs`; records who ran what. */
function fakeModel(name: string, log: Array<[string, number]>, delayMs = 1, failOn?: number): Backend {
  const run = async (feeds: Feeds, _options?: RunOptions): Promise<Record<string, Tensor>> => {
    // onnxruntime-node on Node 20 refuses SharedArrayBuffer-backed inputs: a model never gets one
    if (feeds.x!.data.buffer instanceof SharedArrayBuffer) throw new Error('input in shared memory')
    const v = (feeds.x!.data as Float32Array)[0]!
    await new Promise((r) => setTimeout(r, delayMs))
    if (v === failOn) throw new OcrError('MODEL_ERROR', `${name} failed on ${v}`)
    log.push([name, v])
    return { y: { type: 'float32', dims: [1], data: new Float32Array([v * 2]) } }
  }
  return {
    inputNames: ['x'],
    outputNames: ['y'],
    run,
    // a local session's way: one call after another
    runEach: (calls, options, onResult) => runInLanes(run, calls, 1, options, onResult),
    dispose: () => Promise.resolve(),
  }
}

const calls = (n: number): Feeds[] => Array.from({ length: n }, (_, i) => ({ x: { type: 'float32', dims: [1], data: new Float32Array([i]) } }))

interface HelperPlan {
  model: Backend
  /** Stop taking calls after this many (a job arrived). */
  stopAfter?: number
  /** Take one call and vanish without answering it (the worker exited). */
  vanish?: boolean
}

/** An offer function whose helpers run in this thread, as worker.ts's help() does. */
function inThreadHelpers(plans: HelperPlan[], offered: SharedCalls[] = []): OfferCalls {
  return (shared: SharedCalls, events: OfferEvents) => {
    offered.push(shared)
    let open = true
    const deliver = (f: () => void): void => {
      if (open) f()
    }
    queueMicrotask(() => deliver(() => events.start(plans.length)))
    for (const plan of plans) {
      // structured clone in real life: the calls and the counter are in shared memory, so the
      // helper sees the same memory
      const copy: SharedCalls = { ...shared, calls: shared.calls.map((f: Feeds) => ({ x: { ...f.x! } })) }
      void (async () => {
        await new Promise((r) => setTimeout(r, 0))
        if (plan.vanish) {
          Atomics.add(copy.next, 0, 1)
          deliver(() => events.end())
          return
        }
        let ran = 0
        await helpWith(copy, plan.model, () => plan.stopAfter !== undefined && ran >= plan.stopAfter, (outcome) => {
          if (outcome.outputs) ran++
          setTimeout(() => deliver(() => events.result(outcome)), 0)
        })
        setTimeout(() => deliver(() => events.end()), 0)
      })()
    }
    return { close: () => (open = false) }
  }
}

async function runAll(backend: AssistedBackend, n: number, options: RunOptions = {}): Promise<Map<number, number>> {
  const got = new Map<number, number>()
  await backend.runEach(calls(n), options, (i, out) => {
    expect(got.has(i)).toBe(false)
    got.set(i, (out.y!.data as Float32Array)[0]!)
  })
  return got
}

const expectAll = (got: Map<number, number>, n: number): void => {
  expect([...got.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
  for (const [i, v] of got) expect(v).toBe(i * 2)
}

describe('AssistedBackend.runEach', () => {
  it('shares the calls with helpers: each runs once, every result lands at its index', async () => {
    const log: Array<[string, number]> = []
    const b = new AssistedBackend(fakeModel('own', log, 3), 'rec', inThreadHelpers([{ model: fakeModel('h1', log, 3) }, { model: fakeModel('h2', log, 3) }]), () => 2)
    const got = await runAll(b, 30)
    expectAll(got, 30)
    // every call ran exactly once, and all three took some
    expect(log.map(([, v]) => v).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    for (const who of ['own', 'h1', 'h2']) expect(log.some(([w]) => w === who)).toBe(true)
  })

  it('runs everything itself when no worker is idle, without offering', async () => {
    const log: Array<[string, number]> = []
    const offered: SharedCalls[] = []
    const b = new AssistedBackend(fakeModel('own', log), 'cls', inThreadHelpers([{ model: fakeModel('h', log) }], offered), () => 0)
    expectAll(await runAll(b, 5), 5)
    expect(offered).toHaveLength(0)
    expect(log.every(([w]) => w === 'own')).toBe(true)
  })

  it('runs everything itself when the offer finds no helper', async () => {
    const log: Array<[string, number]> = []
    const b = new AssistedBackend(fakeModel('own', log), 'rec', inThreadHelpers([]), () => 1)
    expectAll(await runAll(b, 6), 6)
    expect(log).toHaveLength(6)
  })

  it('a helper that gets a job stops taking calls; the rest are run here', async () => {
    const log: Array<[string, number]> = []
    const b = new AssistedBackend(fakeModel('own', log, 2), 'rec', inThreadHelpers([{ model: fakeModel('h', log, 2), stopAfter: 1 }]), () => 1)
    expectAll(await runAll(b, 12), 12)
    expect(log.filter(([w]) => w === 'h')).toHaveLength(1)
  })

  it('a helper that exits after taking a call: that call is run here', async () => {
    const log: Array<[string, number]> = []
    const b = new AssistedBackend(fakeModel('own', log, 2), 'rec', inThreadHelpers([{ model: fakeModel('h', log), vanish: true }]), () => 1)
    expectAll(await runAll(b, 8), 8)
    expect(log.every(([w]) => w === 'own')).toBe(true)
    expect(log).toHaveLength(8)
  })

  it("a helper's failure fails the list with its error, and no more calls are taken", async () => {
    const log: Array<[string, number]> = []
    const offered: SharedCalls[] = []
    const b = new AssistedBackend(fakeModel('own', log, 5), 'rec', inThreadHelpers([{ model: fakeModel('h', log, 1, 1) }], offered), () => 1)
    await expect(runAll(b, 40)).rejects.toMatchObject({ code: 'MODEL_ERROR', message: 'h failed on 1' })
    expect(Atomics.load(offered[0]!.next, 0)).toBeGreaterThanOrEqual(40)
    expect(log.length).toBeLessThan(40)
  })

  it('its own failure fails the list too', async () => {
    const log: Array<[string, number]> = []
    const b = new AssistedBackend(fakeModel('own', log, 1, 0), 'rec', inThreadHelpers([{ model: fakeModel('h', log, 5) }]), () => 1)
    await expect(runAll(b, 20)).rejects.toMatchObject({ code: 'MODEL_ERROR', message: 'own failed on 0' })
    expect(log.length).toBeLessThan(20)
  })

  it('a cancelled job stops taking calls (CANCELLED)', async () => {
    const log: Array<[string, number]> = []
    const ac = new AbortController()
    const own = fakeModel('own', log, 2)
    const counting: Backend = { ...own, run: (f, o) => (log.length === 3 && ac.abort(), own.run(f, o)) }
    counting.runEach = (c, o, onResult) => runInLanes(counting.run, c, 1, o, onResult)
    const b = new AssistedBackend(counting, 'rec', inThreadHelpers([{ model: fakeModel('h', log, 2) }]), () => 1)
    await expect(runAll(b, 50, { signal: ac.signal })).rejects.toMatchObject({ code: 'CANCELLED' })
    expect(log.length).toBeLessThan(20)
  })

  it('passes the requested outputs on to the helpers', async () => {
    const offered: SharedCalls[] = []
    const b = new AssistedBackend(fakeModel('own', []), 'rec', inThreadHelpers([{ model: fakeModel('h', []) }], offered), () => 1)
    await b.runEach(calls(3), { outputs: ['y'] }, () => undefined)
    expect(offered[0]).toMatchObject({ role: 'rec', outputs: ['y'] })
  })
})

describe('inSharedMemory', () => {
  it('copies every tensor into one SharedArrayBuffer, same types, values and dims, 8-byte aligned', () => {
    const feeds: Feeds[] = [
      { pixels: { type: 'uint8', dims: [1, 3], data: new Uint8Array([1, 2, 3]) }, valid: { type: 'float32', dims: [1, 1, 1, 2], data: new Float32Array([0.5, -2]) } },
      { ids: { type: 'int64', dims: [2], data: new BigInt64Array([7n, -9n]) }, pixels: { type: 'uint8', dims: [1, 1], data: new Uint8Array([255]) } },
    ]
    const shared = inSharedMemory(feeds)
    const memory = shared[0]!.pixels!.data.buffer
    expect(memory).toBeInstanceOf(SharedArrayBuffer)
    shared.forEach((f, i) => {
      expect(Object.keys(f)).toEqual(Object.keys(feeds[i]!))
      for (const [name, t] of Object.entries(f)) {
        const original = feeds[i]![name]!
        expect(t.data.buffer).toBe(memory)
        expect(t.data.byteOffset % 8).toBe(0)
        expect(t.data.constructor).toBe(original.data.constructor)
        expect(t.dims).toEqual(original.dims)
        expect(t.type).toBe(original.type)
        expect([...(t.data as Uint8Array)]).toEqual([...(original.data as Uint8Array)])
      }
    })
    // no two tensors overlap
    const spans = shared.flatMap((f) => Object.values(f).map((t) => [t.data.byteOffset, t.data.byteOffset + t.data.byteLength] as const)).sort((a, b) => a[0] - b[0])
    for (let k = 1; k < spans.length; k++) expect(spans[k]![0]).toBeGreaterThanOrEqual(spans[k - 1]![1])
  })
})

describe('helpWith', () => {
  it('takes calls until none is left and reports owned copies of the outputs', async () => {
    const shared: SharedCalls = { role: 'rec', calls: inSharedMemory(calls(4)), next: new Int32Array(new SharedArrayBuffer(4)) }
    Atomics.store(shared.next, 0, 1) // the busy worker took call 0
    const seen: number[] = []
    const transfers: ArrayBuffer[][] = []
    const ran = await helpWith(shared, fakeModel('h', []), () => false, (o, t) => {
      seen.push(o.index)
      transfers.push(t)
      expect((o.outputs!.y!.data as Float32Array)[0]).toBe(o.index * 2)
    })
    expect(ran).toBe(3)
    expect(seen).toEqual([1, 2, 3])
    expect(transfers.every((t) => t.length === 1)).toBe(true)
  })

  it('reports an error and stops', async () => {
    const shared: SharedCalls = { role: 'cls', calls: inSharedMemory(calls(5)), next: new Int32Array(new SharedArrayBuffer(4)) }
    const outcomes: Array<{ index: number; code?: string }> = []
    const ran = await helpWith(shared, fakeModel('h', [], 0, 1), () => false, (o) => outcomes.push({ index: o.index, ...(o.error ? { code: o.error.code } : {}) }))
    expect(ran).toBe(1)
    expect(outcomes).toEqual([{ index: 0 }, { index: 1, code: 'MODEL_ERROR' }])
  })
})

describe("WorkerAssist (a worker's side)", () => {
  /** A worker's sessions: every pack's made on use, and already loaded. */
  const sessions = (make: () => Promise<Backend>): AssistSessions => ({ local: make, loaded: make })
  const y = (v: number): Record<string, Tensor> => ({ y: { type: 'float32', dims: [1], data: new Float32Array([v]) } })

  it('offers a list to the main thread while workers are idle, and takes the answers routed back by reqId', async () => {
    const posted: AssistToMain[] = []
    const log: Array<[string, number]> = []
    const side = new WorkerAssist((m) => posted.push(m), sessions(async () => fakeModel('own', log, 2)), () => true, silentLogger)
    side.handle({ type: 'idle', count: 1 })
    const got = new Map<number, number>()
    const list = (await side.backend('zh', 'rec')).runEach(calls(6), { outputs: ['y'] }, (i, out) => got.set(i, (out.y!.data as Float32Array)[0]!))
    await until('the offer', () => posted.length === 1)
    const offer = posted[0] as Extract<AssistToMain, { type: 'assist' }>
    expect(offer).toMatchObject({ type: 'assist', model: 'zh', role: 'rec', outputs: ['y'] })
    expect(offer.calls).toHaveLength(6)
    expect(offer.calls[0]!.x!.data.buffer).toBeInstanceOf(SharedArrayBuffer)
    // one helper: it takes two calls from the shared counter and answers them, then ends
    side.handle({ type: 'assist-start', reqId: offer.reqId, helpers: 1 })
    const taken = [Atomics.add(offer.next, 0, 1), Atomics.add(offer.next, 0, 1)].filter((i) => i < 6)
    for (const i of taken) side.handle({ type: 'assist-result', reqId: offer.reqId, index: i, outputs: y(i * 2) })
    // an answer to another offer is not this list's
    side.handle({ type: 'assist-result', reqId: offer.reqId + 1, index: 5, outputs: y(-1) })
    side.handle({ type: 'assist-end', reqId: offer.reqId })
    await list
    expect([...got.entries()].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: 6 }, (_, i) => [i, i * 2]))
    // the calls the helper took were not run here
    expect(log.map(([, v]) => v).sort()).toEqual([0, 1, 2, 3, 4, 5].filter((i) => !taken.includes(i)))
  })

  it('offers nothing when no worker is idle: the list runs here', async () => {
    const posted: AssistToMain[] = []
    const log: Array<[string, number]> = []
    const side = new WorkerAssist((m) => posted.push(m), sessions(async () => fakeModel('own', log)), () => true, silentLogger)
    side.handle({ type: 'idle', count: 0 })
    await (await side.backend('builtin', 'cls')).runEach(calls(4), {}, () => undefined)
    expect(posted).toEqual([])
    expect(log).toHaveLength(4)
  })

  it("helps with another worker's calls: each answered with assist-done, then assist-end", async () => {
    const posted: AssistToMain[] = []
    const side = new WorkerAssist((m) => posted.push(m), sessions(async () => fakeModel('helper', [])), () => false, silentLogger)
    side.handle({ type: 'assist-run', id: 4, model: 'builtin', role: 'cls', calls: inSharedMemory(calls(3)), next: new Int32Array(new SharedArrayBuffer(4)) })
    await until('the end of its help', () => posted.some((m) => m.type === 'assist-end'))
    expect(posted.map((m) => [m.type, 'id' in m ? m.id : null, 'index' in m ? m.index : null])).toEqual([
      ['assist-done', 4, 0],
      ['assist-done', 4, 1],
      ['assist-done', 4, 2],
      ['assist-end', 4, null],
    ])
  })

  it('a worker with a job of its own takes no calls: it answers assist-end at once', async () => {
    const posted: AssistToMain[] = []
    const shared: SharedCalls = { role: 'rec', calls: inSharedMemory(calls(3)), next: new Int32Array(new SharedArrayBuffer(4)) }
    const side = new WorkerAssist((m) => posted.push(m), sessions(async () => fakeModel('helper', [])), () => true, silentLogger)
    side.handle({ type: 'assist-run', id: 5, model: 'builtin', ...shared })
    await until('its answer', () => posted.length > 0)
    expect(posted).toEqual([{ type: 'assist-end', id: 5 }])
    expect(Atomics.load(shared.next, 0)).toBe(0)
  })

  it("takes no calls of a pack whose sessions it has not loaded (helping must not load another pack's models)", async () => {
    const posted: AssistToMain[] = []
    const made: string[] = []
    const shared: SharedCalls = { role: 'rec', calls: inSharedMemory(calls(3)), next: new Int32Array(new SharedArrayBuffer(4)) }
    const local = async (model: string): Promise<Backend> => (made.push(model), fakeModel('helper', []))
    const side = new WorkerAssist((m) => posted.push(m), { local, loaded: (model) => (model === 'builtin' ? local(model) : undefined) }, () => false, silentLogger)
    side.handle({ type: 'assist-run', id: 6, model: 'ja', ...shared })
    await until('its answer', () => posted.length > 0)
    expect(posted).toEqual([{ type: 'assist-end', id: 6 }])
    expect(made).toEqual([])
    expect(Atomics.load(shared.next, 0)).toBe(0)
  })
})
