/**
 * `ocrserve read`'s parts, without the engine: results written in input order whatever order they
 * arrive in, framed as the format says; --out-dir files; the usage checks; the pool of files in
 * flight; Ctrl-C.
 */
import { EventEmitter } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { EXIT_INTERRUPTED } from '../../src/cli/exit-codes.js'
import { interruptOnCtrlC } from '../../src/cli/interrupt.js'
import { runPool } from '../../src/cli/pool.js'
import { usageError, type InputFile } from '../../src/cli/read-inputs.js'
import { DirOutput, InOrder, outputPath, StreamOutput, type Outcome } from '../../src/cli/read-output.js'
import type { Format } from '../../src/formats/index.js'
import type { OcrResult } from '../../src/types.js'

const timing = { decode: 1, det: 2, cls: 3, rec: 4, total: 10 }

/** A one-page result whose only line says `text`. */
function resultSaying(text: string): OcrResult {
  const lines = [{ text, score: 0.9, box: [[0, 0], [10, 0], [10, 5], [0, 5]] as OcrResult['lines'][number]['box'] }]
  return { model: 'builtin', width: 10, height: 5, rotation: 0, lines, pages: [{ page: 1, width: 10, height: 5, rotation: 0, lines, source: 'ocr', timing_ms: timing }], timing_ms: timing }
}

/** A stream that keeps what is written to it; `fail` makes every write fail with that error code. */
function sink(fail?: string): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (fail) return done(Object.assign(new Error(`write failed: ${fail}`), { code: fail }))
      chunks.push(chunk)
      done()
    },
  })
  return { stream, text: () => Buffer.concat(chunks).toString() }
}

const ok = async (output: StreamOutput | DirOutput, file: string): Promise<Outcome> => ({ ok: true, output: await output.render(file, resultSaying(file), undefined) })
const failure = { code: 'UNSUPPORTED_MEDIA', message: 'not an image' }
const failed: Outcome = { ok: false, ...failure }

describe('InOrder', () => {
  it('hands values on in index order, each as soon as every one before it has arrived', () => {
    const seen: [string, number][] = []
    const inOrder = new InOrder<string>((v, i) => seen.push([v, i]))
    inOrder.put(2, 'c')
    expect(seen).toEqual([])
    inOrder.put(0, 'a')
    expect(seen).toEqual([['a', 0]])
    inOrder.put(3, 'd')
    expect(seen).toEqual([['a', 0]])
    inOrder.put(1, 'b')
    expect(seen).toEqual([['a', 0], ['b', 1], ['c', 2], ['d', 3]])
  })
})

describe('StreamOutput: several inputs in one stream, in input order', () => {
  const files = ['a.png', 'b.png', 'c.png', 'd.png']

  it('json: results arriving out of order make a JSON array in input order; a failure is reported when its turn comes and leaves no element', async () => {
    const { stream, text } = sink()
    const output = new StreamOutput(stream, 'json', files, 'out.json')
    output.begin()
    expect(await output.put(2, await ok(output, 'c.png'))).toEqual([])
    expect(await output.put(3, await ok(output, 'd.png'))).toEqual([])
    expect(text()).toBe('[\n') // nothing before a.png and b.png are in
    expect(await output.put(1, failed)).toEqual([])
    expect(await output.put(0, await ok(output, 'a.png'))).toEqual([{ file: 'b.png', ...failure }])
    expect(await output.finish()).toBeNull()
    const parsed = JSON.parse(text()) as { file: string; lines: { text: string }[] }[]
    expect(parsed.map((r) => [r.file, r.lines[0]!.text])).toEqual([['a.png', 'a.png'], ['c.png', 'c.png'], ['d.png', 'd.png']])
    expect(text()).toBe(`[\n${[0, 2, 3].map((i) => JSON.stringify({ file: files[i], ...resultSaying(files[i]!) })).join(',\n')}\n]\n`)
  })

  it('json after Ctrl-C: the interrupted inputs leave nothing and the array is still closed', async () => {
    const { stream, text } = sink()
    const output = new StreamOutput(stream, 'json', files, 'out.json')
    output.begin()
    await output.put(1, { ok: 'interrupted' })
    expect(await output.put(0, await ok(output, 'a.png'))).toEqual([])
    await output.finish()
    expect((JSON.parse(text()) as { file: string }[]).map((r) => r.file)).toEqual(['a.png'])
  })

  it('jsonl: failures are error records in their place', async () => {
    const { stream, text } = sink()
    const output = new StreamOutput(stream, 'jsonl', files.slice(0, 3), 'out.jsonl')
    output.begin()
    await output.put(2, await ok(output, 'c.png'))
    await output.put(1, failed)
    expect(await output.put(0, await ok(output, 'a.png'))).toEqual([{ file: 'b.png', ...failure }])
    await output.finish()
    const records = text().trimEnd().split('\n').map((l) => JSON.parse(l) as { file: string; error?: unknown })
    expect(records.map((r) => [r.file, r.error ?? null])).toEqual([['a.png', null], ['b.png', failure], ['c.png', null]])
  })

  it('text: a header per file, in input order', async () => {
    const { stream, text } = sink()
    const output = new StreamOutput(stream, 'text', files.slice(0, 2), 'out.txt')
    output.begin()
    await output.put(1, await ok(output, 'b.png'))
    await output.put(0, await ok(output, 'a.png'))
    await output.finish()
    expect(text()).toBe('==> a.png <==\na.png\n==> b.png <==\nb.png\n')
  })

  it('one input: its whole document, unframed', async () => {
    const { stream, text } = sink()
    const output = new StreamOutput(stream, 'json', ['a.png'], 'out.json')
    output.begin()
    await output.put(0, await ok(output, 'a.png'))
    await output.finish()
    expect(text()).toBe(JSON.stringify(resultSaying('a.png'), null, 2) + '\n')
  })

  it('a failed write stops the run and is reported, except EPIPE (the reader went away)', async () => {
    for (const [code, message] of [
      ['ENOSPC', 'cannot write out.json: write failed: ENOSPC'],
      ['EPIPE', null],
    ] as const) {
      const { stream } = sink(code)
      const output = new StreamOutput(stream, 'json', files, 'out.json')
      output.begin()
      await new Promise((resolve) => setImmediate(resolve))
      expect(output.error?.code).toBe(code)
      expect(await output.finish()).toBe(message)
    }
  })
})

