/** `ocrserve serve` as a real child process for the reliability tests (fuzz, overload, soak). */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'

export interface ServeChild {
  child: ChildProcess
  url: string
  port: number
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** SIGKILL if still running. */
  kill(): void
}

export async function freePort(): Promise<number> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  s.close()
  return port
}

/** Starts `node bin/ocrserve.js serve` (dist/ must be built) and waits until /readyz is 200. */
export async function startServeChild(env: Record<string, string>, args: string[] = []): Promise<ServeChild> {
  const port = await freePort()
  const child = spawn(process.execPath, ['bin/ocrserve.js', 'serve', ...args], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d))
  child.stderr!.on('data', (d: Buffer) => (out += d))
  const url = `http://127.0.0.1:${port}`
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  const deadline = Date.now() + 90_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${out}`)
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break
    if (Date.now() > deadline) {
      kill()
      throw new Error(`serve not ready: ${out}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return { child, url, port, output: () => out, kill }
}

/** The JSON log lines the child wrote (other output ignored). */
export function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}
