/**
 * Helpers of the deployment tests: a small Dockerfile reader (stages, instructions, ARG defaults),
 * a .dockerignore matcher, a Compose file loader (YAML, `${VAR:-default}` interpolation,
 * override merging) that the validation and rehearsal tests share, and the checks
 * `docker compose config` makes (the Compose Specification's JSON schema, references).
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv, type ValidateFunction } from 'ajv'
import { parse as parseYaml } from 'yaml'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const DOCKERFILE = join(ROOT, 'deploy/docker/Dockerfile')
export const DEPLOY = join(ROOT, 'deploy')

// ---------------------------------------------------------------------------------------------
// Dockerfile

export interface Instruction {
  keyword: string
  /** The text after the keyword, continuation lines joined. */
  args: string
  line: number
}

export interface Stage {
  /** The FROM image as written (may contain ${ARG}s). */
  from: string
  name: string | null
  instructions: Instruction[]
}

export interface Dockerfile {
  /** ARGs before the first FROM, with their defaults. */
  globalArgs: Record<string, string>
  stages: Stage[]
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = []
  const lines = text.split('\n')
  let pending: { start: number; parts: string[] } | null = null
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!
    const trimmed = raw.trim()
    if (trimmed.startsWith('#') || (trimmed === '' && !pending)) continue
    const cont = trimmed.endsWith('\\')
    const part = cont ? trimmed.slice(0, -1).trim() : trimmed
    if (pending) pending.parts.push(part)
    else pending = { start: i + 1, parts: [part] }
    if (!cont) {
      const joined = pending.parts.filter(Boolean).join(' ')
      const m = /^(\S+)\s*(.*)$/s.exec(joined)!
      instructions.push({ keyword: m[1]!.toUpperCase(), args: m[2]!, line: pending.start })
      pending = null
    }
  }
  const globalArgs: Record<string, string> = {}
  const stages: Stage[] = []
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`)
      stages.push({ from: m[1]!, name: m[2] ?? null, instructions: [] })
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`)
      const [name, value] = splitOnce(ins.args, '=')
      globalArgs[name] = value ?? ''
    } else {
      stages[stages.length - 1]!.instructions.push(ins)
    }
  }
  return { globalArgs, stages }
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep)
  return i < 0 ? [s.trim(), undefined] : [s.slice(0, i).trim(), s.slice(i + 1).trim()]
}

/** `${NAME}` / `$NAME` replaced from `args` (global ARG defaults resolve in terms of earlier ones). */
export function expandArgs(s: string, args: Record<string, string>): string {
  return s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!
    const v = args[name]
    if (v === undefined) throw new Error(`undefined build argument ${name} in "${s}"`)
    return v
  })
}

export function resolvedGlobalArgs(df: Dockerfile): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(df.globalArgs)) out[k] = expandArgs(v, out)
  return out
}

export function stage(df: Dockerfile, name: string): Stage {
  const s = df.stages.find((x) => x.name === name)
  if (!s) throw new Error(`Dockerfile has no stage named ${name}`)
  return s
}

/** The last instruction of a kind in a stage (the one Docker keeps for ENTRYPOINT, CMD, USER...). */
export function last(s: Stage, keyword: string): Instruction | undefined {
  return s.instructions.filter((i) => i.keyword === keyword).at(-1)
}

/** `ENV A=1 B=2` instructions of a stage, merged in order (values unquoted). */
export function stageEnv(s: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const ins of s.instructions.filter((i) => i.keyword === 'ENV')) {
    for (const m of ins.args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      const v = m[2]!
      env[m[1]!] = v.startsWith('"') ? (JSON.parse(v) as string) : v
    }
  }
  return env
}

/** A JSON-array (exec form) instruction's argv; throws for the shell form. */
export function execForm(ins: Instruction): string[] {
  const v = JSON.parse(ins.args) as unknown
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`line ${ins.line}: ${ins.keyword} is not in exec form`)
  return v
}

// ---------------------------------------------------------------------------------------------
// .dockerignore (moby/patternmatcher semantics: last matching pattern wins; a pattern that
// matches a parent directory matches everything under it)

export interface IgnoreRule {
  negate: boolean
  re: RegExp
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = []
  for (let line of text.split('\n')) {
    line = line.trim()
    if (!line || line.startsWith('#')) continue
    const negate = line.startsWith('!')
    if (negate) line = line.slice(1).trim()
    const pattern = line.replace(/^\/+/, '').replace(/\/+$/, '')
    rules.push({ negate, re: globToRegExp(pattern) })
  }
  return rules
}

