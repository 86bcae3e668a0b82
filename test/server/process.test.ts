/**
 * The service as a real child process: `node bin/ocrserve.js serve`, health under load, graceful
 * shutdown with requests in flight, start-up errors; and every way a user starts it (`npm start`,
 * `npx ocrserve serve`, the image's entrypoint) stopped by signalling the process that was started.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { squash, textImage, type TextImage } from '../helpers/images.js'
import { buildOnce } from '../helpers/build.js'
import { DOCKERFILE, ROOT, execForm, last, parseDockerfile, stage, stageEnv } from '../deploy/helpers.js'
import { freePort, logLines } from './serve-child.js'

let img: TextImage
const children: ChildProcess[] = []

interface Started {
  child: ChildProcess
  url: string
  output: () => string
}

/** `command args` started with the service's settings, once /readyz answers 200. */
async function startServe(env: Record<string, string>, command: string = process.execPath, args: string[] = ['bin/ocrserve.js', 'serve']): Promise<Started> {
  const port = await freePort()
  const child = spawn(command, args, {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d))
  child.stderr!.on('data', (d: Buffer) => (out += d))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 120_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${out}`)
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false)
    if (ok) break
    if (Date.now() > deadline) throw new Error(`serve not ready: ${out}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  return { child, url, output: () => out }
}

beforeAll(async () => {
  await buildOnce()
  img = await textImage()
})
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  for (const pid of strays.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL')
})

/** Processes a test found below the one it started (killed after the test if still there). */
const strays: number[] = []

/** Every process below `pid` (Linux /proc), with its command line. */
function descendants(pid: number): { pid: number; ppid: number; cmd: string }[] {
  const all = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        // the field after the parenthesised command name is the state, then the parent's pid
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        return [{ pid: Number(d), ppid, cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim() }]
      } catch {
        return [] // gone meanwhile
      }
    })
  const out: { pid: number; ppid: number; cmd: string }[] = []
  for (let frontier = [pid]; frontier.length > 0; ) {
    const next = all.filter((p) => frontier.includes(p.ppid))
    out.push(...next)
    frontier = next.map((p) => p.pid)
  }
  return out
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The node process serving, below the process that was started. */
function servingNode(started: ChildProcess): { pid: number; ppid: number; cmd: string } {
  const node = descendants(started.pid!).find((p) => / serve$/.test(p.cmd) && /node/.test(p.cmd))
  expect(node, `a node process serving below ${started.pid}`).toBeDefined()
  strays.push(node!.pid)
  return node!
}

