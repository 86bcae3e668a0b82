/**
 * A vitest reporter that lists, beside the run's summary, why tests were skipped: one line per
 * reason with the number of tests it skipped (the reasons come from test/helpers/requirements.ts).
 * A test skipped without a reason is listed by name, so a quiet skip cannot hide in the count.
 */
import { relative } from 'node:path'
import type { Reporter, TestModule, Vitest } from 'vitest/node'

export default class SkipReporter implements Reporter {
  private vitest?: Vitest

  onInit(vitest: Vitest): void {
    this.vitest = vitest
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const reasons = new Map<string, number>()
    const unexplained: string[] = []
    for (const module of modules) {
      for (const test of module.children.allTests('skipped')) {
        const result = test.result()
        const note = result.state === 'skipped' ? result.note : undefined
        if (note) reasons.set(note, (reasons.get(note) ?? 0) + 1)
        else unexplained.push(`${relative(this.vitest?.config.root ?? process.cwd(), module.moduleId)} > ${test.fullName}`)
      }
    }
    if (reasons.size === 0 && unexplained.length === 0) return
    const log = (line: string): void => (this.vitest ? this.vitest.logger.log(line) : console.log(line))
    const total = [...reasons.values()].reduce((a, b) => a + b, unexplained.length)
    log('')
    log(` Skipped ${total} test${total === 1 ? '' : 's'}:`)
    for (const [reason, n] of reasons) log(`   ${reason} (${n} test${n === 1 ? '' : 's'})`)
    for (const name of unexplained) log(`   ${name}: skipped without a reason`)
    log('')
  }
}
