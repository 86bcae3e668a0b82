/**
 * The settings' declarations (SETTINGS in src/config.ts) and the service configuration derived from
 * them: defaults, where each variable's value lands, refusals that name the variable and what it
 * accepts, and the groups a setting turns on or off.
 */
import { describe, expect, it } from 'vitest'
import { ENV_VARS, loadServiceConfig, parseEngineSettings, SETTINGS, type EnvVarName, type ServiceConfig } from '../../src/config.js'
import { z } from 'zod'
import { acceptedText, defaultText, kindOf, readSettingText, type Setting } from '../../src/setting-text.js'
import { OcrError } from '../../src/errors.js'

/** Every group on: remote mode, a rate limit and URL fetching, so each variable has somewhere to land. */
const BASE = { OCR_MODE: 'remote', OCR_REMOTE_URL: 'http://m:8000', OCR_RATE_LIMIT: '5', OCR_URL_ALLOWLIST: 'a.example' } as const

/**
 * For each variable: a valid text other than its default (and other than BASE's), where its value
 * must land in ServiceConfig, and the value there; `also`: other paths the change may move.
 */
const LANDS: Record<EnvVarName, { text: string; path: string; value: unknown; also?: string }> = {
  PORT: { text: '9090', path: 'port', value: 9090 },
  HOST: { text: '127.0.0.1', path: 'host', value: '127.0.0.1' },
  OCR_MODE: { text: 'LOCAL', path: 'mode', value: 'single', also: 'engine.remote' },
  OCR_MODELS: { text: 'latin=/models/latin, /models/cyrillic/,builtin', path: 'engine.packs', value: [{ name: 'latin', dir: '/models/latin' }, { name: 'cyrillic', dir: '/models/cyrillic/' }, { name: 'builtin' }] },
  OCR_DEVICE: { text: 'cuda', path: 'engine.device', value: 'cuda' },
  OCR_WORKERS: { text: '3', path: 'engine.workers', value: 3 },
  OCR_THREADS_PER_WORKER: { text: '2', path: 'engine.threadsPerWorker', value: 2 },
  OCR_IDLE_ASSIST: { text: 'off', path: 'engine.idleAssist', value: false },
  OCR_MAX_BODY_BYTES: { text: '1000', path: 'maxBodyBytes', value: 1000 },
  OCR_MAX_PIXELS: { text: '123456', path: 'engine.maxPixels', value: 123456 },
  OCR_MAX_PAGES: { text: '7', path: 'engine.maxPages', value: 7 },
  OCR_PDF_DPI: { text: '300', path: 'engine.pdfDpi', value: 300 },
  OCR_PDF_TEXT: { text: 'ocr', path: 'engine.pdfText', value: 'ocr' },
  OCR_REQUEST_TIMEOUT_MS: { text: '1500', path: 'engine.timeoutMs', value: 1500 },
  OCR_MAX_QUEUE: { text: '0', path: 'engine.maxQueue', value: 0 },
  OCR_SYNC_MAX_PAGES: { text: '3', path: 'syncMaxPages', value: 3 },
  OCR_JOBS_CONCURRENCY: { text: '2', path: 'jobs.concurrency', value: 2 },
  OCR_JOBS_MAX_QUEUED: { text: '5', path: 'jobs.maxQueued', value: 5 },
  OCR_JOBS_TTL_SECONDS: { text: '7', path: 'jobs.ttlMs', value: 7000 },
  OCR_JOBS_TIMEOUT_MS: { text: '1234', path: 'jobs.timeoutMs', value: 1234 },
  OCR_JOBS_MAX_BODY_BYTES: { text: '2048', path: 'jobs.maxBodyBytes', value: 2048 },
  OCR_JOBS_MAX_STORED_BYTES: { text: '4096', path: 'jobs.maxStoredBytes', value: 4096 },
  OCR_JOBS_PAGES_IN_FLIGHT: { text: '1', path: 'jobs.pagesInFlight', value: 1 },
  OCR_JOBS_ATTEMPTS: { text: '5', path: 'jobs.attempts', value: 5 },
  OCR_JOBS_STALL_MS: { text: '2000', path: 'jobs.stallMs', value: 2000 },
  OCR_REDIS_URL: { text: 'redis://:pw@redis:6379/2', path: 'jobs.redis.url', value: 'redis://:pw@redis:6379/2' },
  OCR_REDIS_PREFIX: { text: 'ocr-staging', path: 'jobs.redis.prefix', value: 'ocr-staging' },
  OCR_READYZ_JOBS: { text: 'on', path: 'jobs.readiness', value: true },
  OCR_API_KEYS: { text: ' k1 , k2,', path: 'apiKeys', value: ['k1', 'k2'] },
  OCR_RATE_LIMIT: { text: '9', path: 'rateLimit.max', value: 9 },
  OCR_RATE_LIMIT_WINDOW_MS: { text: '500', path: 'rateLimit.windowMs', value: 500 },
  OCR_BODY_TIMEOUT_MS: { text: '700', path: 'bodyTimeoutMs', value: 700 },
  OCR_URL_ALLOWLIST: { text: 'B.Example, *.c.example', path: 'urlFetch.allow', value: ['b.example', '*.c.example'] },
  OCR_URL_ALLOW_PRIVATE: { text: 'yes', path: 'urlFetch.allowPrivate', value: true },
  OCR_URL_TIMEOUT_MS: { text: '800', path: 'urlFetch.timeoutMs', value: 800 },
  OCR_DET_LIMIT_SIDE_LEN: { text: '1280', path: 'engine.detLimitSideLen', value: 1280 },
  OCR_REC_BATCH_SIZE: { text: '6', path: 'engine.recBatchSize', value: 6 },
  OCR_REC_BATCH_MAX_PAD: { text: '0.25', path: 'engine.recBatchMaxPad', value: 0.25 },
  OCR_DROP_SCORE: { text: '0.7', path: 'engine.dropScore', value: 0.7 },
  OCR_USE_CLS: { text: 'false', path: 'engine.useCls', value: false },
  OCR_AUTO_ROTATE: { text: '0', path: 'engine.autoRotate', value: false },
  OCR_RESTORE_SPACES: { text: 'false', path: 'engine.restoreSpaces', value: false },
  OCR_ASCII_PUNCTUATION: { text: 'off', path: 'engine.asciiPunctuation', value: false },
  OCR_MODEL_REWRITE: { text: 'no', path: 'engine.modelRewrite', value: false },
  OCR_REMOTE_URL: { text: 'http://other:8000', path: 'engine.remote.url', value: 'http://other:8000' },
  OCR_REMOTE_PROTOCOL: { text: 'kserve-grpc', path: 'engine.remote.protocol', value: 'kserve-grpc' },
  OCR_REMOTE_MODELS: { text: 'd, c ,r', path: 'engine.remote.models', value: { det: 'd', cls: 'c', rec: 'r' } },
  OCR_REMOTE_MODEL_VERSION: { text: '3', path: 'engine.remote.modelVersion', value: '3' },
  OCR_REMOTE_TIMEOUT_MS: { text: '900', path: 'engine.remote.timeoutMs', value: 900 },
  OCR_REMOTE_RETRIES: { text: '5', path: 'engine.remote.retries', value: 5 },
  OCR_REMOTE_BINARY: { text: 'false', path: 'engine.remote.binary', value: false },
  OCR_REMOTE_CALLS_IN_FLIGHT: { text: '8', path: 'engine.remote.callsInFlight', value: 8 },
  OCR_TF_SIGNATURE: { text: 'serve2', path: 'engine.remote.tfSignature', value: 'serve2' },
  OCR_TF_INPUT: { text: 'image', path: 'engine.remote.tfInputName', value: 'image' },
  OCR_TF_OUTPUT: { text: 'out', path: 'engine.remote.tfOutputName', value: 'out' },
  LOG_LEVEL: { text: 'debug', path: 'logLevel', value: 'debug' },
}

