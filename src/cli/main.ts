/**
 * The `ocrserve` command line: one file per subcommand, each exporting register(program). A
 * subcommand imports what it runs (the HTTP server, the engine, the model server) when it runs,
 * so `ocrserve read` does not load fastify nor `ocrserve serve` the model server.
 */
import { Command, CommanderError } from 'commander'
import { VERSION } from '../version.js'
import { EXIT_USAGE } from './exit-codes.js'
import { register as registerModelServer } from './model-server.js'
import { register as registerModels } from './models.js'
import { register as registerModelsRepo } from './models-repo.js'
import { register as registerRead } from './read.js'
import { register as registerServe } from './serve.js'

export async function main(argv: string[]): Promise<void> {
  const program = new Command('ocrserve')
    .description('OCR service and tools: PP-OCR detection, orientation and recognition on ONNX Runtime')
    .version(VERSION)
    .showHelpAfterError()
    // commander exits 1 on a usage error; ours is 2 (subcommands inherit this when added)
    .exitOverride()
  for (const register of [registerServe, registerRead, registerModelServer, registerModelsRepo, registerModels]) register(program)
  try {
    await program.parseAsync(argv)
  } catch (err) {
    // commander has written the message (and the help); --help and --version end here with 0
    if (!(err instanceof CommanderError)) throw err
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE
  }
}