function globToRegExp(glob: string): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*'
      i++
      if (glob[i + 1] === '/') i++
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

/** Whether a path (relative to the context root, `/`-separated) is left out of the build context. */
export function isIgnored(rules: IgnoreRule[], path: string): boolean {
  const parts = path.split('/')
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
  let ignored = false
  for (const r of rules) {
    if (prefixes.some((p) => r.re.test(p))) ignored = !r.negate
  }
  return ignored
}

// ---------------------------------------------------------------------------------------------
// Compose

export type ComposeValue = string | number | boolean | null | ComposeValue[] | { [k: string]: ComposeValue }
export interface ComposeService {
  image?: string
  build?: { context?: string; dockerfile?: string; target?: string }
  command?: string[] | string
  entrypoint?: string[] | string
  environment?: Record<string, string | number | boolean | null> | string[]
  ports?: Array<string | { target: number; published?: number | string }>
  expose?: Array<string | number>
  volumes?: Array<string | { type?: string; source?: string; target: string; read_only?: boolean }>
  depends_on?: string[] | Record<string, { condition?: string }>
  healthcheck?: { test?: string[] | string; disable?: boolean; interval?: string; start_period?: string }
  deploy?: { resources?: { reservations?: { devices?: Array<{ driver?: string; count?: number | string; capabilities?: string[] }> } } }
  [key: string]: unknown
}
export interface ComposeFile {
  services: Record<string, ComposeService>
  volumes?: Record<string, unknown>
  [key: string]: unknown
}

/**
 * Compose's variable substitution: `$$` → `$`, `${VAR}`, `${VAR:-default}` (unset or empty),
 * `${VAR-default}` (unset), `${VAR:?message}` / `${VAR?message}` (required), `$VAR`.
 */
export function interpolate(s: string, env: Record<string, string | undefined>): string {
  return s.replace(/\$\$|\$\{(\w+)(?:(:?)([-?])((?:[^}])*))?\}|\$(\w+)/g, (whole, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
    if (whole === '$$') return '$'
    if (bare) return env[bare] ?? ''
    const v = env[name!]
    const missing = colon ? v === undefined || v === '' : v === undefined
    if (op === '-') return missing ? interpolate(arg ?? '', env) : v!
    if (op === '?') {
      if (missing) throw new Error(`required variable ${name} is missing: ${arg}`)
      return v!
    }
    return v ?? ''
  })
}

function interpolateDeep(v: ComposeValue, env: Record<string, string | undefined>): ComposeValue {
  if (typeof v === 'string') return interpolate(v, env)
  if (Array.isArray(v)) return v.map((x) => interpolateDeep(x, env))
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateDeep(x, env)]))
  return v
}

/** Override merge as Compose does it for the keys our files use: mappings merge, the rest replaces. */
function merge(base: ComposeValue, over: ComposeValue): ComposeValue {
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Record<string, ComposeValue> = { ...base }
    for (const [k, v] of Object.entries(over)) out[k] = k in out ? merge(out[k]!, v) : v
    return out
  }
  return over
}

/** One compose file (YAML, anchors and merge keys resolved) with variables substituted from `env`. */
function readComposeFile(file: string, env: Record<string, string | undefined>): ComposeValue {
  return interpolateDeep(parseYaml(readFileSync(file, 'utf8'), { merge: true }) as ComposeValue, env)
}

/** Reads compose files (later ones override earlier ones) and substitutes variables from `env`. */
export function loadCompose(files: string[], env: Record<string, string | undefined> = {}): ComposeFile {
  let merged: ComposeValue = {}
  for (const f of files) merged = merge(merged, readComposeFile(f, env))
  const out = merged as unknown as ComposeFile
  // extension fields (x-*) are templates for anchors, not services
  for (const k of Object.keys(out)) if (k.startsWith('x-')) delete out[k]
  return out
}

/**
 * The Compose Specification's JSON schema (the compose-spec project's compose-spec.json, draft-07)
 * as the dclint package ships it: read from node_modules, never fetched.
 */
const COMPOSE_SCHEMA = join(dirname(createRequire(import.meta.url).resolve('dclint/package.json')), 'schemas', 'compose.schema.json')
let composeSchema: ValidateFunction | undefined

