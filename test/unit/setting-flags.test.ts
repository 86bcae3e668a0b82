/**
 * The CLI flags made from the settings' declarations: `serve` has one per variable and passes it on
 * as that variable; `read` has one per engine setting it declares, read as the variable is read.
 */
import { Command, CommanderError } from 'commander'
import { describe, expect, it } from 'vitest'
import { addReadFlags, addServeFlags, engineSettingsFromReadFlags, setEnvFromServeFlags } from '../../src/cli/setting-flags.js'
import { register as registerRead } from '../../src/cli/read.js'
import { register as registerServe } from '../../src/cli/serve.js'
import { ENV_VARS, loadServiceConfig, SETTINGS, type EngineSettings, type EnvVarName } from '../../src/config.js'
import { acceptedText, type Setting } from '../../src/setting-text.js'

/** The engine settings `read` takes, as the brief for each run: flag, engine key, variable. */
const READ = (Object.entries(SETTINGS) as Array<[EnvVarName, Setting]>).flatMap(([name, s]) =>
  s.read ? [{ name, setting: s, flag: s.read.flag.split(' ')[0]!, key: s.path.replace(/^engine\./, '') as keyof EngineSettings }] : [],
)

/** Parses argv with only the given flags; commander errors come back as CommanderError. */
function parse(add: (cmd: Command) => void, argv: string[]): Record<string, unknown> {
  const cmd = new Command().exitOverride().configureOutput({ writeErr: () => {} })
  add(cmd)
  cmd.parse(argv, { from: 'user' })
  return cmd.opts()
}

function program(): Command {
  const p = new Command('ocrserve')
  registerServe(p)
  registerRead(p)
  return p
}

const help = (name: string): string => program().commands.find((c) => c.name() === name)!.helpInformation({ error: false })

describe('ocrserve serve', () => {
  it('has a flag for every variable, and --help names each variable and its default', () => {
    const text = help('serve')
    for (const v of ENV_VARS) {
      expect(text).toContain(`${v.flag} <value>`)
      expect(text).toContain(`${v.name}:`)
    }
    expect(text).toMatch(/--pdf-dpi <value>\s+OCR_PDF_DPI: [^]*?\[an\s+integer\s+from\s+36\s+to\s+1200;\s+default\s+200\]/)
  })

  it.each(ENV_VARS.map((v) => [v.flag, v.name] as const))('%s sets %s', (flag, name) => {
    const env: Record<string, string | undefined> = {}
    setEnvFromServeFlags(parse(addServeFlags, [flag, 'some value']), env)
    expect(env).toEqual({ [name]: 'some value' })
  })

  it('flags left out leave the environment alone', () => {
    const env: Record<string, string | undefined> = { OCR_MAX_QUEUE: '3' }
    setEnvFromServeFlags(parse(addServeFlags, ['--port', '1']), env)
    expect(env).toEqual({ OCR_MAX_QUEUE: '3', PORT: '1' })
  })
})

describe('ocrserve read', () => {
  it('declares the engine flags it always had', () => {
    expect(READ.map((r) => r.flag)).toEqual(
      expect.arrayContaining(['--workers', '--threads-per-worker', '--no-cls', '--no-auto-rotate', '--max-pixels', '--max-pages', '--det-limit-side-len', '--dpi', '--pdf-text']),
    )
  })

  it('has every declared engine flag, with its help, in --help', () => {
    const text = help('read')
    for (const r of READ) {
      expect(text).toContain(r.setting.read!.flag)
      expect(text.replace(/\s+/g, ' ')).toContain(r.setting.read!.help)
    }
  })

  it('no flags: the engine defaults, classifier and auto-rotation on', () => {
    expect(engineSettingsFromReadFlags(parse(addReadFlags, []))).toEqual({ useCls: true, autoRotate: true, idleAssist: true, restoreSpaces: true, asciiPunctuation: true, modelRewrite: true })
  })

  /** A valid text for each value flag: the variable's own example where it is an engine one. */
  const EXAMPLES: Record<string, string> = {
    '--models': 'en=/models/en,builtin',
    '--device': 'cuda',
    '--workers': '3',
    '--threads-per-worker': 'auto',
    '--max-pixels': '123456',
    '--max-pages': '7',
    '--dpi': '300',
    '--pdf-text': 'embedded',
    '--det-limit-side-len': '1280',
    '--rec-batch-size': '6',
    '--rec-batch-max-pad': '0.5',
    '--drop-score': '0.7',
  }

  it.each(READ.map((r) => [r.flag, r] as const))('%s lands on the engine setting its variable sets, with the same value', (flag, r) => {
    if (flag.startsWith('--no-')) {
      expect(engineSettingsFromReadFlags(parse(addReadFlags, [flag]))[r.key]).toBe(false)
      expect(loadServiceConfig({ [r.name]: 'false' }).engine[r.key]).toBe(false)
      return
    }
    const text = EXAMPLES[flag]
    expect(text, `an example for ${flag}`).toBeDefined()
    const settings = engineSettingsFromReadFlags(parse(addReadFlags, [flag, text!]))
    expect(settings[r.key]).toEqual(loadServiceConfig({ [r.name]: text }).engine[r.key])
  })

  it.each([
    ['--dpi', '20'],
    ['--workers', '0'],
    ['--pdf-text', 'never'],
    ['--max-pages', '10001'],
    ['--drop-score', 'high'],
  ])('%s %s → a usage error naming the flag and what it accepts', (flag, text) => {
    const r = READ.find((x) => x.flag === flag)!
    let error: unknown
    try {
      parse(addReadFlags, [flag, text])
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(CommanderError)
    expect((error as CommanderError).message).toContain(`${flag} `)
    expect((error as CommanderError).message).toContain(`'${text}'`)
    expect((error as CommanderError).message).toContain(`must be ${acceptedText(r.setting)}`)
  })
})
