/**
 * Compose rehearsal: there is no Docker engine here, so each compose deployment is played on the
 * host instead. For every service the test reads what the container would run (the compose
 * `entrypoint`/`command`, else the Dockerfile target's ENTRYPOINT/CMD) and its environment (the
 * target's ENV, then the compose `environment`, variables substituted), and starts the same
 * command as a host process:
 *
 * - container paths map to host paths: /app → this checkout, /app/deploy/triton/models → a
 *   repository written by `models-repo --force` as the Dockerfile's build stage writes it, named
 *   volumes → temporary directories;
 * - every container port gets a free loopback port; `PORT`, `--http-port`/`--grpc-port` and
 *   `service:port` addresses in variables and arguments are rewritten to match, HOST=127.0.0.1;
 * - third-party model servers are replaced by `ocrserve model-server` on the repository they would
 *   serve: Triton (KServe v2) on its mounted repository, TF Serving (REST) on the ONNX repository
 *   (the user's SavedModels cannot be rehearsed; the protocol and wiring can); Redis runs as the
 *   host's redis-server with the compose command's options; nginx is replaced by a round-robin
 *   proxy to the `upstream` servers its mounted configuration names (the routing is rehearsed,
 *   nginx's own directives are not).
 *
 * Services start in `depends_on` order: `service_completed_successfully` waits for exit 0,
 * `service_healthy` runs the service's own compose health check (rewritten to the mapped port)
 * until it passes. Then an image goes through the web service's /v1/ocr, and the texts must equal
 * single mode's; the Redis deployment also runs a job through the proxy and checks that both
 * replicas read its pages.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { redisSkipReason } from '../helpers/redis-server.js'
import { requireOrSkip } from '../helpers/requirements.js'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DEPLOY,
  DOCKERFILE,
  ROOT,
  argv,
  containerPorts,
  dependsOn,
  execForm,
  last,
  loadCompose,
  parseDockerfile,
  run,
  serviceEnv,
  stage,
  stageEnv,
  type ComposeFile,
  type ComposeService,
} from './helpers.js'

const BIN = join(ROOT, 'bin/ocrserve.js')
/** The "shell" the compose files are read with: one worker each, so five processes fit two cores. */
const SHELL_ENV = { OCR_WORKERS: '1', LOG_LEVEL: 'warn' }
const START_TIMEOUT_MS = 120_000

const DEPLOYMENTS: Array<{ name: string; files: string[] }> = [
  { name: 'single', files: ['compose.single.yml'] },
  { name: 'single+gpu', files: ['compose.single.yml', 'compose.single.gpu.yml'] },
  { name: 'triton', files: ['compose.triton.yml'] },
  { name: 'model-server', files: ['compose.model-server.yml'] },
  { name: 'tfserving', files: ['compose.tfserving.yml'] },
  { name: 'redis', files: ['compose.redis.yml'] },
]

/** Ports third-party images listen on without saying so in the compose file. */
const IMAGE_PORTS: Array<[RegExp, number]> = [
  [/(^|\/)redis:/, 6379],
  [/(^|\/)nginx:/, 8080],
]

/**
 * The stand-in for nginx: a round-robin HTTP proxy on `port` to the `server host:port` lines of the
 * configuration's `upstream` block (addresses already mapped to the host), as `node -e` code.
 */
const PROXY = `
const http = require('node:http')
const [port, ...servers] = process.argv.slice(1)
let next = 0
http.createServer((req, res) => {
  const [host, p] = servers[next++ % servers.length].split(':')
  const up = http.request({ host, port: Number(p), method: req.method, path: req.url, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode, r.headers)
    r.pipe(res)
  })
  up.on('error', () => { res.writeHead(502); res.end() })
  req.pipe(up)
}).listen(Number(port), '127.0.0.1')
`

const FIXTURE_LINES = ['Shipping Containers', 'Compose Rehearsal 2026', 'Same Text Everywhere']

