/**
 * A real redis-server (Debian's `redis-server`, installed by .ci/run) for the tests and the
 * benchmark: started on a free port in its own temporary directory, no persistence unless asked,
 * stopped and started again on the same port and directory. No mock stands in for it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../server/serve-child.js'

const BINARY = 'redis-server'

/** Why a real Redis cannot be started here (null: it can). */
export function redisSkipReason(): string | null {
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) return `${BINARY} not found on PATH (apt-get install redis-server; .ci/run installs it)`
  return null
}

export interface RedisServer {
  port: number
  /** redis://[:password@]127.0.0.1:port */
  url: string
  /** Stops the server: SIGKILL by default (what a crash does; with `persist`, acknowledged writes are on disk). */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same port and directory. */
  start(): Promise<void>
  /** Stops it and removes its directory. */
  remove(): Promise<void>
}

export interface RedisServerOptions {
  password?: string
  /** Append-only file, fsync on every write: what the server acknowledged survives a kill. */
  persist?: boolean
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'ocrserve-redis-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '']
  args.push(...(options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']))
  if (options.password) args.push('--requirepass', options.password)
  let child: ChildProcess | null = null
  const start = async (): Promise<void> => {
    child = spawn(BINARY, args, { stdio: 'ignore' })
    const deadline = Date.now() + 20_000
    while (!(await answers(port))) {
      if (child.exitCode !== null) throw new Error(`${BINARY} exited ${child.exitCode}`)
      if (Date.now() > deadline) throw new Error(`${BINARY} did not answer on port ${port}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const stop = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const c = child
    child = null
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const exited = once(c, 'exit')
    c.kill(signal)
    await exited
  }
  await start()
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : ''
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    stop,
    start,
    async remove() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Whether something answers PING on the port like Redis (+PONG, or -NOAUTH with a password). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    const done = (ok: boolean): void => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(1000, () => done(false))
    s.on('error', () => done(false))
    s.on('connect', () => s.write('PING\r\n'))
    s.on('data', (d) => done(/^[+-]/.test(d.toString())))
  })
}
