/** The `ocrserve` command line: one file per subcommand, each exporting register(program). */
import { Command } from 'commander'
import { VERSION } from '../version.js'
import { register as registerModelServer } from './model-server.js'
import { register as registerModelsRepo } from './models-repo.js'
import { register as registerRead } from './read.js'
import { register as registerServe } from './serve.js'

export async function main(argv: string[]): Promise<void> {
  const program = new Command('ocrserve')
    .description('OCR service and tools: PP-OCR detection, orientation and recognition on ONNX Runtime')
    .version(VERSION)
    .showHelpAfterError()
  for (const register of [registerServe, registerRead, registerModelServer, registerModelsRepo]) register(program)
  await program.parseAsync(argv)
}
