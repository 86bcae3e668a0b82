/**
 * CLI flags made from the settings' declarations (SETTINGS in config.ts): `serve` has one per
 * environment variable, `read` one per engine setting a single run may choose.
 */
import { InvalidArgumentError, Option, type Command } from 'commander'
import { ENV_VARS, SETTINGS, type EngineSettingsInput } from '../config.js'
import { acceptedText, defaultText, readSettingText, type Setting } from '../setting-text.js'

/** " [an integer from 36 to 1200; default 200]": what --help adds to a flag's own words. */
function accepts(s: Setting): string {
  const what = acceptedText(s)
  const dflt = defaultText(s)
  const parts = [what === 'any text' ? '' : what, dflt === '' ? '' : `default ${dflt}`].filter(Boolean)
  return parts.length > 0 ? ` [${parts.join('; ')}]` : ''
}

/** Markdown to plain --help text: no backticks, no closing full stop. */
const plain = (doc: string): string => doc.replace(/`/g, '').replace(/\.$/, '')

/** `--max-queue <value>`, … on `serve`: each names the variable it sets. */
export function addServeFlags(cmd: Command): void {
  for (const v of ENV_VARS) cmd.addOption(new Option(`${v.flag} <value>`, `${v.name}: ${plain(v.doc)}${accepts(SETTINGS[v.name])}`))
}

/**
 * `serve`'s flags set their variables in `env` before loadServiceConfig() reads it, so a flag and
 * its variable share one parser, its messages and its default.
 */
export function setEnvFromServeFlags(opts: Record<string, unknown>, env: Record<string, string | undefined> = process.env): void {
  for (const v of ENV_VARS) {
    const value = opts[new Option(`${v.flag} <value>`).attributeName()]
    if (typeof value === 'string') env[v.name] = value
  }
}

/** The engine settings `read` has a flag for: engine key, declaration, commander's key for the flag. */
const READ_FLAGS = Object.values(SETTINGS as Record<string, Setting>).flatMap((s) =>
  s.read ? [{ key: s.path.replace(/^engine\./, ''), setting: s, read: s.read, attribute: new Option(s.read.flag).attributeName() }] : [],
)

/** `--workers <n>`, `--no-cls`, `--dpi <n>`, … on `read`: checked as the engine checks them, a usage error otherwise. */
export function addReadFlags(cmd: Command): void {
  for (const { setting, read } of READ_FLAGS) {
    const option = new Option(read.flag, read.help)
    if (!option.negate) {
      option.description += accepts(setting)
      option.argParser((text: string) => {
        const r = readSettingText(setting, text)
        if (!r.ok) throw new InvalidArgumentError(r.message)
        return r.value
      })
    }
    cmd.addOption(option)
  }
}

/** The engine settings `read`'s flags chose (commander's parsed options → createOcr's settings). */
export function engineSettingsFromReadFlags(opts: Record<string, unknown>): EngineSettingsInput {
  const settings: Record<string, unknown> = {}
  for (const { key, attribute } of READ_FLAGS) if (opts[attribute] !== undefined) settings[key] = opts[attribute]
  return settings as EngineSettingsInput
}
