/**
 * Accuracy evaluation: `npm run eval [-- --quick] [--engines ocrserve,guten,ppu,tesseract] [--sets ...]`.
 *
 * `--ocrserve-settings '{"detLimitType":"min"}'` passes extra createOcr() settings (experiments;
 * the settings are printed with the results). `--models latin=/models/latin` reads with model
 * packs (OCR_MODELS's syntax; the first reads): shorthand for the `packs` setting. `--rescore` scores the predictions saved by an
 * earlier run again (after a metrics change) without running the engines.
 *
 * Runs each engine over the real-image set (../shared/eval-real, when present) and the generated
 * sets (rendered into .cache/eval/ on first use), scores them with bench/lib/metrics.ts, prints a
 * markdown table and writes it into docs/ACCURACY.md between the results markers. Per-image
 * predictions and line errors go to .cache/eval/results/ for failure analysis.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { SETTINGS } from '../src/config.js'
import { readSettingText } from '../src/setting-text.js'
import { SET_NAMES, type SetName, writeSet } from '../test/fixtures/generate.js'
import { EVAL_REAL, hasEvalReal } from './lib/eval-real.js'
import { createEngine, ENGINE_NAMES, type EngineLine, type EngineName, EngineUnavailable, type EvalEngine } from './lib/engines.js'
import { type GtRecord, type RecordScore, type Summary, scoreRecord, summarize } from './lib/metrics.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = join(ROOT, '.cache', 'eval')
/** Where per-image results go; runs with --ocrserve-settings get their own folder (see main). */
let RESULTS = join(CACHE, 'results')
const DOC = join(ROOT, 'docs', 'ACCURACY.md')
const START = '<!-- eval:results:start -->'
const END = '<!-- eval:results:end -->'

const ALL_SETS = ['eval-real', ...SET_NAMES] as const
type EvalSetName = (typeof ALL_SETS)[number]

/** Pages per generated set: full run and --quick. */
const COUNTS: Record<SetName, { full: number; quick: number }> = {
  clean: { full: 30, quick: 6 },
  rotated: { full: 30, quick: 6 },
  tilted: { full: 30, quick: 6 },
  faint: { full: 30, quick: 6 },
  small: { full: 8, quick: 2 },
  english: { full: 30, quick: 6 },
  mixed: { full: 30, quick: 6 },
  spacing: { full: 30, quick: 6 },
}
/** --quick takes every QUICK_STRIDE-th eval-real record. */
const QUICK_STRIDE = 4
/** Line errors listed per engine and set in .cache/eval/results/failures.md. */
const MAX_FAILURES = 60

interface LoadedSet {
  name: EvalSetName
  dir: string
  records: GtRecord[]
}

interface Row {
  set: string
  engine: EngineName
  summary: Summary
  seconds: number
  failedImages: number
}

function parseList<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T[] {
  if (!value) return [...allowed]
  const items = value.split(',').map((s) => s.trim()).filter(Boolean)
  for (const item of items) if (!allowed.includes(item as T)) throw new RangeError(`unknown ${what} "${item}" (known: ${allowed.join(', ')})`)
  return items as T[]
}

function readJsonl(path: string): GtRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as GtRecord)
}

function generatorHash(): string {
  const h = createHash('sha256')
  for (const f of ['generate.ts', 'corpus.ts', 'fonts.ts', 'prng.ts']) h.update(readFileSync(join(ROOT, 'test', 'fixtures', f)))
  return h.digest('hex').slice(0, 10)
}

async function loadSet(name: EvalSetName, quick: boolean, seed: number, notes: string[]): Promise<LoadedSet | null> {
  if (name === 'eval-real') {
    if (!hasEvalReal('scoring the generated sets only.')) {
      notes.push(`eval-real skipped: ${join(EVAL_REAL, 'labels.jsonl')} not found (it lives beside the clone, in ../shared/eval-real).`)
      return null
    }
    const all = readJsonl(join(EVAL_REAL, 'labels.jsonl'))
    return { name, dir: EVAL_REAL, records: quick ? all.filter((_, i) => i % QUICK_STRIDE === 0) : all }
  }
  const count = quick ? COUNTS[name].quick : COUNTS[name].full
  const dir = join(CACHE, 'sets', `${name}-seed${seed}-n${count}-${generatorHash()}`)
  if (!existsSync(join(dir, 'labels.jsonl'))) {
    process.stderr.write(`generating ${name} (${count} pages) → ${dir}\n`)
    await writeSet(name, count, seed, dir)
  }
  return { name, dir, records: readJsonl(join(dir, 'labels.jsonl')) }
}

