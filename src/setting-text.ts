/**
 * Settings written as text (environment variables, CLI flags): how a value is spelt, how text is
 * read into a value and checked, and what a setting accepts, said in words for errors and --help.
 * The declarations themselves (one per setting) are in config.ts.
 */
import { basename } from 'node:path'
import { z } from 'zod'

/** How a setting's value is spelt as text. */
export type TextKind = 'number' | 'boolean' | 'choice' | 'text' | 'list' | 'auto' | 'modelNames' | 'packList'

/** One setting that text can set: what it is, how it is checked and where its value goes. */
export interface Setting {
  /** One or two sentences for the README table and --help (markdown backticks allowed). */
  readonly doc: string
  /** Checks the value and holds its default; an engine setting's is the engine schema's own field. */
  readonly schema: z.ZodType
  readonly kind: TextKind
  /** Where the value lands in ServiceConfig: 'port', 'jobs.ttlMs', 'engine.pdfDpi', 'engine.remote.url'. */
  readonly path: string
  /** The value as the settings hold it, where that differs from how it is written (seconds → ms). */
  readonly to?: (value: never) => unknown
  /** Read the text in lower case first (the mode's names). */
  readonly ignoreCase?: boolean
  /** The value may hold a password: errors never repeat it. */
  readonly secret?: boolean
  /** `ocrserve read`'s flag for this engine setting (commander syntax) and its help; absent: `serve` only. */
  readonly read?: { readonly flag: string; readonly help: string }
}

type Json = z.core.JSONSchema.BaseSchema

/** What a kind's read() returns for text that is not a value of that kind. */
const NOT_A_VALUE = Symbol('not a value')

interface KindRules {
  /** Text → the value the schema then checks, or NOT_A_VALUE. */
  read(text: string): unknown
  /** A value as text (defaults in the README table and --help). */
  show(value: never): string
  /** What the text may be, from the value's JSON Schema. */
  accepts(json: Json): string
}

const BOOLEAN_WORDS = new Map<string, boolean>([
  ['1', true], ['true', true], ['yes', true], ['on', true],
  ['0', false], ['false', false], ['no', false], ['off', false],
])

