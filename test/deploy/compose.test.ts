/**
 * The compose files: each deployment's files pass what `docker compose config` checks (the Compose
 * Specification's JSON schema, file by file and merged, and the references between services,
 * volumes and networks; test/deploy/helpers.ts composeProblems, no Docker needed), and each has the
 * wiring its mode needs:
 * services, environment names ocrserve actually reads, health checks, start order, GPU
 * reservations, read-only model mounts, pinned images.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ENV_VARS, loadServiceConfig } from '../../src/config.js'
import { INITIAL_OLD_SPACE_FLAG } from '../../src/workers/heap.js'
import { DEPLOY, argv, composeProblems, containerPorts, dependsOn, interpolate, loadCompose, serviceEnv, type ComposeFile, type ComposeService } from './helpers.js'

const f = (name: string): string => join(DEPLOY, name)

/** Each deployment: its compose files, in `docker compose -f A -f B` order. */
const SETS: Record<string, string[]> = {
  single: [f('compose.single.yml')],
  'single+gpu': [f('compose.single.yml'), f('compose.single.gpu.yml')],
  triton: [f('compose.triton.yml')],
  'model-server': [f('compose.model-server.yml')],
  tfserving: [f('compose.tfserving.yml')],
  redis: [f('compose.redis.yml')],
}

const KNOWN_ENV = new Set<string>(ENV_VARS.map((v) => v.name))
/** What the Docker image sets besides ocrserve's own variables. */
const IMAGE_ENV = new Set(['NODE_ENV'])

function isOcrserve(s: ComposeService): boolean {
  return s.build !== undefined
}

function gpuReservation(s: ComposeService): { driver?: string; count?: number | string; capabilities?: string[] } | undefined {
  return s.deploy?.resources?.reservations?.devices?.[0]
}

