/**
 * deploy/k8s: every manifest parses, kustomization lists them all, and each object has what running
 * ocrserve needs: probes on the right endpoints, resources, a non-root security context, config
 * from a ConfigMap that ocrserve accepts, a CPU-driven HPA, Services that select their pods, Triton
 * with a GPU limit, and Redis for async jobs (persistent, never evicting; no session affinity).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { describe, expect, it } from 'vitest'
import { ENV_VARS, loadServiceConfig } from '../../src/config.js'
import { DEPLOY } from './helpers.js'

const DIR = join(DEPLOY, 'k8s')

interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; labels?: Record<string, string> }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any
  data?: Record<string, unknown>
  [k: string]: unknown
}
interface Probe {
  httpGet?: { path: string; port: string | number }
  exec?: { command: string[] }
  tcpSocket?: { port: string | number }
}
interface Container {
  name: string
  image: string
  args?: string[]
  command?: string[]
  ports?: Array<{ name?: string; containerPort: number }>
  envFrom?: Array<{ configMapRef?: { name: string } }>
  readinessProbe?: Probe
  livenessProbe?: Probe
  startupProbe?: Probe
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> }
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsUser?: number; capabilities?: { drop?: string[] } }
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }>
}

/** Kinds that run pods. */
const WORKLOADS = ['Deployment', 'StatefulSet']

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'))
const objects: Array<K8sObject & { file: string }> = []
for (const file of files.filter((f) => f !== 'kustomization.yaml')) {
  for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`)
    const o = doc.toJS() as K8sObject | null
    if (o) objects.push({ ...o, file })
  }
}
const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as {
  resources: string[]
  images?: Array<{ name: string; newName?: string; newTag?: string }>
}

function get(kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name)
  if (!o) throw new Error(`no ${kind} ${name} in deploy/k8s`)
  return o
}

const web = get('Deployment', 'ocrserve-web')
const triton = get('Deployment', 'ocrserve-triton')
const webC = web.spec.template.spec.containers[0] as Container
const tritonC = triton.spec.template.spec.containers[0] as Container
const config = get('ConfigMap', 'ocrserve-config')

function probePort(c: Container, p: Probe | undefined): number {
  const port = p!.httpGet!.port
  if (typeof port === 'number') return port
  const named = c.ports?.find((x) => x.name === port)
  if (!named) throw new Error(`probe port ${port} is not a named port of ${c.name}`)
  return named.containerPort
}

describe('k8s manifests', () => {
  it('parse, and kustomization.yaml lists exactly the manifests present', () => {
    expect(objects.length).toBeGreaterThanOrEqual(7)
    expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort())
    for (const o of objects) {
      expect(o.apiVersion, o.file).toBeTruthy()
      expect(o.kind, o.file).toBeTruthy()
      expect(o.metadata?.name, o.file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    }
  })

  it('use current API versions', () => {
    const expected: Record<string, string> = {
      Deployment: 'apps/v1',
      Service: 'v1',
      ConfigMap: 'v1',
      HorizontalPodAutoscaler: 'autoscaling/v2',
      PodDisruptionBudget: 'policy/v1',
      StatefulSet: 'apps/v1',
    }
    for (const o of objects) expect(o.apiVersion, `${o.kind} ${o.metadata.name}`).toBe(expected[o.kind])
  })

  it('pin every image (the ocrserve image through kustomize images:), never latest', () => {
    const pods = objects.filter((o) => WORKLOADS.includes(o.kind)).map((o) => o.spec.template.spec)
    const containers: Container[] = pods.flatMap((p) => [...(p.initContainers ?? []), ...p.containers])
    for (const c of containers) {
      const rule = kustomization.images?.find((i) => i.name === c.image)
      const image = rule ? `${rule.newName ?? c.image}:${rule.newTag}` : c.image
      expect(image, c.name).toMatch(/:[\w][\w.-]*$/)
      expect(image).not.toMatch(/:latest$/)
    }
  })

  it('every Deployment and StatefulSet selects its own pod labels', () => {
    for (const d of objects.filter((o) => WORKLOADS.includes(o.kind))) {
      const labels = d.spec.template.metadata.labels as Record<string, string>
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels as Record<string, string>)) expect(labels[k]).toBe(v)
    }
  })

  it('every Service selects pods of one workload and targets a named container port', () => {
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const sel = svc.spec.selector as Record<string, string>
      const selected = objects.filter(
        (o) => WORKLOADS.includes(o.kind) && Object.entries(sel).every(([k, v]) => (o.spec.template.metadata.labels as Record<string, string>)[k] === v),
      )
      expect(selected, `Service ${svc.metadata.name} must select the pods of exactly one workload`).toHaveLength(1)
      const dep = selected[0]
      const names = (dep!.spec.template.spec.containers as Container[]).flatMap((c) => (c.ports ?? []).map((p) => p.name))
      for (const p of svc.spec.ports as Array<{ targetPort: string }>) expect(names).toContain(p.targetPort)
    }
  })
})

describe('web tier', () => {
  it('probes readiness on /readyz and liveness on /healthz, on the serving port', () => {
    expect(webC.readinessProbe?.httpGet?.path).toBe('/readyz')
    expect(webC.livenessProbe?.httpGet?.path).toBe('/healthz')
    expect(probePort(webC, webC.readinessProbe)).toBe(Number(config.data!.PORT))
    expect(probePort(webC, webC.livenessProbe)).toBe(Number(config.data!.PORT))
    // a slow start is covered by a startup probe on liveness' endpoint, not by killing the pod
    expect(webC.startupProbe?.httpGet?.path).toBe('/healthz')
  })

  it('has CPU and memory requests and limits; remote-mode workers are two per CPU of the limit', () => {
    for (const k of ['requests', 'limits'] as const) {
      expect(webC.resources?.[k]?.cpu, k).toBeDefined()
      expect(webC.resources?.[k]?.memory, k).toBeDefined()
    }
    const cpuLimit = Number(String(webC.resources!.limits!.cpu).replace(/m$/, '')) / (String(webC.resources!.limits!.cpu).endsWith('m') ? 1000 : 1)
    expect(config.data!.OCR_MODE).toBe('remote')
    expect(Number(config.data!.OCR_WORKERS)).toBe(2 * cpuLimit)
  })

  it('takes its configuration from the ConfigMap, which ocrserve accepts', () => {
    expect(webC.envFrom).toEqual([{ configMapRef: { name: 'ocrserve-config' } }])
    expect(webC.args).toEqual(['serve'])
    const known = new Set<string>(ENV_VARS.map((v) => v.name))
    const data = config.data as Record<string, unknown>
    for (const [k, v] of Object.entries(data)) {
      expect(known.has(k), `${k} is not an ocrserve variable`).toBe(true)
      expect(typeof v, `${k} must be a string in a ConfigMap`).toBe('string')
    }
    const cfg = loadServiceConfig(data as Record<string, string>)
    expect(cfg.mode).toBe('remote')
    expect(cfg.engine.remote?.protocol).toBe('kserve-http')
  })

  it('points remote mode at the Triton Service', () => {
    const url = new URL(String(config.data!.OCR_REMOTE_URL))
    const svc = get('Service', url.hostname)
    const port = (svc.spec.ports as Array<{ name: string; port: number }>).find((p) => p.port === Number(url.port))
    expect(port?.name).toBe('http')
  })

  it('runs non-root with a read-only root file system and no privileges', () => {
    const pod = web.spec.template.spec
    expect(pod.securityContext.runAsNonRoot).toBe(true)
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0)
    expect(webC.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
    expect(webC.volumeMounts?.some((m) => m.mountPath === '/tmp')).toBe(true)
    // outlives the longest request (OCR_REQUEST_TIMEOUT_MS) plus the preStop pause
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(config.data!.OCR_REQUEST_TIMEOUT_MS) + 5000)
  })

  it('scales horizontally on CPU with an autoscaling/v2 HPA', () => {
    const hpa = get('HorizontalPodAutoscaler', 'ocrserve-web')
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'ocrserve-web' })
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2)
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas)
    const cpu = (hpa.spec.metrics as Array<{ type: string; resource?: { name: string; target: { type: string; averageUtilization: number } } }>).find(
      (m) => m.type === 'Resource' && m.resource?.name === 'cpu',
    )
    expect(cpu?.resource?.target.type).toBe('Utilization')
    expect(cpu?.resource?.target.averageUtilization).toBeGreaterThan(0)
    expect(cpu?.resource?.target.averageUtilization).toBeLessThanOrEqual(100)
    // utilisation is relative to requests: the HPA needs them
    expect(webC.resources?.requests?.cpu).toBeDefined()
  })
})

describe('Triton', () => {
  it('has a GPU limit and CPU/memory resources', () => {
    expect(tritonC.resources?.limits?.['nvidia.com/gpu']).toBe(1)
    expect(tritonC.resources?.requests?.cpu).toBeDefined()
    expect(tritonC.resources?.limits?.memory).toBeDefined()
  })

  it('probes /v2/health/ready for readiness and start-up, /v2/health/live for liveness', () => {
    expect(tritonC.readinessProbe?.httpGet?.path).toBe('/v2/health/ready')
    expect(tritonC.startupProbe?.httpGet?.path).toBe('/v2/health/ready')
    expect(tritonC.livenessProbe?.httpGet?.path).toBe('/v2/health/live')
    expect(probePort(tritonC, tritonC.readinessProbe)).toBe(8000)
  })

  it('serves a repository written by the ocrserve image’s init container, mounted read-only', () => {
    const pod = triton.spec.template.spec
    const init = pod.initContainers[0] as Container
    expect(init.image).toBe(webC.image)
    expect(init.args).toEqual(['models-repo', '--force', '--out', '/models'])
    const initMount = init.volumeMounts!.find((m) => m.mountPath === '/models')!
    const mount = tritonC.volumeMounts!.find((m) => m.mountPath === '/models')!
    expect(mount.name).toBe(initMount.name)
    expect(mount.readOnly).toBe(true)
    expect(tritonC.args).toContain('--model-repository=/models')
    expect((pod.volumes as Array<{ name: string; emptyDir?: unknown }>).find((v) => v.name === mount.name)?.emptyDir).toBeDefined()
    expect(pod.securityContext.runAsNonRoot).toBe(true)
  })
})

describe('async jobs in Redis', () => {
  const redis = get('StatefulSet', 'ocrserve-redis')
  const redisC = redis.spec.template.spec.containers[0] as Container

  it('the web pods reach the Redis Service; a Secret may override the URL (an external Redis, a password)', () => {
    const url = new URL(String(config.data!.OCR_REDIS_URL))
    expect(url.protocol).toBe('redis:')
    const svc = get('Service', url.hostname)
    expect((svc.spec.ports as Array<{ name: string; port: number }>).find((p) => p.port === Number(url.port))?.name).toBe('redis')
    expect(svc.spec.selector).toEqual(redis.spec.selector.matchLabels)
    expect(loadServiceConfig(config.data as Record<string, string>).jobs.redis.url).toBe(config.data!.OCR_REDIS_URL)
    const override = webC.env?.find((e) => e.name === 'OCR_REDIS_URL')
    expect(override?.valueFrom?.secretKeyRef).toEqual({ name: 'ocrserve-redis', key: 'url', optional: true })
  })

  it('the web Service has no session affinity: any pod answers for any job', () => {
    const svc = get('Service', 'ocrserve-web')
    expect(svc.spec.sessionAffinity ?? 'None').toBe('None')
  })

  it('Redis keeps an append-only file on a persistent volume and never evicts', () => {
    const args = redisC.args!
    const opt = (name: string): string | undefined => args[args.indexOf(name) + 1]
    expect([opt('--appendonly'), opt('--maxmemory-policy')]).toEqual(['yes', 'noeviction'])
    const dir = opt('--dir')
    const mount = redisC.volumeMounts!.find((m) => m.mountPath === dir)
    expect(mount, 'the --dir is a mounted volume').toBeDefined()
    const claims = redis.spec.volumeClaimTemplates as Array<{ metadata: { name: string }; spec: { accessModes: string[] } }>
    expect(claims.map((c) => c.metadata.name)).toContain(mount!.name)
    // the memory limit leaves room above maxmemory (an append-only-file rewrite forks)
    const bytes = (v: string): number => {
      const m = /^(\d+)(gb|mb|Gi|Mi)$/.exec(v)!
      return Number(m[1]) * (m[2] === 'gb' ? 1e9 : m[2] === 'mb' ? 1e6 : m[2] === 'Gi' ? 2 ** 30 : 2 ** 20)
    }
    expect(bytes(String(redisC.resources!.limits!.memory))).toBeGreaterThan(bytes(opt('--maxmemory')!))
    expect(redisC.readinessProbe?.exec?.command).toEqual(['redis-cli', 'ping'])
    expect(redisC.livenessProbe?.tcpSocket?.port).toBe('redis')
    expect(redis.spec.template.spec.securityContext.runAsNonRoot).toBe(true)
    expect(redisC.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
  })
})
