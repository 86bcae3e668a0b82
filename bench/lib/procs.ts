/**
 * Child processes for the HTTP benchmarks: `ocrserve serve` and `ocrserve model-server` started
 * from the built CLI, waited on until ready, measured (RSS) and stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import { INITIAL_OLD_SPACE_FLAG } from '../../src/workers/heap.js'

export interface Child {
  readonly pid: number
  readonly proc: ChildProcess
  /** The last lines the process wrote (stdout + stderr), for error reports. */
  output(): string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>
}

const OUTPUT_KEEP = 8000

/** Starts `node args…` with `env` added to this process's environment. */
export function startNode(args: readonly string[], env: Record<string, string>, cwd: string): Child {
  const proc = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  if (proc.pid === undefined) throw new Error(`could not start node ${args.join(' ')}`)
  let out = ''
  const keep = (d: Buffer): void => {
    out = (out + d.toString('utf8')).slice(-OUTPUT_KEEP)
  }
  proc.stdout.on('data', keep)
  proc.stderr.on('data', keep)
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  return {
    pid: proc.pid,
    proc,
    output: () => out,
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))))
    })
  })
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(0))
  })
}

/** Polls `url` until it answers 200; fails with the child's output if it exits or time runs out. */
export async function waitReady(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`process exited with ${child.proc.exitCode} before ${url} was ready:\n${child.output()}`)
    if ((await getStatus(url)) === 200) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${child.output()}`)
}

export interface ModelServerChild {
  child: Child
  /** KServe v2 HTTP base URL and gRPC target on loopback. */
  http: string
  grpc: string
}

/**
 * `ocrserve model-server` of the checkout at `root` on `repository`, on free loopback ports, with
 * the Node flag compose.model-server.yml gives its main thread (src/workers/heap.ts); resolves
 * once it is ready, and stops it if it never is.
 */
export async function startModelServer(root: string, repository: string, extraArgs: readonly string[] = []): Promise<ModelServerChild> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()]
  const args = ['model-server', '--repository', repository, '--host', '127.0.0.1', '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--log-level', 'warn', ...extraArgs]
  const child = startNode([INITIAL_OLD_SPACE_FLAG, join(root, 'bin', 'ocrserve.js'), ...args], {}, root)
  try {
    await waitReady(`http://127.0.0.1:${httpPort}/v2/health/ready`, child, 120_000)
  } catch (err) {
    await child.stop()
    throw err
  }
  return { child, http: `http://127.0.0.1:${httpPort}`, grpc: `127.0.0.1:${grpcPort}` }
}

/** Resident set size of a process (MiB) from /proc, or null where /proc is not available. */
export function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100

/** The fields of /proc/PID/stat after the command name: [0] is the state (the stat's 3rd field). */
function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** CPU seconds (user + system, all threads) a process has used: /proc/PID/stat utime + stime. */
export function cpuSecondsOf(pid: number): number {
  const f = statFields(pid)
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS
}

/**
 * CPU seconds (user + system) this process has used, all its threads, plus those of its child
 * processes that have ended and been waited for (/proc/self/stat cutime + cstime: how Tesseract's
 * processes are counted). `children` is null where /proc cannot be read.
 */
export function cpuSecondsNow(): { self: number; children: number | null } {
  const u = process.cpuUsage()
  let children: number | null = null
  try {
    const f = statFields('self')
    children = (Number(f[13]) + Number(f[14])) / CLOCK_TICKS
  } catch {
    children = null
  }
  return { self: (u.user + u.system) / 1e6, children }
}
