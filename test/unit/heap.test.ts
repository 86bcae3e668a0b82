/**
 * src/workers/heap.ts: ocrserve's worker threads (every pool starts them through threadsRunning)
 * get a wider initial old generation unless Node's command line chose one. What the flag does to
 * collections is measured (docs/BENCHMARKS.md), not tested: GC counts follow V8's heuristics.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { INITIAL_OLD_SPACE_FLAG, INITIAL_OLD_SPACE_MB, initialOldSpaceOnCommandLine } from '../../src/workers/heap.js'

const ROOT = new URL('../../', import.meta.url)

describe('initial old generation', () => {
  it('recognises the flag on a command line in both spellings, with or without a value', () => {
    expect(initialOldSpaceOnCommandLine(['--initial-old-space-size=32'])).toBe(true)
    expect(initialOldSpaceOnCommandLine(['--expose-gc', '--initial_old_space_size=0'])).toBe(true)
    expect(initialOldSpaceOnCommandLine(['--initial-old-space-size', '16'])).toBe(true)
    expect(initialOldSpaceOnCommandLine(['--initial-heap-size=64', '--max-old-space-size=4096'])).toBe(false)
    expect(initialOldSpaceOnCommandLine([])).toBe(false)
  })

  it('sets the flag for later threads unless Node was started with one, whose choice stands', () => {
    const script = `import { widenWorkerHeaps } from './dist/workers/heap.js'; process.stdout.write(String(widenWorkerHeaps()))`
    const run = (flags: string[]) => execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })
    expect(run([])).toBe('true')
    expect(run(['--initial-old-space-size=8'])).toBe('false')
  })

  it('is set by the real-thread factory before its first thread starts, not over a command line that set it', () => {
    const script = [
      `import { threadsRunning } from './dist/workers/host.js'`,
      `import { workerHeapsWidenedTo } from './dist/workers/heap.js'`,
      `const before = workerHeapsWidenedTo()`,
      `const worker = threadsRunning(new URL('data:text/javascript,'), 'test')({}, 0)`,
      `process.stdout.write(before + ' ' + workerHeapsWidenedTo())`,
      `await worker.terminate()`,
    ].join('\n')
    const run = (flags: string[]) => execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })
    expect(run([])).toBe(`null ${INITIAL_OLD_SPACE_MB}`)
    expect(run(['--initial-old-space-size=0'])).toBe('null null')
  })

  it('names the flag with the size', () => {
    expect(INITIAL_OLD_SPACE_FLAG).toBe(`--initial-old-space-size=${INITIAL_OLD_SPACE_MB}`)
  })

  it('rejects a size that is not a whole number of MB', async () => {
    const { widenWorkerHeaps } = await import('../../src/workers/heap.js')
    expect(() => widenWorkerHeaps(-1)).toThrow(/whole number/)
    expect(() => widenWorkerHeaps(1.5)).toThrow(/whole number/)
  })
})
