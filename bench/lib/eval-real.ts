/**
 * The real-image evaluation set, eval-real: it lives beside the clone in ../shared/eval-real
 * (labels.jsonl + images/), outside the repository, because its images come under many licences
 * (tests use the Apache-2.0 subset committed in test/fixtures/real instead).
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const EVAL_REAL = resolve(fileURLToPath(new URL('../../', import.meta.url)), '..', 'shared', 'eval-real')

/**
 * Whether eval-real is at `dir`. When it is not, says so on stderr in one line: what to put where,
 * and `without` (what the run does instead).
 */
export function hasEvalReal(without: string, dir: string = EVAL_REAL): boolean {
  if (existsSync(join(dir, 'labels.jsonl'))) return true
  process.stderr.write(`eval-real not found: put the real-image set (labels.jsonl and images/) in ${dir} (../shared/eval-real beside the clone); ${without}\n`)
  return false
}