async function fixturePng(): Promise<Buffer> {
  const text = FIXTURE_LINES.map(
    (t, i) => `<text x="60" y="${100 + i * 100}" font-family="DejaVu Sans, Liberation Sans, sans-serif" font-size="56" fill="black">${t}</text>`,
  ).join('')
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="360"><rect width="100%" height="100%" fill="white"/>${text}</svg>`
  return sharp(Buffer.from(svg)).png().toBuffer()
}

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

interface Proc {
  name: string
  child: ChildProcess
  exit: Promise<number | null>
  output(): string
}

function start(name: string, cmd: string[], env: Record<string, string>): Proc {
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const keep = (b: Buffer): void => {
    out = (out + b.toString()).slice(-30_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exit = new Promise<number | null>((r) => {
    child.once('exit', (code) => r(code))
    child.once('error', (err) => {
      out += `\nspawn failed: ${err.message}`
      r(-1)
    })
  })
  return { name, child, exit, output: () => out }
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  p.child.kill('SIGTERM')
  const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000)
  await p.exit
  clearTimeout(t)
}

/** The minimal environment of a container: the image's ENV and the service's, plus a PATH to run node. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  for (const k of ['HOME', 'TMPDIR', 'LANG']) if (process.env[k]) env[k] = process.env[k]!
  return env
}

class Rehearsal {
  readonly procs: Proc[] = []
  private readonly ports = new Map<string, number>()
  private readonly volumes = new Map<string, string>()
  private readonly tmp = mkdtempSync(join(tmpdir(), 'ocrserve-rehearsal-'))
  readonly compose: ComposeFile

  constructor(
    files: string[],
    private readonly imageRepo: string,
  ) {
    this.compose = loadCompose(
      files.map((f) => join(DEPLOY, f)),
      SHELL_ENV,
    )
  }

  /** The host address of a service's container port (`http://127.0.0.1:<mapped>`). */
  url(service: string, containerPort: number): string {
    return `http://127.0.0.1:${this.port(service, containerPort)}`
  }

  private port(service: string, containerPort: number): number {
    const p = this.ports.get(`${service}:${containerPort}`)
    if (p === undefined) throw new Error(`${service} does not publish or expose ${containerPort}`)
    return p
  }

  /** `triton:8000` → `127.0.0.1:<mapped>` for every service port. */
  private rewriteAddresses(s: string): string {
    for (const [key, port] of this.ports) {
      const [svc, cport] = key.split(':') as [string, string]
      s = s.replace(new RegExp(`\\b${svc.replace(/[-.]/g, '\\$&')}:${cport}\\b`, 'g'), `127.0.0.1:${port}`)
    }
    return s
  }

  /** Container path → host path: the service's volumes, then the image layout. */
  private hostPath(service: ComposeService, p: string): string {
    for (const v of service.volumes ?? []) {
      const spec = typeof v === 'string' ? v : `${v.source}:${v.target}`
      const [source, target] = spec.split(':') as [string, string]
      if (p === target || p.startsWith(`${target}/`)) {
        const host = source.startsWith('.') || source.startsWith('/') ? resolve(DEPLOY, source) : this.volume(source)
        return host + p.slice(target.length)
      }
    }
    if (p === '/app/deploy/triton/models' || p.startsWith('/app/deploy/triton/models/')) return this.imageRepo + p.slice('/app/deploy/triton/models'.length)
    if (p === '/app' || p.startsWith('/app/')) return ROOT + p.slice('/app/'.length)
    return p
  }

  private volume(name: string): string {
    if (!(this.compose.volumes && name in this.compose.volumes)) throw new Error(`volume ${name} is not declared`)
    let dir = this.volumes.get(name)
    if (!dir) {
      dir = mkdtempSync(join(this.tmp, `${name}-`))
      this.volumes.set(name, dir)
    }
    return dir
  }

  /** The host command and environment standing in for a service's container. */
  private plan(name: string, s: ComposeService): { cmd: string[]; env: Record<string, string> } {
    const image = s.image ?? ''
    if (s.build) {
      const df = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'))
      const target = stage(df, s.build.target ?? df.stages.at(-1)!.name!)
      const entry = argv(s.entrypoint) ?? execForm(last(target, 'ENTRYPOINT')!)
      const command = argv(s.command) ?? execForm(last(target, 'CMD')!)
      const env: Record<string, string> = { ...baseEnv(), ...stageEnv(target), ...serviceEnv(s) }
      for (const k of Object.keys(env)) env[k] = this.rewriteAddresses(env[k]!)
      // the image's PORT=8080 matters only to `serve`; other commands (models-repo, model-server) ignore it
      if (env.PORT && (command[0] === 'serve' || this.ports.has(`${name}:${env.PORT}`))) env.PORT = String(this.port(name, Number(env.PORT)))
      env.HOST = '127.0.0.1'
      const args = [...entry, ...command].map((a, i, all) => {
        if (i === 0 && a === 'node') return process.execPath
        if (all[i - 1] === '--http-port' || all[i - 1] === '--grpc-port') return String(this.port(name, Number(a)))
        return this.rewriteAddresses(a.startsWith('/') ? this.hostPath(s, a) : a)
      })
      if (command[0] === 'model-server' && !command.includes('--host')) args.push('--host', '127.0.0.1')
      return { cmd: args, env }
    }
    const modelServer = (repository: string, http: number, grpc: number | null): string[] => [
      process.execPath,
      BIN,
      'model-server',
      '--repository',
      repository,
      '--host',
      '127.0.0.1',
      '--http-port',
      String(http),
      ...(grpc === null ? ['--no-grpc'] : ['--grpc-port', String(grpc)]),
      '--workers',
      '1',
      '--log-level',
      'warn',
    ]
    if (/(^|\/)tritonserver:/.test(image)) {
      const repoArg = argv(s.command)!.find((a) => a.startsWith('--model-repository='))!
      const repository = this.hostPath(s, repoArg.slice('--model-repository='.length))
      return { cmd: modelServer(repository, this.port(name, 8000), this.port(name, 8001)), env: baseEnv() }
    }
    if (/(^|\/)tensorflow\/serving:/.test(image)) {
      return { cmd: modelServer(this.imageRepo, this.port(name, 8501), null), env: baseEnv() }
    }
    if (/(^|\/)redis:/.test(image)) {
      // the compose command's options, on the mapped port, its data directory the /data volume
      const args = argv(s.command)!.slice(1)
      return { cmd: ['redis-server', ...args, '--port', String(this.port(name, 6379)), '--bind', '127.0.0.1', '--dir', this.hostPath(s, '/data')], env: baseEnv() }
    }
    if (/(^|\/)nginx:/.test(image)) {
      const conf = readFileSync(this.hostPath(s, '/etc/nginx/conf.d/default.conf'), 'utf8')
      const upstream = /upstream \w+ \{([^}]*)\}/.exec(conf)![1]!
      const servers = [...upstream.matchAll(/^\s*server (\S+?)[\s;]/gm)].map((m) => this.rewriteAddresses(m[1]!))
      return { cmd: [process.execPath, '-e', PROXY, String(this.port(name, 8080)), ...servers], env: baseEnv() }
    }
    throw new Error(`${name}: no host stand-in for image ${image}`)
  }

  /** Runs the service's compose health check once, on the host, against the mapped ports. */
  private async healthy(name: string, s: ComposeService, env: Record<string, string>): Promise<boolean> {
    const test = argv(s.healthcheck?.test)
    if (!test || s.healthcheck?.disable) throw new Error(`${name} has no health check`)
    let args: string[]
    if (test[0] === 'CMD') args = test.slice(1)
    else if (test[0] === 'CMD-SHELL') args = ['sh', '-c', test.slice(1).join(' ')]
    else throw new Error(`${name}: health check ${test[0]} form not supported`)
    // redis-cli asks the default port unless told
    if (args[0] === 'redis-cli') args.splice(1, 0, '-p', String(this.port(name, 6379)))
    args = args.map((a, i) => {
      if (i === 0 && a === 'node') return process.execPath
      for (const cport of containerPorts(s)) a = a.replace(new RegExp(`(127\\.0\\.0\\.1|localhost)([:/])${cport}\\b`, 'g'), `127.0.0.1$2${this.port(name, cport)}`)
      return a
    })
    const r = await run(args[0]!, args.slice(1), { env, timeoutMs: 10_000 })
    return r.code === 0
  }

  /** Starts every service in dependency order; resolves with the web service's URL once it is healthy. */
  async up(): Promise<string> {
    const services = this.compose.services
    for (const [name, s] of Object.entries(services)) {
      const ports = new Set(containerPorts(s))
      for (const [image, port] of IMAGE_PORTS) if (image.test(s.image ?? '')) ports.add(port)
      const cmd = argv(s.command) ?? []
      cmd.forEach((a, i) => {
        if (cmd[i - 1] === '--http-port' || cmd[i - 1] === '--grpc-port') ports.add(Number(a))
      })
      for (const p of ports) this.ports.set(`${name}:${p}`, await freePort())
    }
    const started = new Map<string, { proc: Proc; env: Record<string, string> }>()
    const order = topological(services)
    for (const name of order) {
      const s = services[name]!
      for (const [dep, cond] of Object.entries(dependsOn(s))) {
        const d = started.get(dep)!
        if (cond === 'service_completed_successfully') {
          const code = await d.proc.exit
          if (code !== 0) throw new Error(`${dep} exited with ${code}\n${d.proc.output()}`)
        } else if (cond === 'service_healthy') {
          await this.waitHealthy(dep, services[dep]!, d)
        }
      }
      const { cmd, env } = this.plan(name, s)
      const proc = start(name, cmd, env)
      this.procs.push(proc)
      started.set(name, { proc, env })
    }
    await this.waitHealthy('web', services.web!, started.get('web')!)
    return `http://127.0.0.1:${this.port('web', Number(serviceEnv(services.web!).PORT))}`
  }

  /** Waits until a started service passes its health check. */
  async waitHealthyService(name: string): Promise<void> {
    const proc = this.procs.find((p) => p.name === name)
    if (!proc) throw new Error(`${name} was not started`)
    await this.waitHealthy(name, this.compose.services[name]!, { proc, env: baseEnv() })
  }

  private async waitHealthy(name: string, s: ComposeService, d: { proc: Proc; env: Record<string, string> }): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      if (d.proc.child.exitCode !== null) throw new Error(`${name} exited (${d.proc.child.exitCode}) before it was healthy\n${d.proc.output()}`)
      if (await this.healthy(name, s, d.env)) return
      if (Date.now() > deadline) throw new Error(`${name} not healthy within ${START_TIMEOUT_MS} ms\n${d.proc.output()}`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }

  async down(): Promise<void> {
    for (const p of [...this.procs].reverse()) await stop(p)
    rmSync(this.tmp, { recursive: true, force: true })
  }

  logs(): string {
    return this.procs.map((p) => `--- ${p.name}\n${p.output()}`).join('\n')
  }
}