describe('DirOutput', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ocrserve-read-output-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('writes each read input to its own file as it comes (sub-directories made), reports failures, leaves no temporary files', async () => {
    const inputs = ['a.png', 'sub/b.png', 'c.png']
    const output = new DirOutput('text', inputs, inputs.map((rel) => outputPath(dir, rel, 'text')))
    expect(await output.put(1, await ok(output, 'sub/b.png'))).toEqual([])
    expect(readFileSync(join(dir, 'sub', 'b.txt'), 'utf8')).toBe('sub/b.png\n')
    expect(await output.put(2, failed)).toEqual([{ file: 'c.png', ...failure }])
    expect(await output.put(0, { ok: 'interrupted' })).toEqual([])
    expect(await output.finish()).toBeNull()
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(['sub', join('sub', 'b.txt')])
  })

  it('a folder that cannot be made (a file in its place) is that input\'s failure (WRITE_FAILED), not a crash', async () => {
    const blocked = join(dir, 'blocked.txt')
    writeFileSync(blocked, 'a file where a folder is needed')
    const output = new DirOutput('text', ['blocked.png'], [join(blocked, 'x.txt')])
    const [reported, ...more] = await output.put(0, await ok(output, 'blocked.png'))
    expect(more).toEqual([])
    expect(reported?.code).toBe('WRITE_FAILED')
    expect(reported?.message).toMatch(/^cannot write .*blocked\.txt\/x\.txt: /)
  })
})

describe('usageError', () => {
  const inputs = (...paths: string[]): InputFile[] => paths.map((p) => ({ path: p, rel: p.replace(/^.*\//, '') }))

  it.each([
    ['no inputs', [], { format: 'json' }, 'no image or PDF files found'],
    ['one document per input, several inputs, no --out-dir', inputs('a.png', 'b.png'), { format: 'hocr' }, '--format hocr writes one document per input; with several inputs use --out-dir'],
    ['an output that would replace its input', inputs('/d/a.pdf'), { format: 'pdf', outDir: '/d' }, '/d/a.pdf is an input; it would be overwritten (choose another --out-dir)'],
    ['two inputs, one output file', inputs('/x/a.png', '/y/a.pdf'), { format: 'json', outDir: '/o' }, '/x/a.png and /y/a.pdf would both be written to /o/a.json'],
  ] as const)('%s', (_name, files, flags, message) => {
    expect(usageError(files, flags as { format: Format; outDir?: string })).toBe(message)
  })

  it('passes what can be written', () => {
    expect(usageError(inputs('a.png', 'b.png'), { format: 'json' })).toBeNull()
    expect(usageError(inputs('a.png'), { format: 'alto' })).toBeNull()
    expect(usageError(inputs('/x/a.png', '/y/b.png'), { format: 'pdf', outDir: '/o' })).toBeNull()
  })
})

describe('runPool', () => {
  /** A task per index that waits until released; records starts. */
  function gatedTasks() {
    const started: number[] = []
    const release = new Map<number, () => void>()
    const task = (i: number): Promise<void> => {
      started.push(i)
      return new Promise<void>((resolve) => release.set(i, resolve))
    }
    const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
    return { started, release, task, settle }
  }

  it('starts tasks in index order, never more than `concurrency` at once', async () => {
    const { started, release, task, settle } = gatedTasks()
    const done = runPool(5, 2, task, () => false)
    await settle()
    expect(started).toEqual([0, 1])
    release.get(1)!()
    await settle()
    expect(started).toEqual([0, 1, 2])
    release.get(0)!()
    release.get(2)!()
    await settle()
    expect(started).toEqual([0, 1, 2, 3, 4])
    release.get(3)!()
    release.get(4)!()
    await done
  })

  it('starts no more once stopped; the running ones finish', async () => {
    const { started, release, task, settle } = gatedTasks()
    let stop = false
    let finished = false
    const done = runPool(5, 2, task, () => stop).then(() => (finished = true))
    await settle()
    stop = true
    release.get(0)!()
    await settle()
    expect(finished).toBe(false) // task 1 is still running
    release.get(1)!()
    await done
    expect(started).toEqual([0, 1])
  })
})

describe('interruptOnCtrlC', () => {
  /** A process stand-in: SIGINT listeners and exit calls. */
  function fakeProcess() {
    const emitter = new EventEmitter()
    const exits: number[] = []
    return { target: Object.assign(emitter, { exit: (code: number) => void exits.push(code) }), emitter, exits }
  }

  it('the first Ctrl-C aborts the signal, a second exits with 130; dispose stops listening', () => {
    const { target, emitter, exits } = fakeProcess()
    const interrupt = interruptOnCtrlC(target)
    expect(interrupt.signal.aborted).toBe(false)
    emitter.emit('SIGINT')
    expect(interrupt.signal.aborted).toBe(true)
    expect(exits).toEqual([])
    emitter.emit('SIGINT')
    expect(exits).toEqual([EXIT_INTERRUPTED])
    interrupt.dispose()
    expect(emitter.listenerCount('SIGINT')).toBe(0)
  })
})