function schemaProblems(doc: ComposeValue, where: string): string[] {
  if (!composeSchema) {
    // the file names draft-07 by its https URL, ajv by the http one; strict off as in dclint (the
    // schema uses annotations such as `deprecated` that ajv's strict mode rejects)
    const schema = { ...(JSON.parse(readFileSync(COMPOSE_SCHEMA, 'utf8')) as object), $schema: 'http://json-schema.org/draft-07/schema#' }
    composeSchema = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile(schema)
  }
  if (composeSchema(doc)) return []
  return (composeSchema.errors ?? []).map((e) => `${where}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`)
}

/** The named volumes a service mounts (short `name:/path[:mode]` or long `type: volume` syntax; bind mounts are paths). */
function namedVolumes(s: ComposeService): string[] {
  const isPath = (src: string): boolean => /^[./~]/.test(src) || src.includes('/')
  return (s.volumes ?? []).flatMap((v) => {
    if (typeof v === 'string') {
      const parts = v.split(':')
      return parts.length > 1 && !isPath(parts[0]!) ? [parts[0]!] : []
    }
    return (v.type ?? 'volume') === 'volume' && v.source && !isPath(v.source) ? [v.source] : []
  })
}

/**
 * What `docker compose -f A -f B config` checks, without Docker: each file (variables substituted
 * from `env`) and the merged model against the Compose Specification's schema, then the references
 * a schema cannot see: every `depends_on` names a service, every named volume and network a service
 * uses is declared at the top level. Returns the problems, [] for a valid set of files.
 */
export function composeProblems(files: string[], env: Record<string, string | undefined> = {}): string[] {
  const problems = files.flatMap((f) => schemaProblems(readComposeFile(f, env), f))
  if (problems.length > 0) return problems
  const c = loadCompose(files, env)
  problems.push(...schemaProblems(c as unknown as ComposeValue, 'merged'))
  const declared = (key: string): Set<string> => new Set(Object.keys((c[key] as Record<string, unknown> | undefined) ?? {}))
  const volumes = declared('volumes')
  const networks = declared('networks').add('default')
  for (const [name, s] of Object.entries(c.services ?? {})) {
    for (const dep of Object.keys(dependsOn(s))) if (!(dep in c.services)) problems.push(`service ${name} depends on undefined service ${dep}`)
    for (const v of namedVolumes(s)) if (!volumes.has(v)) problems.push(`service ${name} refers to undefined volume ${v}`)
    const nets = s.networks as string[] | Record<string, unknown> | undefined
    for (const n of Array.isArray(nets) ? nets : Object.keys(nets ?? {})) if (!networks.has(n)) problems.push(`service ${name} refers to undefined network ${n}`)
  }
  return problems
}

export function serviceEnv(s: ComposeService): Record<string, string> {
  const env: Record<string, string> = {}
  if (Array.isArray(s.environment)) {
    for (const e of s.environment) {
      const [k, v] = splitOnce(e, '=')
      if (v !== undefined) env[k] = v
    }
  } else {
    for (const [k, v] of Object.entries(s.environment ?? {})) if (v !== null) env[k] = String(v)
  }
  return env
}

export function argv(v: string[] | string | undefined): string[] | undefined {
  if (v === undefined) return undefined
  return Array.isArray(v) ? v : v.split(/\s+/).filter(Boolean)
}

export function dependsOn(s: ComposeService): Record<string, string> {
  const d = s.depends_on
  if (!d) return {}
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, 'service_started']))
  return Object.fromEntries(Object.entries(d).map(([n, v]) => [n, v.condition ?? 'service_started']))
}

/** Container ports a service listens on or exposes (ports' targets, expose, PORT env). */
export function containerPorts(s: ComposeService): number[] {
  const ports = new Set<number>()
  for (const p of s.ports ?? []) {
    if (typeof p === 'object') ports.add(Number(p.target))
    else ports.add(Number(String(p).split(':').at(-1)!.split('/')[0]))
  }
  for (const e of s.expose ?? []) ports.add(Number(String(e).split('/')[0]))
  const env = serviceEnv(s)
  if (env.PORT) ports.add(Number(env.PORT))
  return [...ports].filter((p) => Number.isInteger(p) && p > 0)
}

// ---------------------------------------------------------------------------------------------

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && typeof err.code !== 'number' ? String(err.message) : '') })
    })
  })
}
