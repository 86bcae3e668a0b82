/** The README's configuration table and docs/ERRORS.md are checked against the code's tables. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ENV_VARS, SETTINGS } from '../../src/config.js'
import type { Setting } from '../../src/setting-text.js'
import { ERRORS } from '../../src/errors.js'

const read = (p: string): string => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8')

/** The markdown table rows of one `## heading` section: first cell (backticks stripped) → cells. */
function tableRows(md: string, heading: string): Map<string, string[]> {
  const start = md.indexOf(`\n${heading}\n`)
  expect(start, `section "${heading}"`).toBeGreaterThanOrEqual(0)
  const end = md.indexOf('\n## ', start + heading.length + 2)
  const section = md.slice(start, end < 0 ? undefined : end)
  const rows = new Map<string, string[]>()
  for (const line of section.split('\n')) {
    if (!line.startsWith('|') || /^\|[-| ]+\|$/.test(line)) continue
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim())
    rows.set(cells[0]!.replace(/`/g, ''), cells)
  }
  return rows
}

describe('README ## Configuration', () => {
  const rows = tableRows(read('README.md'), '## Configuration')
  rows.delete('Variable')
  /** The row the declaration gives (the README's table is SETTINGS in src/config.ts, written out). */
  const expected = (v: (typeof ENV_VARS)[number]): string[] => [v.name, v.default === '' ? '(empty)' : `\`${v.default}\``, v.doc]
  it.each(ENV_VARS.map((v) => [v.name, v] as const))('documents %s with its default and its doc', (name, v) => {
    const row = rows.get(name)
    expect(row, `${name} has a row in the README's Configuration table: | \`${name}\` | ${expected(v).slice(1).join(' | ')} |`).toBeDefined()
    expect([name, ...row!.slice(1)]).toEqual(expected(v))
  })
  it('lists the variables in the declarations\' order, and no other', () => {
    expect([...rows.keys()]).toEqual(ENV_VARS.map((v) => v.name))
  })
})

describe('README ## CLI: `ocrserve read`', () => {
  const md = read('README.md')
  const section = md.slice(md.indexOf('## CLI: `ocrserve read`'), md.indexOf('\n## ', md.indexOf('## CLI: `ocrserve read`') + 5))
  it.each(Object.values(SETTINGS as Record<string, Setting>).flatMap((s) => (s.read ? [s.read.flag.split(' ')[0]!] : [])))('mentions %s', (flag) => {
    expect(section).toContain(`\`${flag}`)
  })
})

describe('README ## HTTP API', () => {
  it('names every HTTP status of the error catalogue in its list of statuses', () => {
    const md = read('README.md')
    const start = md.indexOf('Errors are always JSON')
    expect(start).toBeGreaterThanOrEqual(0)
    const paragraph = md.slice(start, md.indexOf('\n\n', start))
    expect(paragraph).toContain('docs/ERRORS.md')
    for (const status of new Set(Object.values(ERRORS).map((e) => e.status))) expect(paragraph, `status ${status}`).toMatch(new RegExp(`\\b${status}\\b`))
  })
})

describe('docs/ERRORS.md', () => {
  const md = read('docs/ERRORS.md')
  const rows = new Map<string, string[]>()
  for (const line of md.split('\n')) {
    const m = /^\| `([A-Z_]+)` \|/.exec(line)
    if (m) rows.set(m[1]!, line.split('|').slice(1, -1).map((c) => c.trim()))
  }
  it.each(Object.entries(ERRORS))('documents %s with its HTTP status, meaning and what to do', (code, { status }) => {
    const row = rows.get(code)
    expect(row, `${code} has a row in docs/ERRORS.md`).toBeDefined()
    expect(Number(row![1])).toBe(status)
    expect(row![2]!.length).toBeGreaterThan(20)
    expect(row![3]!.length).toBeGreaterThan(10)
  })
  it('lists no code the catalogue does not have', () => {
    for (const code of rows.keys()) expect(Object.keys(ERRORS)).toContain(code)
  })
})
