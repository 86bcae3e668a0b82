import { readFileSync } from 'node:fs'

let version: string | undefined

/** ocrserve's version, read once from package.json (src/ and dist/ both sit two levels below it). */
export function softwareVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  return version
}