/** Runs fn over items with at most `limit` in flight; results keep the input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i], i)
    }
  })
  await Promise.all(workers)
  return results
}

/** What an engine returned for one image (scored later; also what --rescore reads back). */
interface RawOutcome {
  image: string
  preds: EngineLine[]
  error: string | null
  ms: number
}

/** One engine on one set: its raw outcomes and how the run went. */
interface SetRun {
  engine: EngineName
  set: EvalSetName
  describe: string
  concurrency: number
  seconds: number
  /** Where and when the images were read (kept with the results for --rescore). */
  machine: string
  date: string
  /** git revision of the checkout that ran the engine. */
  revision: string
  outcomes: RawOutcome[]
}

async function runEngine(engine: EvalEngine, set: LoadedSet): Promise<{ outcomes: RawOutcome[]; seconds: number }> {
  const started = performance.now()
  let done = 0
  const outcomes = await mapLimit(set.records, engine.concurrency, async (record) => {
    const t0 = performance.now()
    let preds: EngineLine[] = []
    let error: string | null = null
    try {
      preds = await engine.read(join(set.dir, record.image))
    } catch (err) {
      error = err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err)
    }
    const ms = performance.now() - t0
    done++
    if (process.stderr.isTTY) process.stderr.write(`\r${engine.name} ${set.name}: ${done}/${set.records.length}`)
    return { image: record.image, preds, error, ms: Math.round(ms) }
  })
  const seconds = (performance.now() - started) / 1000
  process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}${engine.name} ${set.name}: ${outcomes.length} images in ${seconds.toFixed(1)} s\n`)
  return { outcomes, seconds }
}

function resultsPath(engine: EngineName, set: EvalSetName): string {
  return join(RESULTS, `${engine}-${set}.jsonl`)
}

/** Results file: a header line with the run's facts, then one line per image. */
function saveRun(run: SetRun, scores: readonly RecordScore[]): void {
  const { outcomes, ...meta } = run
  const lines = [JSON.stringify({ meta }), ...outcomes.map((o, i) => JSON.stringify(scores[i] ? { ...o, score: scores[i] } : o))]
  writeFileSync(resultsPath(run.engine, run.set), `${lines.join('\n')}\n`)
}

function loadRun(engine: EngineName, set: LoadedSet): SetRun | null {
  const path = resultsPath(engine, set.name)
  if (!existsSync(path)) return null
  const [head, ...rest] = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim())
  const { meta } = JSON.parse(head) as { meta: Omit<SetRun, 'outcomes'> }
  const outcomes = rest.map((l) => JSON.parse(l) as RawOutcome)
  const have = new Set(outcomes.map((o) => o.image))
  const missing = set.records.filter((r) => !have.has(r.image))
  if (missing.length) throw new Error(`${path} has no result for ${missing[0].image} (it is from another run; rerun without --rescore)`)
  const wanted = new Set(set.records.map((r) => r.image))
  return { ...meta, outcomes: outcomes.filter((o) => wanted.has(o.image)) }
}

function fmt(v: number | null, digits = 3): string {
  return v === null ? '—' : v.toFixed(digits)
}

function table(rows: readonly Row[]): string {
  const head = '| set | engine | images | P | R | F1 | char acc | exact lines | seconds |\n|---|---|---:|---:|---:|---:|---:|---:|---:|'
  const body = rows.map((r) => {
    const s = r.summary
    const images = r.failedImages ? `${s.images} (${r.failedImages} failed)` : `${s.images}`
    return `| ${r.set} | ${r.engine} | ${images} | ${fmt(s.precision)} | ${fmt(s.recall)} | ${fmt(s.f1)} | ${fmt(s.charAccuracy, 4)} | ${fmt(s.exactLineRate)} | ${r.seconds.toFixed(1)} |`
  })
  return [head, ...body].join('\n')
}

/** The word measures (bench/lib/metrics.ts "Words"), one row per set and engine. */
function wordTable(rows: readonly Row[]): string {
  const head =
    '| set | engine | word P | word R | word F1 | Latin-word F1 (words) | exact lines, spaces kept | CJK spaces | word boxes IoU ≥ 0.5 (pairs) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|'
  const body = rows.map((r) => {
    const s = r.summary
    const latin = s.latinWordF1 === null ? '—' : `${fmt(s.latinWordF1)} (${s.latinWords})`
    const boxes = s.wordBoxShare === null ? '—' : `${fmt(s.wordBoxShare)} (${s.wordBoxPairs})`
    return `| ${r.set} | ${r.engine} | ${fmt(s.wordPrecision)} | ${fmt(s.wordRecall)} | ${fmt(s.wordF1)} | ${latin} | ${fmt(s.exactSpacedRate)} | ${s.cjkSpaces} | ${boxes} |`
  })
  return [head, ...body].join('\n')
}

function gitRevision(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return dirty ? `${rev} (with uncommitted changes)` : rev
  } catch {
    return 'unknown'
  }
}

function writeDoc(section: string): void {
  const block = `${START}\n${section}\n${END}`
  let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Accuracy\n'
  const a = doc.indexOf(START)
  const b = doc.indexOf(END)
  doc = a >= 0 && b > a ? doc.slice(0, a) + block + doc.slice(b + END.length) : `${doc.trimEnd()}\n\n${block}\n`
  mkdirSync(dirname(DOC), { recursive: true })
  writeFileSync(DOC, doc)
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      engines: { type: 'string' },
      sets: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'no-write': { type: 'boolean', default: false },
      'ocrserve-settings': { type: 'string' },
      models: { type: 'string' },
      rescore: { type: 'boolean', default: false },
    },
    strict: true,
  })
  const engines = parseList(values.engines, ENGINE_NAMES, 'engine')
  const sets = parseList(values.sets, ALL_SETS, 'set')
  const seed = Number(values.seed)
  if (!Number.isInteger(seed)) throw new RangeError('--seed must be an integer')
  const quick = values.quick
  let ocrserveSettings: Record<string, unknown> | undefined
  if (values['ocrserve-settings']) {
    const parsed: unknown = JSON.parse(values['ocrserve-settings'])
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('--ocrserve-settings must be a JSON object')
    ocrserveSettings = parsed as Record<string, unknown>
  }
  if (values.models) {
    // OCR_MODELS's syntax, checked the same way
    const r = readSettingText(SETTINGS.OCR_MODELS, values.models)
    if (!r.ok) throw new RangeError(`--models ${r.message}`)
    ocrserveSettings = { ...ocrserveSettings, packs: r.value }
  }
  if (ocrserveSettings) {
    const tag = createHash('sha256').update(JSON.stringify(ocrserveSettings)).digest('hex').slice(0, 8)
    RESULTS = join(CACHE, `results-settings-${tag}`)
  }
  const notes: string[] = []

  const loaded: LoadedSet[] = []
  for (const name of sets) {
    const set = await loadSet(name, quick, seed, notes)
    if (set) loaded.push(set)
  }

  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.arch()}`
  mkdirSync(RESULTS, { recursive: true })
  const revision = gitRevision()
  const runs: SetRun[] = []
  for (const name of engines) {
    if (values.rescore) {
      for (const set of loaded) {
        const run = loadRun(name, set)
        if (run) runs.push(run)
        else notes.push(`${name} on ${set.name}: no saved results to rescore`)
      }
      continue
    }
    let engine: EvalEngine
    try {
      engine = await createEngine(name, { ...(ocrserveSettings ? { ocrserveSettings } : {}) })
    } catch (err) {
      if (!(err instanceof EngineUnavailable)) throw err
      notes.push(`${name} skipped: ${err.message}`)
      continue
    }
    try {
      for (const set of loaded) {
        const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
        const { outcomes, seconds } = await runEngine(engine, set)
        const run: SetRun = { engine: name, set: set.name, describe: engine.describe, concurrency: engine.concurrency, seconds, machine, date, revision, outcomes }
        saveRun(run, []) // at once, so a later failure loses nothing; rewritten with scores below
        runs.push(run)
      }
    } finally {
      await engine.close()
    }
  }

  const rows: Row[] = []
  const described = new Map<string, string>()
  const failures: string[] = ['# Line errors per engine and set', '']
  for (const run of runs) {
    const set = loaded.find((l) => l.name === run.set) as LoadedSet
    const byImage = new Map(run.outcomes.map((o) => [o.image, o]))
    const scored = set.records.map((record) => {
      const o = byImage.get(record.image) as RawOutcome
      return { record, o, score: scoreRecord(record, o.preds) }
    })
    saveRun(run, scored.map((x) => x.score))
    described.set(run.engine, `- **${run.engine}**: ${run.describe}${values.rescore ? ` (read on ${run.date}, revision ${run.revision ?? 'unknown'}, ${run.machine})` : ''}`)
    const failed = scored.filter((x) => x.o.error)
    for (const f of failed.slice(0, 3)) notes.push(`${run.engine} failed on ${set.name}/${f.record.image}: ${f.o.error}`)
    if (failed.length > 3) notes.push(`${run.engine}: ${failed.length - 3} more failed images in ${set.name}`)
    rows.push({ set: set.name, engine: run.engine, summary: summarize(scored.map((x) => x.score)), seconds: run.seconds, failedImages: failed.length })
    if (set.name === 'eval-real') {
      for (const kind of ['page', 'page-en', 'scene', 'line']) {
        // page-en: the English pages (receipts, scans, screenshots), where spacing matters most
        const part = scored.filter((x) => (kind === 'page-en' ? x.record.kind === 'page' && x.record.lang === 'en' : x.record.kind === kind))
        if (part.length === 0) continue
        const partSeconds = part.reduce((sum, x) => sum + x.o.ms, 0) / 1000 / run.concurrency
        rows.push({ set: `eval-real/${kind}`, engine: run.engine, summary: summarize(part.map((x) => x.score)), seconds: partSeconds, failedImages: part.filter((x) => x.o.error).length })
      }
    }
    failures.push(`## ${run.engine} on ${set.name}`, '')
    const errs = scored.flatMap((x) => x.score.errors.map((e) => ({ image: x.record.image, ...e })))
    for (const e of errs.slice(0, MAX_FAILURES)) {
      failures.push(`- ${e.image}: ${JSON.stringify(e.gt)} → ${e.pred === null ? 'MISSED' : JSON.stringify(e.pred)}${e.iou === null ? '' : ` (IoU ${e.iou.toFixed(2)})`}, ${e.distance} edit(s)`)
    }
    if (errs.length > MAX_FAILURES) failures.push(`- … ${errs.length - MAX_FAILURES} more`)
    failures.push('')
  }

  const order = (s: string): number => {
    const i = ALL_SETS.findIndex((n) => s === n || s.startsWith(`${n}/`))
    return i * 10 + (s.includes('/') ? 1 : 0)
  }
  rows.sort((a, b) => order(a.set) - order(b.set) || a.set.localeCompare(b.set) || ENGINE_NAMES.indexOf(a.engine) - ENGINE_NAMES.indexOf(b.engine))

  const command = `npm run eval${argv.length ? ` -- ${argv.join(' ')}` : ''}`
  const section = [
    '## Results',
    '',
    `- Command: \`${command}\`${quick ? ' (quick: a subset of every set)' : ''}`,
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, revision ${revision}`,
    values.rescore ? '- Rescored from saved predictions (the engines did not run again; times are from those runs)' : `- Machine: ${machine}`,
    `- Generated sets: seed ${seed}, generator ${generatorHash()}`,
    '',
    'Engines:',
    '',
    ...described.values(),
    '',
    table(rows),
    '',
    'Words (see "Words" under Metrics):',
    '',
    wordTable(rows),
    ...(notes.length ? ['', 'Notes:', '', ...notes.map((n) => `- ${n}`)] : []),
  ].join('\n')
  writeFileSync(join(RESULTS, 'failures.md'), failures.join('\n'))
  process.stdout.write(`${section}\n`)
  if (!values['no-write']) {
    writeDoc(section)
    process.stderr.write(`wrote ${DOC}; per-image results in ${RESULTS}\n`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
