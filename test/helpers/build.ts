/** Compiles dist/ once per test run when it is missing or older than the sources (npm test builds first anyway). */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function newest(dir: string): number {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

export async function buildOnce(): Promise<void> {
  const stamp = 'dist/cli/main.js'
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newest('src')) return
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.build.json'], { stdio: 'inherit' })
}
