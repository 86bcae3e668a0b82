/** Shared helpers of the remote-mode end-to-end tests: free ports, real CLI processes, tensors. */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import type { Tensor } from '../../src/inference/backend.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = fileURLToPath(new URL('../../bin/ocrserve.js', import.meta.url))
/** The real images committed for the tests (test/fixtures/real/SOURCES.md). */
export const REAL_DIR = fileURLToPath(new URL('../fixtures/real/', import.meta.url))

export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, proc?: CliProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (proc && proc.exited) throw new Error(`${what}: process exited early (code ${proc.child.exitCode})\n${proc.output()}`)
    try {
      if (await check()) return
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms\n${proc?.output() ?? ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export interface CliProcess {
  child: ChildProcess
  exited: boolean
  output(): string
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>
  /** SIGKILL at once (a crash). */
  kill(): Promise<void>
}

/** Spawns `node bin/ocrserve.js ...args` as a real second process. */
export function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const keep = (b: Buffer): void => {
    out = (out + b.toString()).slice(-20_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const proc: CliProcess = {
    child,
    exited: false,
    output: () => out,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  }
  const gone = new Promise<void>((r) => child.once('exit', () => r()))
  child.once('exit', () => {
    proc.exited = true
  })
  async function end(signal: NodeJS.Signals): Promise<void> {
    if (proc.exited) return
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await gone
    clearTimeout(timer)
  }
  return proc
}

export interface ModelServerProcess extends CliProcess {
  httpPort: number
  grpcPort: number
  http: string
}

/** Starts `ocrserve model-server` on free loopback ports; resolves once /v2/health/ready says 200 (unless wait=false). */
export async function startModelServerProcess(repository: string, opts: { workers?: number; wait?: boolean; httpPort?: number; grpcPort?: number } = {}): Promise<ModelServerProcess> {
  const httpPort = opts.httpPort ?? (await freePort())
  const grpcPort = opts.grpcPort ?? (await freePort())
  const proc = spawnCli([
    'model-server',
    '--repository',
    repository,
    '--host',
    '127.0.0.1',
    '--http-port',
    String(httpPort),
    '--grpc-port',
    String(grpcPort),
    '--workers',
    String(opts.workers ?? 1),
    '--threads-per-worker',
    '1',
    '--log-level',
    'warn',
  ])
  const server: ModelServerProcess = Object.assign(proc, { httpPort, grpcPort, http: `http://127.0.0.1:${httpPort}` })
  if (opts.wait !== false) {
    await waitFor('model server ready', async () => (await fetch(`${server.http}/v2/health/ready`)).status === 200, 60_000, proc)
  }
  return server
}

/** A real detection input: an eval image resized to w×h, normalised as PP-OCR's detector expects, NCHW. */
export async function detTensor(image: string, w: number, h: number): Promise<Tensor> {
  const { data } = await sharp(image).removeAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true })
  const mean = [0.485, 0.456, 0.406]
  const std = [0.229, 0.224, 0.225]
  const out = new Float32Array(3 * w * h)
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) out[c * w * h + i] = (data[i * 3 + (2 - c)]! / 255 - mean[c]!) / std[c]!
  }
  return { type: 'float32', dims: [1, 3, h, w], data: out }
}

export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (a.data.length !== b.data.length) return Infinity
  let m = 0
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs((a.data[i] as number) - (b.data[i] as number)))
  return m
}