/** Every leaf of a config as path → value (arrays are leaves). */
function leaves(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out)
  } else out.set(prefix, value)
  return out
}

function at(config: ServiceConfig, path: string): unknown {
  return path.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], config)
}

function configError(env: Record<string, string>): OcrError {
  try {
    loadServiceConfig(env)
  } catch (err) {
    expect(err).toBeInstanceOf(OcrError)
    expect((err as OcrError).code).toBe('INVALID_CONFIG')
    return err as OcrError
  }
  throw new Error(`${JSON.stringify(env)} was accepted`)
}

const entries = Object.entries(SETTINGS) as Array<[EnvVarName, Setting]>

describe('each variable lands where it belongs', () => {
  const base = loadServiceConfig(BASE)
  const baseLeaves = leaves(base)

  it('the table covers every declared variable', () => {
    expect(Object.keys(LANDS).sort()).toEqual(ENV_VARS.map((v) => v.name).sort())
  })

  it.each(entries.map(([name]) => name))('%s', (name) => {
    const { text, path, value, also } = LANDS[name]
    expect(at(base, path), 'the example differs from the default').not.toEqual(value)
    const config = loadServiceConfig({ ...BASE, [name]: text })
    expect(at(config, path)).toEqual(value)
    // and nothing else moved
    const after = leaves(config)
    const moved = [...new Set([...baseLeaves.keys(), ...after.keys()])].filter((p) => JSON.stringify(baseLeaves.get(p)) !== JSON.stringify(after.get(p)))
    for (const p of moved) expect(p === path || p.startsWith(`${path}.`) || (also !== undefined && p.startsWith(also)), `${name} also moved ${p}`).toBe(true)
    // the declaration says the same place
    expect(SETTINGS[name].path).toBe(path)
  })

  it('every setting of the service (all groups on) comes from a declared variable', () => {
    const declared = new Set(entries.map(([, s]) => s.path))
    const own = [...baseLeaves.keys()].filter((p) => !p.startsWith('engine.'))
    for (const p of own) expect(declared, p).toContain(p)
  })
})

