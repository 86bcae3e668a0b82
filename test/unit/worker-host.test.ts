/**
 * The worker host (src/workers/host.ts) with real worker threads running a trivial script
 * (test/fixtures/workers/echo-worker.ts, a TypeScript source: the host bootstraps tsx inside each
 * thread): start with ready infos, the owner's messages both ways, log records, a thread that exits
 * or throws replaced, close answered or timed out, a thread that cannot load.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Logger } from '../../src/logger.js'
import { scriptBeside, threadsRunning, WorkerHost, type HostedWorker } from '../../src/workers/host.js'
import type { EchoIn, EchoInit, EchoOut } from '../fixtures/workers/echo-worker.js'

const SCRIPT = new URL('../fixtures/workers/echo-worker.ts', import.meta.url)

interface Events {
  ready: Array<{ worker: HostedWorker<EchoIn>; info: { greeting: string } }>
  messages: Array<{ index: number; msg: EchoOut }>
  exits: Array<{ index: number; code: number }>
  logs: Array<{ level: string; obj: unknown; msg: string | undefined }>
}

const hosts: Array<WorkerHost<EchoInit, EchoIn, EchoOut, { greeting: string }>> = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()))
})

/** Polls with real waits: threads answer from other threads. */
async function eventually(what: string, test: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function host(size: number, init: (index: number) => EchoInit, closeTimeoutMs?: number) {
  const events: Events = { ready: [], messages: [], exits: [], logs: [] }
  const at = (level: string) => (obj: object | string, msg?: string) => void events.logs.push({ level, obj, msg })
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  const h = new WorkerHost<EchoInit, EchoIn, EchoOut, { greeting: string }>({
    name: 'echo worker',
    size,
    init,
    factory: threadsRunning(SCRIPT, 'test-echo'),
    logger,
    startError: 'INTERNAL',
    onReady: (worker, info) => events.ready.push({ worker, info }),
    onMessage: (worker, msg) => events.messages.push({ index: worker.index, msg }),
    onExit: (worker, code) => events.exits.push({ index: worker.index, code }),
    ...(closeTimeoutMs !== undefined ? { closeTimeoutMs } : {}),
  })
  hosts.push(h)
  return { h, events }
}

describe('worker host, real threads', () => {
  it("starts the threads from a TypeScript script, each with its init; messages go both ways; logs carry the thread's index", async () => {
    const { h, events } = host(2, (i) => ({ greeting: `hello ${i}` }))
    expect(await h.start()).toEqual([{ greeting: 'hello 0' }, { greeting: 'hello 1' }])
    expect(events.ready.map((r) => [r.worker.index, r.info.greeting]).sort()).toEqual([
      [0, 'hello 0'],
      [1, 'hello 1'],
    ])
    for (const { worker } of events.ready) worker.post({ type: 'echo', value: { from: worker.index } })
    await eventually('both echoes', () => events.messages.length === 2)
    expect(events.messages.map((m) => m.msg).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { type: 'echo', value: { from: 0 } },
      { type: 'echo', value: { from: 1 } },
    ])
    expect(events.logs.filter((l) => l.msg === 'loading').map((l) => l.obj)).toEqual(expect.arrayContaining([{ worker: 0, stage: 'load' }, { worker: 1, stage: 'load' }]))
  })

  it('a thread that exits or throws: the owner hears it with the exit code, and a replacement starts at the same index', async () => {
    const { h, events } = host(1, () => ({ greeting: 'hi' }))
    await h.start()
    const first = events.ready[0]!.worker
    first.post({ type: 'exit', code: 7 })
    await eventually('a replacement', () => events.ready.length === 2)
    expect(events.exits).toEqual([{ index: 0, code: 7 }])
    const second = events.ready[1]!.worker
    expect(second).not.toBe(first)
    expect(second.index).toBe(0)
    expect(events.logs).toContainEqual({ level: 'warn', obj: { worker: 0, code: 7 }, msg: 'echo worker exited; starting a replacement' })

    second.post({ type: 'throw' })
    await eventually('another replacement', () => events.ready.length === 3)
    expect(events.exits).toEqual([
      { index: 0, code: 7 },
      { index: 0, code: 1 },
    ])
    const crash = events.logs.find((l) => l.msg === 'echo worker crashed')
    expect((crash?.obj as { err: Error }).err.message).toBe('thrown in the thread')
    // the replacement serves
    events.ready[2]!.worker.post({ type: 'echo', value: 'still here' })
    await eventually('the echo', () => events.messages.length === 1)
    expect(events.messages[0]).toEqual({ index: 0, msg: { type: 'echo', value: 'still here' } })
  })

  it('close: each thread releases, then ends; the owner hears each exit; no replacement starts', async () => {
    const { h, events } = host(2, (i) => ({ greeting: `${i}` }))
    await h.start()
    await h.close()
    expect(events.messages.map((m) => m.msg)).toEqual([{ type: 'released' }, { type: 'released' }])
    expect(events.exits.map((e) => e.index).sort()).toEqual([0, 1])
    expect(events.ready).toHaveLength(2)
    // a second close is the same one
    await h.close()
  })

  it('close: a thread that does not release in time is terminated', async () => {
    const { h, events } = host(1, () => ({ greeting: 'stuck', hangOnClose: true }), 200)
    await h.start()
    await h.close()
    expect(events.messages).toEqual([])
    expect(events.exits).toHaveLength(1)
  })

  it('a thread that cannot load fails start with its error (code and message kept); the others are closed', async () => {
    const { h, events } = host(2, (i) => ({ greeting: `${i}`, failLoad: i === 1 }))
    await expect(h.start()).rejects.toMatchObject({ code: 'MODEL_ERROR', message: 'cannot load model: no such file' })
    // thread 0 had started: it was closed (released) and not replaced
    expect(events.messages.map((m) => m.msg)).toEqual([{ type: 'released' }])
    expect(events.ready.map((r) => r.worker.index)).toEqual([0])
  })
})

describe('scriptBeside', () => {
  it('names the TypeScript source beside a source module, the JavaScript file beside a compiled one', () => {
    expect(scriptBeside('file:///app/src/pipeline/scheduler.ts', 'worker').href).toBe('file:///app/src/pipeline/worker.ts')
    expect(scriptBeside('file:///app/dist/pipeline/scheduler.js', 'worker').href).toBe('file:///app/dist/pipeline/worker.js')
  })
})