/** "an integer from 1 to 64", "a number > 0 and ≤ 1", "an integer ≥ 0". */
function numberRange(json: Json): string {
  const integer = json.type === 'integer'
  const above = typeof json.exclusiveMinimum === 'number' ? json.exclusiveMinimum : undefined
  // an integer > n is an integer ≥ n + 1; zod writes "no bound" for integers as the largest safe ones
  let min = json.minimum ?? (integer && above !== undefined ? above + 1 : undefined)
  const exclusiveMin = min === undefined ? above : undefined
  const max = json.maximum !== undefined && json.maximum < Number.MAX_SAFE_INTEGER ? json.maximum : undefined
  if (min !== undefined && min <= Number.MIN_SAFE_INTEGER) min = undefined
  const what = integer ? 'an integer' : 'a number'
  if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`
  const lower = min !== undefined ? `≥ ${min}` : exclusiveMin !== undefined ? `> ${exclusiveMin}` : ''
  const upper = max !== undefined ? `≤ ${max}` : ''
  return [what, [lower, upper].filter(Boolean).join(' and ')].filter(Boolean).join(' ')
}

const KINDS: Record<TextKind, KindRules> = {
  number: { read: (t) => Number(t), show: (v: number) => String(v), accepts: numberRange },
  boolean: { read: (t) => BOOLEAN_WORDS.get(t) ?? NOT_A_VALUE, show: (v: boolean) => String(v), accepts: () => 'true or false (also 1/0, yes/no, on/off)' },
  choice: { read: (t) => t, show: (v: string) => v, accepts: (j) => `one of ${(j.enum ?? []).join(', ')}` },
  /** A text whose schema has a pattern says what it is in the schema's description. */
  text: { read: (t) => t, show: (v: string) => v, accepts: (j) => j.description ?? (j.minLength ? 'a non-empty text' : 'any text') },
  list: {
    read: (t) => t.split(',').map((s) => s.trim()).filter(Boolean),
    show: (v: string[]) => v.join(','),
    accepts: () => 'a comma-separated list',
  },
  /** 0 means "choose for me" and is written `auto` (and only so: the text 0 is refused). */
  auto: {
    read: (t) => (t === 'auto' ? 0 : Number(t) || NOT_A_VALUE),
    show: (v: number) => (v === 0 ? 'auto' : String(v)),
    accepts: (j) => `auto or ${numberRange({ ...j, minimum: Math.max(1, j.minimum ?? 1) })}`,
  },
  /** The three models' names in pipeline order. */
  modelNames: {
    read: (t) => {
      const names = t.split(',').map((s) => s.trim()).filter(Boolean)
      return names.length === 3 ? { det: names[0], cls: names[1], rec: names[2] } : NOT_A_VALUE
    },
    show: (v: { det: string; cls: string; rec: string }) => `${v.det},${v.cls},${v.rec}`,
    accepts: () => 'three comma-separated names: det,cls,rec',
  },
  /** Model packs: `NAME=DIR` or `DIR` (named after its folder), comma-separated; `builtin` alone names the shipped ones. */
  packList: {
    read: (t) => {
      const entries = t.split(',').map((s) => s.trim()).filter(Boolean)
      return entries.length === 0
        ? NOT_A_VALUE
        : entries.map((e) => {
            const eq = e.indexOf('=')
            if (eq > 0) return { name: e.slice(0, eq).trim(), dir: e.slice(eq + 1).trim() }
            return e === 'builtin' ? { name: e } : { name: basename(e), dir: e }
          })
    },
    show: (v: Array<{ name: string; dir?: string }>) => v.map((p) => (p.dir === undefined ? p.name : `${p.name}=${p.dir}`)).join(','),
    accepts: () => 'comma-separated NAME=DIR or DIR entries (unique names of letters, digits, ., _, -), or builtin',
  },
}

/** The kind each JSON type implies (a string with an enum is a choice); objects name theirs. */
const KIND_OF_JSON_TYPE: Partial<Record<string, TextKind>> = { integer: 'number', number: 'number', boolean: 'boolean', string: 'text', array: 'list' }

/** The kind a schema's JSON type implies: numbers, booleans, choices (enums), text, lists. */
export function kindOf(schema: z.ZodType): TextKind {
  const json = jsonOf(schema)
  const kind = json.enum ? 'choice' : KIND_OF_JSON_TYPE[String(json.type)]
  if (!kind) throw new Error(`no text kind for a ${String(json.type)} setting: name one`)
  return kind
}

function jsonOf(schema: z.ZodType): Json {
  return z.toJSONSchema(schema, { unrepresentable: 'any' }) as Json
}

/** The value a schema gives when nothing is set; undefined when it has no default (a remote URL). */
export function defaultOf(schema: z.ZodType): unknown {
  const r = schema.safeParse(undefined)
  return r.success ? r.data : undefined
}

/** The default as text ('' when none). */
export function defaultText(s: Setting): string {
  const value = defaultOf(s.schema)
  return value === undefined ? '' : KINDS[s.kind].show(value as never)
}

/** What a setting's text may be, in words: "an integer from 36 to 1200", "one of auto, ocr, embedded". */
export function acceptedText(s: Setting): string {
  return KINDS[s.kind].accepts(jsonOf(s.schema))
}

export type TextResult = { ok: true; value: unknown } | { ok: false; message: string }

/** Reads one setting's text and checks it; a refusal says what the setting accepts ("must be …"). */
export function readSettingText(s: Setting, text: string): TextResult {
  const value = KINDS[s.kind].read(s.ignoreCase ? text.toLowerCase() : text)
  const r = value === NOT_A_VALUE ? null : s.schema.safeParse(value)
  return r?.success ? { ok: true, value: r.data } : { ok: false, message: `must be ${acceptedText(s)}` }
}