describe('defaults', () => {
  it('no environment runs the library defaults (the engine schema is their one source)', () => {
    const config = loadServiceConfig({})
    expect(config.engine).toEqual(parseEngineSettings({}))
    expect(config).toMatchObject({ port: 8080, host: '0.0.0.0', mode: 'single', rateLimit: null, urlFetch: null, apiKeys: [], logLevel: 'info' })
    expect(config.jobs.ttlMs).toBe(3600 * 1000)
  })

  it('the documented defaults of values shared with the engine are the engine schema\'s', () => {
    const engine = parseEngineSettings({})
    const shown = Object.fromEntries(ENV_VARS.map((v) => [v.name, v.default]))
    expect(shown.OCR_DET_LIMIT_SIDE_LEN).toBe(String(engine.detLimitSideLen))
    expect(shown.OCR_REQUEST_TIMEOUT_MS).toBe(String(engine.timeoutMs))
    expect(shown.OCR_MAX_PIXELS).toBe(String(engine.maxPixels))
    expect(shown.OCR_WORKERS).toBe('auto')
    expect(shown.OCR_REMOTE_MODELS).toBe('ocr_det,ocr_cls,ocr_rec')
    expect(shown.OCR_REMOTE_URL).toBe('')
  })

  it.each(ENV_VARS.filter((v) => v.default !== '').map((v) => [v.name, v.default] as const))('%s=%s (its documented default) is the same as leaving it unset', (name, text) => {
    const { [name]: _, ...unset } = BASE as Record<string, string>
    expect(readSettingText(SETTINGS[name], text)).toMatchObject({ ok: true })
    expect(loadServiceConfig({ ...unset, [name]: text })).toEqual(loadServiceConfig(unset))
  })

  it('an empty or blank variable is unset', () => {
    expect(loadServiceConfig({ OCR_MAX_QUEUE: '', OCR_PDF_DPI: '   ' })).toEqual(loadServiceConfig({}))
  })
})

