/** The `ocrserve` command line: one file per subcommand, each exporting register(program). */
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { register as registerModelServer } from './model-server.js'
import { register as registerModelsRepo } from './models-repo.js'
import { register as registerRead } from './read.js'
import { register as registerServe } from './serve.js'

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('ocrserve')
    .description('OCR service and tools: PP-OCR detection, orientation and recognition on ONNX Runtime')
    .version(version())
    .showHelpAfterError()
  for (const register of [registerServe, registerRead, registerModelServer, registerModelsRepo]) register(program)
  await program.parseAsync(argv)
}
