/**
 * What a test needs beyond Node and this repository (a system program, a device file). Where it is
 * missing the test is skipped with a one-line reason — what is missing and how to install it —
 * that test/helpers/skip-reporter.ts prints under the run's summary. Under CI (`CI=true`) a
 * missing requirement fails the test instead: .ci/run installs everything, so CI runs the whole
 * suite and cannot pass by skipping.
 */
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { beforeEach, type TestContext } from 'vitest'

export interface Requirement {
  /** null when met; otherwise the reason the test cannot run here, in one line. */
  missing: string | null
  /**
   * Whether CI must meet it (a missing one fails the test there). False only for conditions that
   * are a property of the machine rather than something to install (e.g. a GPU being present).
   */
  requiredInCi: boolean
}

/** CI as most CI systems announce it (`CI=true`, `CI=1`); `CI=false` / `CI=0` / unset is not CI. */
export const inCi = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase())

/** `name` on PATH, as a shell would find it; `install` says how to get it ("apt-get install …"). */
export function program(test: string, name: string, install: string): Requirement {
  const found = (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, name)))
  return { missing: found ? null : `${test} skipped: no ${name} on PATH — ${install}`, requiredInCi: true }
}

/** A file at a fixed path (a browser the test launches by path, a device). */
export function file(test: string, path: string, what: string, install: string): Requirement {
  return { missing: existsSync(path) ? null : `${test} skipped: no ${what} at ${path} — ${install}`, requiredInCi: true }
}

/** A condition of the machine under which the test means nothing (not an install away). */
export function unless(test: string, condition: boolean, why: string): Requirement {
  return { missing: condition ? `${test} skipped: ${why}` : null, requiredInCi: false }
}

/**
 * Skips the running test with the requirement's reason, or fails it under CI when CI must meet
 * the requirement. Call it first thing in a test, or let requireForEach do it.
 */
export function requireOrSkip(ctx: Pick<TestContext, 'skip'>, req: Requirement, ci: boolean = inCi): void {
  if (req.missing === null) return
  if (ci && req.requiredInCi) throw new Error(`${req.missing} (CI=true: CI installs everything, so the whole suite must run)`)
  ctx.skip(req.missing)
}

/** requireOrSkip before every test of the enclosing describe block (or file). */
export function requireForEach(req: Requirement): void {
  beforeEach((ctx) => requireOrSkip(ctx, req))
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