describe('refusals name the variable and what it accepts', () => {
  /** A text of the wrong kind for each way of writing a value (free text and lists take anything). */
  const WRONG: Record<Setting['kind'], string | null> = { number: 'x', auto: 'many', boolean: 'maybe', choice: 'nope', modelNames: 'a,b', packList: 'a=/x,a=/y', text: null, list: null }

  it.each(entries.filter(([, s]) => WRONG[s.kind] !== null).map(([name, s]) => [name, s] as const))('%s', (name, s) => {
    const text = WRONG[s.kind]!
    const e = configError({ ...BASE, [name]: text })
    expect(e.message).toContain(`${name}: must be ${acceptedText(s)}, got "${text}"`)
  })

  it.each([
    [{ PORT: '65536' }, 'PORT: must be an integer from 0 to 65535'],
    [{ OCR_PDF_DPI: '20' }, 'OCR_PDF_DPI: must be an integer from 36 to 1200'],
    [{ OCR_PDF_DPI: '250.5' }, 'OCR_PDF_DPI: must be an integer from 36 to 1200'],
    [{ OCR_MAX_PAGES: '10001' }, 'OCR_MAX_PAGES: must be an integer from 1 to 10000'],
    [{ OCR_WORKERS: '0' }, 'OCR_WORKERS: must be auto or an integer from 1 to 64'],
    [{ OCR_THREADS_PER_WORKER: '65' }, 'OCR_THREADS_PER_WORKER: must be auto or an integer from 1 to 64'],
    // narrower than the engine, which takes any positive batch size from code
    [{ OCR_REC_BATCH_SIZE: '65' }, 'OCR_REC_BATCH_SIZE: must be an integer from 1 to 64'],
    [{ OCR_REC_BATCH_MAX_PAD: '0' }, 'OCR_REC_BATCH_MAX_PAD: must be a number > 0 and ≤ 1'],
    [{ OCR_DROP_SCORE: '1.5' }, 'OCR_DROP_SCORE: must be a number from 0 to 1'],
    [{ OCR_MAX_QUEUE: '-1' }, 'OCR_MAX_QUEUE: must be an integer ≥ 0'],
    [{ OCR_DET_LIMIT_SIDE_LEN: '0' }, 'OCR_DET_LIMIT_SIDE_LEN: must be an integer ≥ 1'],
    [{ OCR_DEVICE: 'CPU' }, 'OCR_DEVICE: must be one of cpu, cuda'],
    [{ OCR_MODELS: 'builtin=/models/x' }, 'OCR_MODELS: must be comma-separated NAME=DIR or DIR entries'],
    [{ OCR_MODELS: 'bad name=/models/x' }, 'OCR_MODELS: must be comma-separated NAME=DIR or DIR entries'],
    [{ OCR_MODELS: ' , ' }, 'OCR_MODELS: must be comma-separated NAME=DIR or DIR entries'],
    [{ OCR_MODE: 'cloud' }, 'OCR_MODE: must be one of single, local, remote, tfserving, triton, kserve'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ OCR_REMOTE_RETRIES: '11' }, 'OCR_REMOTE_RETRIES: must be an integer from 0 to 10'],
    [{ OCR_REMOTE_MODELS: 'a,b,c,d' }, 'OCR_REMOTE_MODELS: must be three comma-separated names: det,cls,rec'],
  ])('%j → %s', (env, message) => {
    expect(configError(env).message).toContain(message)
  })

  it('a refused OCR_REDIS_URL is not repeated: it may hold a password', () => {
    const e = configError({ OCR_REDIS_URL: 'http://:hunter2@redis:6379' })
    expect(e.message).toContain('OCR_REDIS_URL: must be a redis:// or rediss:// URL')
    expect(e.message).not.toContain('hunter2')
  })

  it('a remote variable is checked in single mode too', () => {
    expect(configError({ OCR_REMOTE_TIMEOUT_MS: 'soon' }).message).toContain('OCR_REMOTE_TIMEOUT_MS')
  })

  it('every bad variable is named at once', () => {
    const e = configError({ PORT: 'x', OCR_MAX_QUEUE: '-1', OCR_USE_CLS: 'maybe' })
    expect(e.message).toMatch(/^invalid environment: PORT: .*; OCR_MAX_QUEUE: .*; OCR_USE_CLS: /)
  })
})

