/** The README's configuration table and docs/ERRORS.md are checked against the code's tables. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ENV_VARS } from '../../src/config.js'
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
  it.each(ENV_VARS.map((v) => [v.name, v] as const))('documents %s with its default', (name, v) => {
    const row = rows.get(name)
    expect(row, `${name} has a row in the README's Configuration table`).toBeDefined()
    const dflt = row![1]!.replace(/`/g, '')
    expect(dflt).toBe(v.default === '' ? '(empty)' : v.default)
    expect(row![2]!.length).toBeGreaterThan(10)
  })
  it('lists no variable the code does not read', () => {
    const known = new Set<string>(ENV_VARS.map((v) => v.name))
    for (const name of rows.keys()) if (name !== 'Variable') expect(known, `README row ${name}`).toContain(name)
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
