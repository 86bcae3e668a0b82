/** The `ocrserve` command line: one file per subcommand, each exporting register(program). */
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { register as registerRead } from './read.js'

const SUBCOMMANDS: { file: string; name: string }[] = [
  { file: './serve.js', name: 'serve' },
  { file: './model-server.js', name: 'model-server' },
  { file: './models-repo.js', name: 'models-repo' },
]

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('ocrserve')
    .description('OCR service and tools: PP-OCR detection, orientation and recognition on ONNX Runtime')
    .version(version())
    .showHelpAfterError()
  registerRead(program)
  for (const sub of SUBCOMMANDS) {
    const mod = (await import(sub.file)) as { register(p: Command): void }
    mod.register(program)
  }
  await program.parseAsync(argv)
}
