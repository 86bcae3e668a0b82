/**
 * deploy/docker/Dockerfile: lint (dockerfile-utils, every rule at warning level), the targets and
 * what each must have (non-root user, health check, port, entrypoint, device), pinned base images,
 * and a build context (.dockerignore) that holds every file the Dockerfile copies and nothing else.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils'
import { describe, expect, it } from 'vitest'
import {
  DOCKERFILE,
  ROOT,
  execForm,
  expandArgs,
  isIgnored,
  last,
  parseDockerfile,
  parseDockerignore,
  resolvedGlobalArgs,
  stage,
  stageEnv,
} from './helpers.js'

const text = readFileSync(DOCKERFILE, 'utf8')
const df = parseDockerfile(text)
const args = resolvedGlobalArgs(df)
const RUNTIME_TARGETS = ['cpu', 'cuda'] as const

describe('Dockerfile lint', () => {
  it('has no problems under dockerfile-utils with every optional rule raised to warning', () => {
    const W = ValidationSeverity.WARNING
    const settings: ValidatorSettings = {
      deprecatedMaintainer: W,
      directiveCasing: W,
      emptyContinuationLine: W,
      instructionCasing: W,
      instructionCmdMultiple: W,
      instructionEntrypointMultiple: W,
      instructionHealthcheckMultiple: W,
      instructionJSONInSingleQuotes: W,
      instructionWorkdirRelative: W,
    }
    const problems = validate(text, settings).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)
    expect(problems).toEqual([])
  })

  it('the linter does report a broken Dockerfile (the check above can fail)', () => {
    const broken = 'FROM node:24.11.1-bookworm-slim\nEXPOSE eighty\nHEALTHCHECK --interval=abc CMD true\nCMD ["serve"]\nCMD ["serve"]\n'
    const W = ValidationSeverity.WARNING
    expect(validate(broken, { instructionCmdMultiple: W }).length).toBeGreaterThanOrEqual(3)
  })
})

describe('Dockerfile stages', () => {
  it('has the build, cpu and cuda targets; cpu is the default (last) stage', () => {
    const names = df.stages.map((s) => s.name)
    for (const n of ['build', 'cpu', 'cuda']) expect(names).toContain(n)
    expect(names.at(-1)).toBe('cpu')
    expect(new Set(names).size).toBe(names.length)
  })

  it('pins every base image: an explicit version tag or digest, never latest', () => {
    const stageNames = new Set(df.stages.map((s) => s.name))
    for (const s of df.stages) {
      const image = expandArgs(s.from, args)
      if (image === 'scratch' || stageNames.has(image)) continue
      const m = /^(?<repo>[^:@]+(?::\d+\/[^:@]+)?)(?::(?<tag>[^@]+))?(?:@(?<digest>sha256:[0-9a-f]{64}))?$/.exec(image)
      expect(m, image).not.toBeNull()
      const { tag, digest } = m!.groups!
      expect(tag ?? digest, `${image} has no tag or digest`).toBeTruthy()
      if (tag) {
        expect(tag).not.toMatch(/latest/)
        // a full version (24.11.1, 12.8.1), not a moving major/minor tag like node:24-slim
        expect(tag, `${image}: tag is not a full version`).toMatch(/^\d+\.\d+\.\d+-/)
      }
    }
  })

  it('builds on Node 24 LTS and a CUDA 12 + cuDNN runtime base', () => {
    expect(args.NODE_VERSION).toMatch(/^24\.\d+\.\d+$/)
    expect(args.NODE_IMAGE).toBe(`node:${args.NODE_VERSION}-bookworm-slim`)
    expect(args.CUDA_IMAGE).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d\d\.\d\d$/)
    expect(expandArgs(stage(df, 'cuda').from, args)).toBe(args.CUDA_IMAGE)
    expect(expandArgs(stage(df, 'cpu').from, args)).toBe(args.NODE_IMAGE)
  })

  it('documents every build argument in the header comment', () => {
    const header = text.split('\nARG ')[0]!
    for (const name of Object.keys(df.globalArgs)) expect(header, name).toMatch(new RegExp(`^#\\s+${name}\\s`, 'm'))
  })

  for (const target of RUNTIME_TARGETS) {
    describe(`target ${target}`, () => {
      const s = stage(df, target)

      it('runs as a numeric non-root user (so Kubernetes runAsNonRoot can verify it)', () => {
        const user = last(s, 'USER')
        expect(user).toBeDefined()
        const resolved = expandArgs(user!.args, { ...args, APP_UID: args.APP_UID! })
        const [uid, gid] = resolved.split(':')
        expect(Number(uid)).toBeGreaterThan(0)
        expect(Number(gid)).toBeGreaterThan(0)
        // USER comes after every RUN, so nothing runs as root once it is set
        const userIdx = s.instructions.indexOf(user!)
        expect(s.instructions.slice(userIdx).filter((i) => i.keyword === 'RUN')).toEqual([])
      })

      it('checks /healthz with node itself (no curl in slim images)', () => {
        const hc = last(s, 'HEALTHCHECK')!
        expect(hc).toBeDefined()
        const cmd = /\bCMD\s+(\[.*\])$/s.exec(hc.args)
        expect(cmd).not.toBeNull()
        const argvHc = JSON.parse(cmd![1]!) as string[]
        expect(argvHc[0]).toBe('node')
        expect(argvHc.join(' ')).toContain('/healthz')
        expect(hc.args).toMatch(/--start-period=\d+s/)
      })

      it('exposes 8080 and runs `ocrserve serve` by default', () => {
        expect(last(s, 'EXPOSE')!.args.split(/\s+/)).toContain('8080')
        const entry = execForm(last(s, 'ENTRYPOINT')!)
        expect(entry).toEqual(['node', '/app/bin/ocrserve.js'])
        expect(execForm(last(s, 'CMD')!)).toEqual(['serve'])
        const env = stageEnv(s)
        expect(env.PORT).toBe('8080')
        expect(env.NODE_ENV).toBe('production')
      })

      it('selects its device by environment', () => {
        expect(stageEnv(s).OCR_DEVICE).toBe(target)
      })

      it('ships compiled code, production dependencies and the model repository', () => {
        const copies = s.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args)
        expect(copies).toContain(`--from=deps-${target} /app/node_modules ./node_modules`)
        expect(copies).toContain('--from=app /app ./')
        const app = stage(df, 'app').instructions.map((i) => i.args)
        for (const p of ['dist', 'bin', 'proto', 'public', 'package.json']) expect(app.some((a) => a.includes(`/src/${p} /app/${p}`))).toBe(true)
        expect(app).toContain('--from=build /out/models /app/deploy/triton/models')
      })

      it('keeps only this platform’s ONNX Runtime binaries (the package ships macOS/Windows/arm64 too)', () => {
        const run = stage(df, `deps-${target}`).instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' && ')
        expect(run).toMatch(/find node_modules\/onnxruntime-node\/bin\/napi-v6 .*! -path "\*\/napi-v6\/\$\{keep\}" -exec rm -rf/)
        expect(run).toContain('test -f "node_modules/onnxruntime-node/bin/napi-v6/${keep}/libonnxruntime.so.1"')
        // the prune comes after npm ci
        expect(run.indexOf('npm ci')).toBeLessThan(run.indexOf('rm -rf'))
      })
    })
  }

  it('npm runs no install scripts (npm 10 and 11 alike); the CUDA stage runs onnxruntime-node\'s itself, for CUDA 12', () => {
    expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^ignore-scripts=true$/m)
    const s = stage(df, 'deps-cuda')
    const envIdx = s.instructions.findIndex((i) => i.keyword === 'ENV' && /ONNXRUNTIME_NODE_INSTALL=cuda12/.test(i.args))
    const ciIdx = s.instructions.findIndex((i) => i.keyword === 'RUN' && /npm ci --omit=dev/.test(i.args))
    expect(envIdx).toBeGreaterThanOrEqual(0)
    expect(ciIdx).toBeGreaterThan(envIdx)
    const run = s.instructions[ciIdx]!.args
    // after npm ci, the script npm skipped; the build fails if the provider did not arrive
    expect(run.indexOf('node node_modules/onnxruntime-node/script/install.js')).toBeGreaterThan(run.indexOf('npm ci'))
    expect(run.indexOf('libonnxruntime_providers_cuda.so')).toBeGreaterThan(run.indexOf('script/install.js'))
    // the script takes its choice from that variable
    const utils = readFileSync(join(ROOT, 'node_modules/onnxruntime-node/script/install-utils.js'), 'utf8')
    expect(utils).toMatch(/process\.env\.ONNXRUNTIME_NODE_INSTALL\s*\|\|/)
    // the CPU runtime neither runs it nor asks for CUDA
    const cpu = stage(df, 'deps-cpu').instructions
    expect(cpu.some((i) => /ONNXRUNTIME_NODE_INSTALL|script\/install/.test(i.args))).toBe(false)
  })

  it('npm reads .npmrc without a warning (no unknown keys) and runs no install scripts', () => {
    const r = spawnSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: ROOT, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe('true')
    expect(r.stderr).not.toMatch(/warn/i)
  })

  it('copies the node binary into the CUDA image from the same pinned node image', () => {
    const s = stage(df, 'cuda')
    const nodeStage = df.stages.find((x) => x.name === 'node')!
    expect(nodeStage.from).toBe('${NODE_IMAGE}')
    expect(s.instructions.map((i) => i.args)).toContain('--from=node /usr/local/bin/node /usr/local/bin/node')
  })
})

describe('.dockerignore', () => {
  const rules = parseDockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'))
  const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean)

  it('lets every file the Dockerfile copies from the context through', () => {
    const sources: string[] = []
    for (const s of df.stages) {
      for (const i of s.instructions) {
        if (i.keyword !== 'COPY' || i.args.startsWith('--from=')) continue
        const parts = i.args.split(/\s+/)
        sources.push(...parts.slice(0, -1))
      }
    }
    expect(sources.length).toBeGreaterThan(5)
    for (const src of sources) {
      const clean = src.replace(/^\.\//, '').replace(/\/$/, '')
      const files = tracked.filter((f) => f === clean || f.startsWith(`${clean}/`))
      expect(files.length, `${src}: no tracked file`).toBeGreaterThan(0)
      for (const f of files) expect(isIgnored(rules, f), `${f} is copied but ignored`).toBe(false)
    }
  })

  it('keeps dependencies, build output, generated models, tests and secrets out', () => {
    for (const p of ['node_modules/sharp/package.json', 'dist/index.js', '.git/HEAD', 'test/deploy/helpers.ts', 'bench/eval.ts', '.env', 'deploy/triton/models/ocr_det/1/model.onnx', 'docs/DEPLOY.md']) {
      expect(isIgnored(rules, p), p).toBe(true)
    }
    expect(isIgnored(rules, 'deploy/triton/models/ocr_det/config.pbtxt')).toBe(false)
  })
})