describe('groups a setting turns on or off', () => {
  it('remote mode needs OCR_REMOTE_URL', () => {
    expect(configError({ OCR_MODE: 'remote' }).message).toContain('OCR_REMOTE_URL is required when OCR_MODE is remote')
  })

  it('single mode has no remote settings, whatever remote variables say', () => {
    const config = loadServiceConfig({ OCR_MODE: 'single', OCR_REMOTE_URL: 'http://m:8000', OCR_REMOTE_RETRIES: '5' })
    expect(config.mode).toBe('single')
    expect(config.engine.remote).toBeUndefined()
  })

  it.each([
    ['tfserving', undefined, 'tfserving'],
    ['triton', undefined, 'kserve-http'],
    ['kserve', undefined, 'kserve-http'],
    ['remote', undefined, 'kserve-http'],
    ['tfserving', 'kserve-grpc', 'kserve-grpc'],
  ] as const)('OCR_MODE=%s, OCR_REMOTE_PROTOCOL=%s → remote over %s', (mode, protocol, expected) => {
    const config = loadServiceConfig({ OCR_MODE: mode, OCR_REMOTE_URL: 'http://m:8000', ...(protocol ? { OCR_REMOTE_PROTOCOL: protocol } : {}) })
    expect(config.mode).toBe('remote')
    expect(config.engine.remote?.protocol).toBe(expected)
  })

  it('OCR_RATE_LIMIT=0 turns the rate limit off; OCR_URL_ALLOWLIST empty turns URL fetching off', () => {
    const config = loadServiceConfig({ OCR_RATE_LIMIT: '0', OCR_RATE_LIMIT_WINDOW_MS: '10', OCR_URL_ALLOWLIST: ' , ', OCR_URL_ALLOW_PRIVATE: 'true' })
    expect(config.rateLimit).toBeNull()
    expect(config.urlFetch).toBeNull()
  })
})

describe('the text forms', () => {
  it.each([
    ['OCR_MAX_PAGES', 'an integer from 1 to 10000'],
    ['OCR_MAX_QUEUE', 'an integer ≥ 0'],
    ['OCR_MAX_PIXELS', 'an integer ≥ 1'],
    ['OCR_REC_BATCH_MAX_PAD', 'a number > 0 and ≤ 1'],
    ['OCR_DROP_SCORE', 'a number from 0 to 1'],
    ['OCR_WORKERS', 'auto or an integer from 1 to 64'],
    ['OCR_USE_CLS', 'true or false (also 1/0, yes/no, on/off)'],
    ['OCR_PDF_TEXT', 'one of auto, ocr, embedded'],
    ['HOST', 'a non-empty text'],
    ['OCR_TF_OUTPUT', 'any text'],
    ['OCR_API_KEYS', 'a comma-separated list'],
  ] as const)('%s accepts %s', (name, accepts) => {
    expect(acceptedText(SETTINGS[name])).toBe(accepts)
    expect(ENV_VARS.find((v) => v.name === name)?.accepts).toBe(accepts)
  })

  it.each([
    ['OCR_USE_CLS', ['1', 'true', 'yes', 'on'], true],
    ['OCR_USE_CLS', ['0', 'false', 'no', 'off'], false],
    ['OCR_WORKERS', ['auto'], 0],
    ['OCR_MODE', ['Remote', 'REMOTE'], 'remote'],
  ] as const)('%s: %j → %j', (name, texts, value) => {
    for (const t of texts) expect(readSettingText(SETTINGS[name], t)).toEqual({ ok: true, value })
  })

  it('a boolean word that is not one is refused, not read as the default', () => {
    expect(readSettingText(SETTINGS.OCR_USE_CLS, 'True')).toMatchObject({ ok: false })
    expect(readSettingText(SETTINGS.OCR_USE_CLS, 'constructor')).toMatchObject({ ok: false })
  })

  it('a schema whose type implies no way of writing it must name one', () => {
    expect(() => kindOf(z.object({ a: z.string() }))).toThrow(/name one/)
    expect(kindOf(z.enum(['a', 'b']))).toBe('choice')
  })

  it('defaults are shown as they are written', () => {
    expect(defaultText(SETTINGS.OCR_THREADS_PER_WORKER)).toBe('auto')
    expect(defaultText(SETTINGS.OCR_API_KEYS)).toBe('')
    expect(defaultText(SETTINGS.OCR_MAX_BODY_BYTES)).toBe(String(20 * 1024 * 1024))
    expect(defaultText(SETTINGS.OCR_DROP_SCORE)).toBe('0.5')
  })

  it('each serve flag is the variable without OCR_, lower case, _ → -', () => {
    const flags = Object.fromEntries(ENV_VARS.map((v) => [v.name, v.flag]))
    expect(flags).toMatchObject({ PORT: '--port', LOG_LEVEL: '--log-level', OCR_MAX_QUEUE: '--max-queue', OCR_THREADS_PER_WORKER: '--threads-per-worker' })
    expect(new Set(Object.values(flags)).size).toBe(ENV_VARS.length)
  })
})
