/**
 * Page orientation on real pages: `node --import tsx bench/turns.ts [--kinds page,scene]
 * [--match sroie] [--jpeg 75] [--workers 2] [--settings '{"autoRotate":false}'] [--json out.json]
 * [--dist dir]` (build first: it runs dist/, what ships; `--dist` another build of the package, e.g.
 * a copy of dist/ made before a change, for before/after).
 *
 * Every eval-real record of the chosen kinds (../shared/eval-real) is turned 0/90/180/270°
 * clockwise in its pixels (no EXIF; PNG, or JPEG at `--jpeg` quality to add recompression noise,
 * transparency flattened on white) and read. Per turn it reports how often the engine found the rotation that undoes the turn,
 * character accuracy (bench/lib/metrics, the GT boxes turned with the page), and how well the
 * reading order agrees with the engine's own order on the upright page (pairs of lines in the same
 * order, lines matched by their boxes turned back), plus every page whose rotation was wrong.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import sharp from 'sharp'
import { type Point, rotatePoint, type Rotation } from '../test/fixtures/generate.js'
import { matchLines, scoreRecord, summarize, type GtRecord, type Polygon, type RecordScore } from './lib/metrics.js'
import { EVAL_REAL } from './lib/eval-real.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const TURNS: Rotation[] = [0, 90, 180, 270]

/** (x, y) of a width × height page turned back from `turn`° clockwise: a point of the upright page. */
function unturn([x, y]: readonly [number, number], turn: Rotation, width: number, height: number): Point {
  // the turned page is height × width when the turn is a quarter
  const [tw, th] = turn % 180 === 0 ? [width, height] : [height, width]
  return rotatePoint([x, y], tw, th, ((360 - turn) % 360) as Rotation)
}

interface Read {
  rotation: number
  lines: { text: string; box: Polygon }[]
}

