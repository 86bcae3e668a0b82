/**
 * `ocrserve models check DIR`: what a model pack holds (per role: model name, file, input shape,
 * normalisation, dictionary or labels; the settings it sets) and everything wrong with it, the
 * same messages a start-up with the pack refuses with. Exit 0 when it is usable, 2 when not.
 */
import { basename, relative, resolve } from 'node:path'
import type { Command } from 'commander'
import { formatProblem, loadPack } from '../packs/load.js'
import { packRoles, type PackSpec } from '../packs/spec.js'
import { EXIT_USAGE } from './exit-codes.js'

const shape = (dims: ReadonlyArray<number | null>): string => `[${dims.map((d) => d ?? '?').join(', ')}]`

/** The pack, role by role, as `models check` prints it. */
export function describePack(pack: PackSpec): string {
  const dir = pack.dir ?? ''
  const lines = [`pack ${pack.name}${dir ? ` (${dir})` : ''}`]
  for (const role of packRoles(pack)) {
    const spec = pack[role]!
    const n = spec.norm
    const what: string[] = [`input ${shape(spec.inputShape)}`, `${n.order}, mean ${n.mean.join('/')}, std ${n.std.join('/')}, ${n.divide ? `divided by ${+(1 / n.scale).toFixed(4)}` : `scale ${+n.scale.toFixed(8)}`}`]
    if (role === 'rec') {
      const rec = pack.rec
      what.push(`height ${rec.height}${rec.width ? `, width ${rec.width}` : ''}`, `${rec.charset.length - 1 - (rec.useSpaceChar ? 1 : 0)} characters${rec.useSpaceChar ? ' + space' : ''} (${rec.charset.length} classes with the blank)`)
    }
    if (role === 'cls') what.push(`${pack.cls!.resize === 'pad' ? 'padded' : 'stretched'} to ${pack.cls!.width}×${pack.cls!.height}`, `labels ${pack.cls!.angles.join(', ')}`)
    if (role === 'doc_ori') what.push(`short side ${pack.doc_ori!.resizeShort}, centre crop ${pack.doc_ori!.crop}`, `labels ${pack.doc_ori!.angles.join(', ')}`)
    const file = dir ? relative(dir, spec.onnx) : spec.onnx
    lines.push(`  ${role.padEnd(7)} ${spec.modelName || '(unnamed)'}  ${file || '(no ONNX file)'}`, `          ${what.join('; ')}`)
  }
  const settings = Object.entries(pack.settings)
  if (settings.length > 0) lines.push(`  settings ${settings.map(([k, v]) => `${k}=${v}`).join(', ')}`)
  return lines.join('\n') + '\n'
}

export function register(program: Command): void {
  const models = program.command('models').description('model packs (docs/MODELS.md)')
  models
    .command('check')
    .description('print what a model pack holds and everything wrong with it; exit 0 when it is usable, 2 when not')
    .argument('<dir>', 'the pack folder (det/, rec/, optional cls/ and doc_ori/, or a pack.yml)')
    .option('--name <name>', 'the name the pack would have in OCR_MODELS (default: the folder name)')
    .action(async (dir: string, flags: { name?: string }) => {
      const path = resolve(dir)
      const { spec, problems } = await loadPack(flags.name ?? basename(path), path, { onnx: 'required' })
      if (spec) process.stdout.write(describePack(spec))
      for (const p of problems) process.stderr.write(formatProblem(p) + '\n')
      if (problems.length > 0) process.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'}: the pack cannot be used\n`)
      else process.stdout.write('ok: the pack can be used\n')
      process.exitCode = problems.length > 0 ? EXIT_USAGE : 0
    })
}