describe('Compose Specification (what `docker compose config` checks)', () => {
  for (const [name, files] of Object.entries(SETS)) {
    it(`accepts ${name}`, () => {
      expect(composeProblems(files)).toEqual([])
    })
  }

  const dir = mkdtempSync(join(tmpdir(), 'ocrserve-compose-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const svc = (lines: string): string => `services:\n  web:\n    image: ocrserve:cpu\n${lines}`

  it.each([
    ['a depends_on condition the specification lacks', svc('    depends_on:\n      triton:\n        condition: service_is_nice\n  triton:\n    image: x:1\n'), /depends_on\/triton\/condition must be equal to one of the allowed values/],
    ['a misspelt service key', svc('    comand: ["serve"]\n'), /\/services\/web must NOT have additional properties .*"comand"/],
    ['ports that are not a list', svc('    ports: 8080\n'), /\/services\/web\/ports must be array/],
    ['a dependency on a service that does not exist', svc('    depends_on: [triton]\n'), /service web depends on undefined service triton/],
    ['a named volume not declared at the top level', svc('    volumes:\n      - models:/models:ro\n'), /service web refers to undefined volume models/],
  ])('rejects a file with %s (the checks above can fail)', (_, yaml, problem) => {
    const bad = join(dir, 'bad.yml')
    writeFileSync(bad, yaml)
    expect(composeProblems([bad]).join('\n')).toMatch(problem)
  })

  it('checks override files merged with their base: a reference the override adds must resolve in the merged model', () => {
    const over = join(dir, 'override.yml')
    writeFileSync(over, 'services:\n  web:\n    depends_on: [sidecar]\n')
    expect(composeProblems([f('compose.single.yml'), over])).toEqual(['service web depends on undefined service sidecar'])
  })
})

describe('compose variable substitution (the loader the rehearsal uses)', () => {
  it.each([
    ['${A:-x}', {}, 'x'],
    ['${A:-x}', { A: '' }, 'x'],
    ['${A-x}', { A: '' }, ''],
    ['${A}', { A: 'v' }, 'v'],
    ['$A/b', { A: 'v' }, 'v/b'],
    ['$$m and $${n}', {}, '$m and ${n}'],
  ] as const)('%s with %j → %s', (input, env, out) => {
    expect(interpolate(input, env)).toBe(out)
  })

  it('fails on a missing required variable', () => {
    expect(() => interpolate('${A:?set A}', {})).toThrow(/A is missing: set A/)
  })
})

describe('compose wiring', () => {
  const load = (name: string, env: Record<string, string> = {}): ComposeFile => loadCompose(SETS[name]!, env)

  for (const name of Object.keys(SETS)) {
    describe(name, () => {
      const c = load(name)

      it('gives ocrserve services only variables that ocrserve reads, with values it accepts', () => {
        for (const [svcName, s] of Object.entries(c.services).filter(([, s]) => isOcrserve(s))) {
          const env = serviceEnv(s)
          for (const k of Object.keys(env)) expect(KNOWN_ENV.has(k) || IMAGE_ENV.has(k), `${svcName}: ${k} is not in ENV_VARS`).toBe(true)
          if (argv(s.command)?.[0] === 'serve') expect(() => loadServiceConfig(env)).not.toThrow()
        }
      })

      it('pins every image and never uses latest', () => {
        for (const [svcName, s] of Object.entries(c.services)) {
          expect(s.image, svcName).toBeTruthy()
          const tag = /:([^/:@]+)$/.exec(s.image!)?.[1]
          expect(tag, `${svcName}: ${s.image} has no tag`).toBeTruthy()
          expect(tag).not.toBe('latest')
        }
      })

      it('has a web service running `serve` on 8080 with a /readyz health check', () => {
        const web = c.services.web!
        expect(argv(web.command)).toEqual(['serve'])
        expect(serviceEnv(web).PORT).toBe('8080')
        expect(containerPorts(web)).toContain(8080)
        expect(argv(web.healthcheck!.test)!.join(' ')).toContain('/readyz')
        expect(web.build?.dockerfile).toBe('deploy/docker/Dockerfile')
        expect(web.build?.context).toBe('..')
      })

      it('starts every service only after what it depends on is healthy or done', () => {
        for (const [svcName, s] of Object.entries(c.services)) {
          for (const [dep, cond] of Object.entries(dependsOn(s))) {
            expect(c.services[dep], `${svcName} depends on a missing ${dep}`).toBeDefined()
            expect(['service_healthy', 'service_completed_successfully']).toContain(cond)
            if (cond === 'service_healthy') expect(c.services[dep]!.healthcheck?.test, `${dep} needs a health check`).toBeDefined()
          }
        }
      })
    })
  }

  it('single: one web service, models in-process on the CPU image', () => {
    const c = load('single')
    expect(Object.keys(c.services)).toEqual(['web'])
    const env = serviceEnv(c.services.web!)
    expect(env.OCR_MODE).toBe('single')
    expect(c.services.web!.build?.target).toBe('cpu')
    expect(gpuReservation(c.services.web!)).toBeUndefined()
  })

  it('single+gpu: the CUDA image, OCR_DEVICE=cuda and one NVIDIA GPU reserved', () => {
    const c = load('single+gpu')
    const web = c.services.web!
    expect(web.build?.target).toBe('cuda')
    expect(web.build?.dockerfile).toBe('deploy/docker/Dockerfile')
    expect(serviceEnv(web).OCR_DEVICE).toBe('cuda')
    expect(serviceEnv(web).OCR_MODE).toBe('single')
    expect(gpuReservation(web)).toEqual({ driver: 'nvidia', count: 1, capabilities: ['gpu'] })
    expect(web.image).toBe('ocrserve:cuda')
  })

  it('triton: web → Triton (healthy) ← one-shot model repository (done), GPU reserved, repository read-only', () => {
    const c = load('triton')
    const { web, triton, models } = c.services
    const env = serviceEnv(web!)
    expect(env.OCR_MODE).toBe('remote')
    expect(env.OCR_REMOTE_URL).toBe('http://triton:8000')
    expect(env.OCR_REMOTE_PROTOCOL).toBe('kserve-http')
    expect(dependsOn(web!)).toEqual({ triton: 'service_healthy' })
    expect(triton!.image).toMatch(/^nvcr\.io\/nvidia\/tritonserver:\d\d\.\d\d-py3$/)
    expect(argv(triton!.command)).toContain('--model-repository=/models')
    expect(argv(triton!.healthcheck!.test)!.join(' ')).toContain('/v2/health/ready')
    expect(gpuReservation(triton!)).toEqual({ driver: 'nvidia', count: 1, capabilities: ['gpu'] })
    expect(triton!.volumes).toContain('triton-models:/models:ro')
    expect(dependsOn(triton!)).toEqual({ models: 'service_completed_successfully' })
    expect(argv(models!.command)).toEqual(['models-repo', '--force', '--out', '/models'])
    expect(models!.volumes).toContain('triton-models:/models')
    expect(models!.image).toBe(web!.image)
    expect(Object.keys(c.volumes ?? {})).toContain('triton-models')
  })

  it('model-server: the same split with `ocrserve model-server` on the image’s baked repository', () => {
    const c = load('model-server')
    const { web } = c.services
    const ms = c.services['model-server']!
    expect(serviceEnv(web!).OCR_REMOTE_URL).toBe('http://model-server:8000')
    expect(serviceEnv(web!).OCR_MODE).toBe('remote')
    expect(dependsOn(web!)).toEqual({ 'model-server': 'service_healthy' })
    // the image's entrypoint with src/workers/heap.ts's flag for the main thread
    expect(argv(ms.entrypoint)).toEqual(['node', INITIAL_OLD_SPACE_FLAG, '/app/bin/ocrserve.js'])
    const cmd = argv(ms.command)!
    expect(cmd[0]).toBe('model-server')
    expect(cmd.slice(cmd.indexOf('--repository'), cmd.indexOf('--repository') + 2)).toEqual(['--repository', '/app/deploy/triton/models'])
    expect(cmd.slice(cmd.indexOf('--http-port'), cmd.indexOf('--http-port') + 2)).toEqual(['--http-port', '8000'])
    expect(argv(ms.healthcheck!.test)!.join(' ')).toContain('127.0.0.1:8000/v2/health/ready')
    expect(gpuReservation(ms)).toBeUndefined()
  })

  it('tfserving: web in the tfserving protocol → TF Serving REST (8501), SavedModels mounted read-only', () => {
    const c = load('tfserving')
    const env = serviceEnv(c.services.web!)
    expect(env.OCR_REMOTE_PROTOCOL).toBe('tfserving')
    expect(env.OCR_REMOTE_URL).toBe('http://tfserving:8501')
    expect(env.OCR_TF_SIGNATURE).toBe('serving_default')
    expect(env.OCR_TF_INPUT).toBe('x')
    const tf = c.services.tfserving!
    expect(tf.image).toMatch(/^tensorflow\/serving:\d+\.\d+\.\d+$/)
    expect(argv(tf.command)).toContain('--model_config_file=/models/models.config')
    expect(tf.volumes).toContain('./tfserving:/models:ro')
  })

  it('redis: two replicas on one Redis (append-only file, no eviction) behind one port, balanced without affinity', async () => {
    const c = load('redis')
    const { redis, lb } = c.services
    const replicas = ['web', 'web-2'].map((n) => c.services[n]!)
    for (const web of replicas) {
      const env = serviceEnv(web)
      expect(new URL(env.OCR_REDIS_URL!).host).toBe('redis:6379')
      expect(loadServiceConfig(env).jobs.redis.url).toBe(env.OCR_REDIS_URL)
      expect(dependsOn(web)).toEqual({ redis: 'service_healthy' })
      // only the proxy publishes a port
      expect(web.ports).toBeUndefined()
      expect(containerPorts(web)).toEqual([8080])
    }
    expect(serviceEnv(replicas[0]!)).toEqual(serviceEnv(replicas[1]!))
    const cmd = argv(redis!.command)!
    const opt = (name: string): string | undefined => cmd[cmd.indexOf(name) + 1]
    expect([opt('--appendonly'), opt('--maxmemory-policy')]).toEqual(['yes', 'noeviction'])
    expect(redis!.volumes).toContain('redis-data:/data')
    expect(Object.keys(c.volumes ?? {})).toContain('redis-data')
    expect(argv(redis!.healthcheck!.test)).toEqual(['CMD', 'redis-cli', 'ping'])
    expect(lb!.ports).toEqual(['8080:8080'])
    expect(dependsOn(lb!)).toEqual({ web: 'service_healthy', 'web-2': 'service_healthy' })
    // the proxy's configuration: both replicas, round robin (no ip_hash, hash or sticky), bodies as large as a job's
    const mount = lb!.volumes!.map(String).find((v) => v.endsWith(':/etc/nginx/conf.d/default.conf:ro'))!
    const { readFileSync } = await import('node:fs')
    const conf = readFileSync(join(DEPLOY, mount.split(':')[0]!), 'utf8')
    const upstream = /upstream ocrserve \{([^}]*)\}/.exec(conf)![1]!
    expect([...upstream.matchAll(/^\s*server (\S+)/gm)].map((m) => m[1])).toEqual(['web:8080', 'web-2:8080'])
    expect(upstream).not.toMatch(/ip_hash|\bhash\b|sticky/)
    const maxBody = Number(serviceEnv(replicas[0]!).OCR_JOBS_MAX_BODY_BYTES)
    expect(Number(/client_max_body_size (\d+)m;/.exec(conf)![1]) * 1024 * 1024).toBeGreaterThanOrEqual(maxBody)
  })

  it('Triton and the k8s manifests agree on the Triton image', async () => {
    const { readFileSync } = await import('node:fs')
    const k8s = readFileSync(join(DEPLOY, 'k8s/triton-deployment.yaml'), 'utf8')
    expect(k8s).toContain(`image: ${load('triton').services.triton!.image}`)
  })

  it('lets the shell override image tags and the published port', () => {
    const c = load('triton', { OCRSERVE_IMAGE: 'registry.example.com/ocrserve:1.2.3', OCR_PUBLISH_PORT: '9090', TRITON_IMAGE: 'nvcr.io/nvidia/tritonserver:25.02-py3' })
    expect(c.services.web!.image).toBe('registry.example.com/ocrserve:1.2.3')
    expect(c.services.models!.image).toBe('registry.example.com/ocrserve:1.2.3')
    expect(c.services.web!.ports).toEqual(['9090:8080'])
    expect(c.services.triton!.image).toBe('nvcr.io/nvidia/tritonserver:25.02-py3')
  })
})