async function waitUntil(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const exitOf = (child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve([child.exitCode, child.signalCode]) : (once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>)

const post = (url: string) => fetch(`${url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })

describe('ocrserve serve (child process)', () => {
  it('/healthz keeps answering while 8 OCR requests run concurrently (latency is measured by npm run bench, not asserted)', async () => {
    const { url } = await startServe({ OCR_WORKERS: '2' })
    let done = false
    const load = Promise.all(Array.from({ length: 8 }, () => post(url))).finally(() => (done = true))
    let probesDuringLoad = 0
    await new Promise((r) => setTimeout(r, 100)) // let the jobs reach the workers
    while (!done) {
      const res = await fetch(`${url}/healthz`)
      expect(res.status).toBe(200)
      if (!done) probesDuringLoad++
      await new Promise((r) => setTimeout(r, 20))
    }
    const results = await load
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200))
    // answered between and during the OCR runs, not queued behind them: inference is off the event loop
    expect(probesDuringLoad).toBeGreaterThan(5)
  })

  it('SIGTERM finishes in-flight requests, then exits 0', async () => {
    const { child, url, output } = await startServe({ OCR_WORKERS: '1' })
    const inflight = Array.from({ length: 3 }, () => post(url))
    await new Promise((r) => setTimeout(r, 150))
    child.kill('SIGTERM')
    const results = await Promise.all(inflight)
    expect(results.map((r) => r.status)).toEqual([200, 200, 200])
    const body = (await results[2]!.json()) as { lines: { text: string }[] }
    expect(body.lines.map((l) => squash(l.text))).toEqual(img.lines.map(squash))
    const [code] = (await once(child, 'exit')) as [number]
    expect(code).toBe(0)
    // after the signal it no longer takes connections
    await expect(fetch(`${url}/healthz`)).rejects.toThrow()
    expect(output()).toMatch(/shutting down/)
  })

  it('a bad environment value stops start-up with a message naming the variable', async () => {
    const child = spawn(process.execPath, ['bin/ocrserve.js', 'serve'], { env: { ...process.env, OCR_MODE: 'cloud' }, stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    let err = ''
    child.stderr!.on('data', (d: Buffer) => (err += d))
    const [code] = (await once(child, 'exit')) as [number]
    expect(code).toBe(2)
    expect(err).toMatch(/OCR_MODE/)
    expect(err).toMatch(/single/)
    expect(err).toMatch(/remote/)
  })

  it('CLI flags override the environment', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, ['bin/ocrserve.js', 'serve', '--port', String(port), '--host', '127.0.0.1', '--workers', '1'], {
      env: { ...process.env, PORT: '1', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    })
    children.push(child)
    const deadline = Date.now() + 60_000
    let ok = false
    while (!ok && Date.now() < deadline) {
      ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)
      if (!ok) await new Promise((r) => setTimeout(r, 200))
    }
    expect(ok).toBe(true)
  })

  it('one start-up line says where it listens and that the web page is at /', async () => {
    const { child, url, output } = await startServe({ OCR_WORKERS: '1' })
    const listening = logLines(output()).filter((l) => /listening/i.test(String(l.msg)))
    expect(listening).toHaveLength(1)
    expect(listening[0]!.msg).toContain(`web page at ${url}/`)
    expect(listening[0]!.url).toBe(url)
    child.kill('SIGTERM')
    expect(await exitOf(child)).toEqual([0, null])
  })

  it('SIGTERM while the models load: one log line, exit 0', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, ['bin/ocrserve.js', 'serve'], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', OCR_WORKERS: '2' }, stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    let out = ''
    child.stderr!.on('data', (d: Buffer) => (out += d))
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      if (out.includes('loading the models') && child.exitCode === null) child.kill('SIGTERM')
    })
    expect(await exitOf(child)).toEqual([0, null])
    const lines = logLines(out)
    expect(lines.filter((l) => /stopped during start-up/.test(String(l.msg)))).toHaveLength(1)
    expect(lines.some((l) => /listening|ocr engine ready/.test(String(l.msg)))).toBe(false)
  })

  it('a port in use: one line naming it, exit 2, before any model loads', async () => {
    const taken = createServer()
    taken.listen(0, '127.0.0.1')
    await once(taken, 'listening')
    const port = (taken.address() as { port: number }).port
    try {
      const child = spawn(process.execPath, ['bin/ocrserve.js', 'serve'], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] })
      children.push(child)
      let stdout = ''
      let stderr = ''
      child.stdout!.on('data', (d: Buffer) => (stdout += d))
      child.stderr!.on('data', (d: Buffer) => (stderr += d))
      expect(await exitOf(child)).toEqual([2, null])
      expect(stderr.trimEnd().split('\n')).toEqual([`ocrserve serve: PORT ${port} is already in use on HOST 127.0.0.1 (another ocrserve?): stop that process or choose another PORT (--port)`])
      expect(stdout).not.toMatch(/loading the models|ocr engine ready/)
    } finally {
      taken.close()
    }
  })

  it('a second SIGINT while draining (npm passes on the Ctrl-C the terminal sent) does not cut the drain short', async () => {
    const { child, url } = await startServe({ OCR_WORKERS: '1' })
    const inflight = Array.from({ length: 3 }, () => post(url))
    await new Promise((r) => setTimeout(r, 150))
    child.kill('SIGINT')
    child.kill('SIGINT')
    expect((await Promise.all(inflight)).map((r) => r.status)).toEqual([200, 200, 200])
    expect(await exitOf(child)).toEqual([0, null])
  })
})

describe('every way a user starts the service stops on a signal to the process it started', () => {
  it('npm start: SIGTERM to npm drains the service (node is npm\'s own child); both exit 0', async () => {
    const { child, url, output } = await startServe({ OCR_WORKERS: '1' }, 'npm', ['start'])
    const node = servingNode(child)
    // exec: no shell between npm and node, so npm's forwarded signal reaches the service
    expect(node.ppid).toBe(child.pid)
    const inflight = post(url)
    await new Promise((r) => setTimeout(r, 150))
    child.kill('SIGTERM')
    expect((await inflight).status).toBe(200)
    expect(await exitOf(child)).toEqual([0, null])
    expect(alive(node.pid)).toBe(false)
    expect(logLines(output()).find((l) => /shutting down/.test(String(l.msg)))?.signal).toBe('SIGTERM')
  })

  it('npm start does not rebuild dist/ when the sources have not changed', async () => {
    const stamp = join(ROOT, 'dist/cli/main.js')
    const before = statSync(stamp).mtimeMs
    const { child } = await startServe({ OCR_WORKERS: '1' }, 'npm', ['start'])
    expect(statSync(stamp).mtimeMs).toBe(before)
    child.kill('SIGTERM')
    expect(await exitOf(child)).toEqual([0, null])
  })

  it('npx ocrserve serve: SIGTERM to npx stops the service too (the shell npx runs it in does not pass signals on)', async () => {
    const { child, output } = await startServe({ OCR_WORKERS: '1' }, 'npx', ['--offline', 'ocrserve', 'serve'])
    const node = servingNode(child)
    child.kill('SIGTERM')
    await exitOf(child)
    await waitUntil(() => !alive(node.pid), 'the service has exited')
    expect(logLines(output()).find((l) => /shutting down/.test(String(l.msg)))?.signal).toBe('parent process exited')
    expect(output()).toMatch(/"msg":"stopped"/)
  })

  it('the image\'s ENTRYPOINT + CMD (node itself, exec form): SIGTERM drains and exits 0', async () => {
    const cpu = stage(parseDockerfile(readFileSync(DOCKERFILE, 'utf8')), 'cpu')
    const command = [...execForm(last(cpu, 'ENTRYPOINT')!), ...execForm(last(cpu, 'CMD')!)].map((a) => a.replace(/^\/app\//, ROOT))
    expect(command[0]).toBe('node')
    const { NODE_ENV, OCR_DEVICE } = stageEnv(cpu)
    const { child, url } = await startServe({ OCR_WORKERS: '1', NODE_ENV: NODE_ENV!, OCR_DEVICE: OCR_DEVICE! }, process.execPath, command.slice(1))
    const inflight = post(url)
    await new Promise((r) => setTimeout(r, 150))
    child.kill('SIGTERM')
    expect((await inflight).status).toBe(200)
    expect(await exitOf(child)).toEqual([0, null])
  })
})