/** Fraction of pairs of lines (matched between the two reads) that come in the same order. */
function orderAgreement(upright: Read['lines'], turned: Read['lines']): number | null {
  const m = matchLines(
    upright.map((l) => ({ text: l.text, box: l.box })),
    turned.map((l) => ({ text: l.text, box: l.box })),
    0.5,
  )
  const pairs = [...m.matches].sort((a, b) => a.gt - b.gt)
  let same = 0
  let all = 0
  for (let i = 0; i < pairs.length; i++) {
    for (let j = i + 1; j < pairs.length; j++) {
      all++
      if (pairs[j]!.pred > pairs[i]!.pred) same++
    }
  }
  return all === 0 ? null : same / all
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kinds: { type: 'string', default: 'page' },
      match: { type: 'string' },
      jpeg: { type: 'string' },
      workers: { type: 'string', default: '2' },
      settings: { type: 'string' },
      json: { type: 'string' },
      dist: { type: 'string', default: join(ROOT, 'dist') },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*\n?| \* ?/gm, ''))
    return
  }
  const labels = join(EVAL_REAL, 'labels.jsonl')
  if (!existsSync(labels)) throw new Error(`${labels} not found: this bench needs ../shared/eval-real beside the clone`)
  const kinds = values.kinds.split(',')
  const records = readFileSync(labels, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as GtRecord)
    .filter((r) => kinds.includes(r.kind ?? '') && (!values.match || r.image.includes(values.match)))
  const quality = values.jpeg ? Number(values.jpeg) : 0
  const entry = join(resolve(values.dist), 'index.js')
  if (!existsSync(entry)) throw new Error(`${entry} missing: npm run build first`)
  const { createOcr } = (await import(entry)) as typeof import('../src/index.js')
  const settings = values.settings ? (JSON.parse(values.settings) as Record<string, unknown>) : {}
  const ocr = await createOcr({ ...settings, workers: Number(values.workers) })

  interface Outcome {
    image: string
    turn: Rotation
    rotation: number
    score: RecordScore
    /** The lines with their boxes turned back into the upright page. */
    back: Read['lines']
    order: number | null
  }
  const outcomes: Outcome[] = []
  const upright = new Map<string, Read>()
  const jobs = records.flatMap((r) => TURNS.map((turn) => ({ r, turn })))
  let next = 0
  const t0 = performance.now()
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const { r, turn } = jobs[next++]!
      const file = join(EVAL_REAL, r.image)
      const meta = await sharp(file).metadata()
      const [w, h] = [meta.autoOrient.width, meta.autoOrient.height]
      const turned = sharp(file).autoOrient().rotate(turn)
      // JPEG has no alpha: flatten on white first, as image editors export (sharp would use black)
      const bytes = await (quality ? turned.flatten({ background: '#ffffff' }).jpeg({ quality }) : turned.png()).toBuffer()
      const res = await ocr.read(bytes, { timeoutMs: 600_000 })
      const rotation = res.rotation
      const lines = res.lines.map((l) => ({ text: l.text, box: l.box as Polygon }))
      const gt: GtRecord = { ...r, lines: r.lines.map((l) => ({ ...l, box: l.box && l.box.map(([x, y]) => rotatePoint([x, y], w, h, turn)) })) }
      const score = scoreRecord(gt, lines)
      const back = lines.map((l) => ({ text: l.text, box: l.box.map((p) => unturn(p, turn, w, h)) as Polygon }))
      if (turn === 0) upright.set(r.image, { rotation, lines: back })
      outcomes.push({ image: r.image, turn, rotation, score, back, order: null })
      process.stderr.write(`\r${outcomes.length}/${jobs.length}`)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Number(values.workers)) }, lane))
  await ocr.close()
  process.stderr.write(`\n${((performance.now() - t0) / 1000).toFixed(0)} s\n`)
  for (const o of outcomes) {
    const up = upright.get(o.image)
    o.order = up ? orderAgreement(up.lines, o.back) : null
  }

  const rows = ['| turn | pages | rotation right | char acc | order agreement (mean) | orders fully kept |', '|---:|---:|---:|---:|---:|---:|']
  const wrong: string[] = []
  for (const turn of TURNS) {
    const of = outcomes.filter((o) => o.turn === turn)
    const expect = (360 - turn) % 360
    const right = of.filter((o) => o.rotation === expect).length
    const orders = of.map((o) => o.order).filter((x): x is number => x !== null)
    const mean = orders.reduce((s, x) => s + x, 0) / Math.max(1, orders.length)
    const kept = orders.filter((x) => x === 1).length
    rows.push(`| ${turn} | ${of.length} | ${right} | ${summarize(of.map((o) => o.score)).charAccuracy?.toFixed(4)} | ${mean.toFixed(3)} | ${kept}/${orders.length} |`)
    for (const o of of) if (o.rotation !== expect) wrong.push(`- ${o.image} turned ${turn}°: rotation ${o.rotation} (want ${expect}), order agreement ${o.order?.toFixed(2) ?? '—'}`)
  }
  const all = summarize(outcomes.map((o) => o.score)).charAccuracy
  const out = [
    `Command: node --import tsx bench/turns.ts ${argv.join(' ')}`,
    `${entry}: ${records.length} records (${kinds.join(', ')}${values.match ? `, matching "${values.match}"` : ''}), turned in ${quality ? `JPEG q${quality}` : 'PNG'}; settings ${JSON.stringify(settings)}`,
    '',
    ...rows,
    '',
    `all turns: char acc ${all?.toFixed(4)}`,
    ...(wrong.length ? ['', 'Wrong rotation:', ...wrong] : []),
  ].join('\n')
  process.stdout.write(`${out}\n`)
  if (values.json) writeFileSync(values.json, JSON.stringify(outcomes.map(({ image, turn, rotation, score, order }) => ({ image, turn, rotation, charAcc: score.gtChars ? 1 - score.charErrors / score.gtChars : null, order })), null, 1))
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