function topological(services: Record<string, ComposeService>): string[] {
  const out: string[] = []
  const visiting = new Set<string>()
  const visit = (n: string): void => {
    if (out.includes(n)) return
    if (visiting.has(n)) throw new Error(`dependency cycle at ${n}`)
    visiting.add(n)
    for (const d of Object.keys(dependsOn(services[n]!))) visit(d)
    visiting.delete(n)
    out.push(n)
  }
  for (const n of Object.keys(services)) visit(n)
  return out
}

/**
 * The Redis deployment: a 6-page job submitted through the proxy's one port succeeds, its status
 * and result come through the proxy (round robin: from either replica), and both replicas read pages.
 */
async function jobThroughProxy(r: Rehearsal): Promise<void> {
  await r.waitHealthyService('lb')
  const lb = r.url('lb', 8080)
  const pagesRead = async (service: string): Promise<number> => {
    const text = await (await fetch(`${r.url(service, 8080)}/metrics`)).text()
    return [...text.matchAll(/^ocr_worker_pages_total\{worker="\d+"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0)
  }
  const before = await Promise.all(['web', 'web-2'].map(pagesRead))
  const pages = await Promise.all(Array.from({ length: 6 }, (_, i) => sharp({ create: { width: 700, height: 160, channels: 3, background: '#fff' } }).composite([{ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="700" height="160"><text x="40" y="100" font-family="DejaVu Sans" font-size="48">Page ${i + 1} of six</text></svg>`) }]).png().toBuffer()))
  const tiff = await sharp(pages, { join: { animated: true } }).tiff().toBuffer()
  const res = await fetch(`${lb}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'image/tiff' }, body: tiff })
  expect(res.status).toBe(202)
  const job = (await res.json()) as { id: string; status_url: string; result_url: string }
  let status = ''
  for (let i = 0; i < 600 && status !== 'succeeded'; i++) {
    const s = (await (await fetch(lb + job.status_url)).json()) as { status: string }
    status = s.status
    if (status === 'failed' || status === 'cancelled') throw new Error(`job ${status}: ${JSON.stringify(s)}`)
    await new Promise((x) => setTimeout(x, 200))
  }
  expect(status).toBe('succeeded')
  const result = (await (await fetch(lb + job.result_url)).json()) as { pages: Array<{ page: number; lines: Array<{ text: string }> }> }
  expect(result.pages.map((p) => p.page)).toEqual([1, 2, 3, 4, 5, 6])
  const after = await Promise.all(['web', 'web-2'].map(pagesRead))
  const read = after.map((n, i) => n - before[i]!)
  expect(read[0]! + read[1]!).toBe(6)
  for (const n of read) expect(n, 'both replicas read pages of the job').toBeGreaterThan(0)
}

async function ocrTexts(url: string, png: Buffer): Promise<string[]> {
  const res = await fetch(`${url}/v1/ocr`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } })
  const body = (await res.json()) as { lines?: Array<{ text: string }> }
  if (res.status !== 200) throw new Error(`/v1/ocr answered ${res.status}: ${JSON.stringify(body)}`)
  return body.lines!.map((l) => l.text)
}

describe('compose rehearsal: each deployment run on the host', () => {
  let png: Buffer
  let imageRepo: string
  let imageRepoParent: string
  const results = new Map<string, string[]>()

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('run `npm run build` first (npm test does)')
    png = await fixturePng()
    // the image's /app/deploy/triton/models, written as the Dockerfile's build stage writes it
    const build = stage(parseDockerfile(readFileSync(DOCKERFILE, 'utf8')), 'build')
    expect(build.instructions.some((i) => i.keyword === 'RUN' && i.args.includes('models-repo --force --out /out/models'))).toBe(true)
    imageRepoParent = mkdtempSync(join(tmpdir(), 'ocrserve-image-'))
    imageRepo = join(imageRepoParent, 'models')
    const r = await run(process.execPath, [BIN, 'models-repo', '--force', '--out', imageRepo], { timeoutMs: 60_000 })
    if (r.code !== 0) throw new Error(`models-repo failed: ${r.stderr}`)
  })

  afterAll(() => {
    if (imageRepoParent) rmSync(imageRepoParent, { recursive: true, force: true })
  })

  for (const { name, files } of DEPLOYMENTS) {
    // the Redis deployment needs redis-server, and wget for the proxy's health check
    const skip = name === 'redis' ? (redisSkipReason() ?? (spawnSync('wget', ['--version']).status === 0 ? null : 'wget not found on PATH (apt-get install wget)')) : null
    it(`${name}: ${files.join(' + ')} comes up healthy and reads the page`, async (ctx) => {
      requireOrSkip(ctx, { missing: skip && `compose rehearsal of ${name} skipped: ${skip}`, requiredInCi: true })
      const r = new Rehearsal(files, imageRepo)
      try {
        const url = await r.up()
        expect((await fetch(`${url}/healthz`)).status).toBe(200)
        const texts = await ocrTexts(url, png)
        results.set(name, texts)
        if (name === 'single') {
          expect(texts).toEqual(FIXTURE_LINES)
        } else {
          const single = results.get('single')
          expect(single, 'single mode ran first and read the page').toBeDefined()
          expect(texts).toEqual(single)
        }
        if (name === 'redis') await jobThroughProxy(r)
        if (name === 'single+gpu' && !existsSync('/dev/nvidia0')) {
          // OCR_DEVICE=cuda on a host without a GPU: the engine says so and runs on the CPU
          expect(r.logs()).toMatch(/CUDA execution provider could not be loaded; falling back to CPU/)
        }
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${r.logs()}`)
      } finally {
        await r.down()
      }
    })
  }
})
