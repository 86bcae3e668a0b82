/**
 * Loading a pack: its folders (PaddleX layout: `det/`, `rec/`, optional `cls/` and `doc_ori/`, each
 * with inference.onnx + inference.yml), its manifest (pack.yml: roles elsewhere, PaddleOCR 2.x
 * models, settings), and each ONNX graph's inputs and outputs checked against what the
 * configuration says. Every problem is collected (pack, file, what is wrong) rather than the first
 * one thrown, so `ocrserve models check` and a refused start-up list them all.
 */
import { existsSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { OcrError } from '../errors.js'
import { fieldsOf, GRAPH_INPUT, GRAPH_OUTPUT, ONNX_DTYPE, onnxSchema, splitModel, type OnnxValueInfo } from '../models/onnx/onnx-proto.js'
import { readManifestRole, ManifestSchema, MANIFEST_FILE, zodProblems, type LegacyRole, type Manifest, type ManifestRole } from './manifest.js'
import { parseYaml, readInferenceConfig, type RoleDraft, type Say } from './paddle-config.js'
import {
  ctcCharset,
  PACK_ROLES,
  readDictionary,
  type ChannelOrder,
  type ClsSpec,
  type DetSpec,
  type DocOriSpec,
  type Normalisation,
  type PackRole,
  type PackSettings,
  type PackSpec,
  type RecSpec,
  type RoleSpec,
} from './spec.js'

export interface PackProblem {
  pack: string
  /** The file (or folder) at fault. */
  file: string
  message: string
}

/** One line per problem: `pack "latin": /models/latin/rec/inference.yml: …`. */
export function formatProblem(p: PackProblem): string {
  return `pack "${p.pack}": ${p.file}: ${p.message}`
}

export interface LoadOptions {
  /**
   * Whether each role's ONNX file must be there (single mode) or may be absent (remote mode: the
   * model server has the models; the web tier needs the configuration). A file that is there is
   * always checked.
   */
  onnx: 'required' | 'optional'
}

export interface LoadedPack {
  spec: PackSpec | null
  problems: PackProblem[]
}

/** The file names of the PaddleX layout. */
export const ONNX_FILE = 'inference.onnx'
export const CONFIG_FILE = 'inference.yml'

/** PaddleOCR's recogniser and 0/180 classifier normalisation: (x / 255 − 0.5) / 0.5. */
const HALF: Omit<Normalisation, 'order'> = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: 1 / 255, divide: true }
/** PaddleOCR 2.x's detector normalisation (ImageNet mean and std). */
const IMAGENET: Omit<Normalisation, 'order'> = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 1 / 255 }
/** How PaddleOCR 2.x models (the builtin pack's among them) are fed: BGR, these normalisations. */
export const LEGACY_NORMS: Readonly<Record<'det' | 'line', Normalisation>> = { det: { ...IMAGENET, order: 'BGR' }, line: { ...HALF, order: 'BGR' } }

/** PaddleOCR 2.x defaults (tools/infer/utility.py) for models the manifest names. */
const LEGACY_REC_SHAPE: [number, number, number] = [3, 48, 320]
const LEGACY_CLS_SHAPE: [number, number, number] = [3, 48, 192]
const LEGACY_CLS_LABELS = ['0', '180']

/** Where a role's model and its processing come from. */
type RoleSource = { kind: 'folder'; onnx: string; config: string } | { kind: 'legacy'; onnx: string; config: string; options: LegacyRole<PackRole> }

/** A pack folder (`dir`), named `name`. */
export async function loadPack(name: string, dir: string, options: LoadOptions): Promise<LoadedPack> {
  const problems: PackProblem[] = []
  const sayAbout = (file: string): Say => (message) => problems.push({ pack: name, file, message })
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    sayAbout(dir)('no such folder (a pack is a folder with det/ and rec/, see docs/MODELS.md)')
    return { spec: null, problems }
  }
  const manifestPath = join(dir, MANIFEST_FILE)
  let manifest: Manifest = {}
  if (existsSync(manifestPath)) {
    const say = sayAbout(manifestPath)
    const doc = await readYaml(manifestPath, say)
    if (doc !== undefined) {
      const r = ManifestSchema.safeParse(doc ?? {})
      if (r.success) manifest = r.data
      else for (const m of zodProblems(r.error)) say(m)
    }
  }
  return loadFromManifest(name, dir, manifestPath, manifest, options, problems)
}

/**
 * A pack described by a manifest object whose paths are relative to `base` (the builtin pack is
 * one: its models are the package's files). Folders `base/<role>/` count for roles the manifest
 * does not name.
 */
export async function loadFromManifest(
  name: string,
  base: string,
  manifestPath: string,
  manifest: Manifest,
  options: LoadOptions,
  problems: PackProblem[] = [],
  dir: string | null = base,
): Promise<LoadedPack> {
  const sayAbout = (file: string): Say => (message) => problems.push({ pack: name, file, message })
  const sources: Partial<Record<PackRole, RoleSource>> = {}
  for (const role of PACK_ROLES) {
    const value = manifest[role]
    if (value !== undefined) {
      const { entry, problems: found } = readManifestRole(role, value)
      for (const m of found) sayAbout(manifestPath)(m)
      if (entry) sources[role] = sourceOf(base, manifestPath, entry)
    } else {
      const folder = join(base, role)
      if (existsSync(folder) && statSync(folder).isDirectory()) sources[role] = { kind: 'folder', onnx: join(folder, ONNX_FILE), config: join(folder, CONFIG_FILE) }
    }
  }
  for (const role of ['det', 'rec'] as const) {
    if (!sources[role]) sayAbout(join(base, role))(`missing: a pack needs ${role}/ (${ONNX_FILE} + ${CONFIG_FILE}) or a "${role}" entry in ${MANIFEST_FILE}`)
  }
  const built: Partial<{ det: DetSpec; rec: RecSpec; cls: ClsSpec; doc_ori: DocOriSpec }> = {}
  const settings: PackSettings = {}
  for (const role of PACK_ROLES) {
    const source = sources[role]
    if (!source) continue
    const draft = await readDraft(role, source, sayAbout(source.config))
    if (!draft) continue
    Object.assign(settings, draft.settings)
    const io = await readIo(source.onnx, options, sayAbout(source.onnx))
    const spec = ROLE_BUILDERS[role](draft, source, io, sayAbout(source.config), sayAbout(source.onnx))
    if (spec) (built as Record<PackRole, RoleSpec>)[role] = spec
  }
  // the manifest's settings are the last word on the pack's reads
  Object.assign(settings, manifest.settings ?? {})
  if (problems.length > 0 || !built.det || !built.rec) return { spec: null, problems }
  return { spec: { name, dir, det: built.det, rec: built.rec, cls: built.cls ?? null, doc_ori: built.doc_ori ?? null, settings }, problems }
}

function sourceOf(base: string, manifestPath: string, entry: ManifestRole): RoleSource {
  if (entry.kind === 'folder') {
    const folder = resolve(base, entry.dir)
    return { kind: 'folder', onnx: join(folder, ONNX_FILE), config: join(folder, CONFIG_FILE) }
  }
  return { kind: 'legacy', onnx: resolve(base, entry.options.model), config: manifestPath, options: { ...entry.options, ...dictionaryPath(base, entry.options) } }
}

/** A 2.x recogniser's dictionary path, resolved against the pack folder. */
function dictionaryPath(base: string, options: LegacyRole<PackRole>): { rec_char_dict_path?: string } {
  return 'rec_char_dict_path' in options ? { rec_char_dict_path: resolve(base, options.rec_char_dict_path) } : {}
}

async function readYaml(path: string, say: Say): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    say(`cannot read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing file' : (err as Error).message}`)
    return undefined
  }
  try {
    return parseYaml(text)
  } catch (err) {
    say(`unreadable YAML: ${(err as Error).message.split('\n')[0]}`)
    return undefined
  }
}

/** A role's configuration as a draft: its inference.yml, or the manifest's 2.x options. */
async function readDraft(role: PackRole, source: RoleSource, say: Say): Promise<RoleDraft | null> {
  if (source.kind === 'folder') {
    const doc = await readYaml(source.config, say)
    return doc === undefined ? null : readInferenceConfig(role, doc, say)
  }
  return legacyDraft(role, source.options, say)
}

/** PaddleOCR 2.x: BGR images, fixed normalisations, the flags' defaults. */
async function legacyDraft(role: PackRole, o: LegacyRole<PackRole>, say: Say): Promise<RoleDraft> {
  const d: RoleDraft = { modelName: '', order: 'BGR', settings: {} }
  if (role === 'det') {
    const det = o as LegacyRole<'det'>
    d.norm = { ...IMAGENET, mean: [...IMAGENET.mean], std: [...IMAGENET.std] }
    const map: Array<[keyof LegacyRole<'det'>, keyof PackSettings]> = [
      ['det_limit_side_len', 'detLimitSideLen'],
      ['det_limit_type', 'detLimitType'],
      ['det_db_thresh', 'detThresh'],
      ['det_db_box_thresh', 'boxThresh'],
      ['det_db_unclip_ratio', 'unclipRatio'],
      ['max_candidates', 'maxCandidates'],
    ]
    for (const [from, to] of map) if (det[from] !== undefined) (d.settings as Record<string, unknown>)[to] = det[from]
  } else if (role === 'rec') {
    const rec = o as LegacyRole<'rec'>
    d.recShape = rec.rec_image_shape ?? LEGACY_REC_SHAPE
    d.useSpaceChar = rec.use_space_char ?? true
    try {
      d.dictionary = readDictionary(await readFile(rec.rec_char_dict_path, 'utf8'))
    } catch (err) {
      say(`rec.rec_char_dict_path: cannot read ${rec.rec_char_dict_path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing file' : (err as Error).message}`)
    }
  } else if (role === 'cls') {
    const cls = o as LegacyRole<'cls'>
    const [, height, width] = cls.cls_image_shape ?? LEGACY_CLS_SHAPE
    d.lineInput = { height, width, resize: 'pad' }
    d.labels = cls.label_list ?? LEGACY_CLS_LABELS
    d.norm = { ...HALF, mean: [...HALF.mean], std: [...HALF.std] }
    if (cls.cls_thresh !== undefined) d.settings.clsThresh = cls.cls_thresh
  }
  return d
}

// ---- the ONNX graph

export interface TensorInfo {
  name: string
  /** TensorProto.DataType (1 = float32). */
  type: number
  /** null: a dynamic dimension. */
  dims: Array<number | null>
}

export interface GraphIo {
  inputs: TensorInfo[]
  outputs: TensorInfo[]
}

/** The graph's inputs and outputs; null when the file is absent and may be (remote mode), or unreadable. */
async function readIo(path: string, options: LoadOptions, say: Say): Promise<GraphIo | null> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
    if (!(missing && options.onnx === 'optional')) say(missing ? 'missing file' : `cannot read: ${(err as Error).message}`)
    return null
  }
  try {
    return readGraphIo(bytes)
  } catch (err) {
    say(`not an ONNX model: ${(err as Error).message}`)
    return null
  }
}

/**
 * The graph's inputs and outputs, read without decoding its nodes or weights (the graph's fields
 * are walked; only the value infos are decoded): a few ms for a 10 MB recogniser.
 */
export function readGraphIo(bytes: Uint8Array): GraphIo {
  const { graphBytes } = splitModel(bytes)
  const V = onnxSchema().lookupType('onnx.ValueInfoProto')
  const inputs: TensorInfo[] = []
  const outputs: TensorInfo[] = []
  for (const f of fieldsOf(graphBytes)) {
    if (f.no !== GRAPH_INPUT && f.no !== GRAPH_OUTPUT) continue
    const v = V.toObject(V.decode(f.value!), { longs: Number }) as OnnxValueInfo
    const t: TensorInfo = {
      name: v.name,
      type: v.type?.tensor_type?.elem_type ?? 0,
      dims: (v.type?.tensor_type?.shape?.dim ?? []).map((d) => (typeof d.dim_value === 'number' && d.dim_value > 0 ? d.dim_value : null)),
    }
    ;(f.no === GRAPH_INPUT ? inputs : outputs).push(t)
  }
  if (inputs.length === 0 && outputs.length === 0) throw new Error('no graph inputs or outputs')
  return { inputs, outputs }
}

const shapeText = (dims: ReadonlyArray<number | null>): string => `[${dims.map((d) => d ?? '?').join(', ')}]`

/**
 * The one image input [n, 3, H, W] float32: its dims, or null after saying what is wrong. `want`
 * gives the H and W the configuration fixes (a static graph dimension must agree).
 */
function imageInput(io: GraphIo, role: PackRole, want: { height?: number; width?: number }, say: Say): Array<number | null> | null {
  if (io.inputs.length !== 1) {
    const names = io.inputs.map((i) => i.name).join(', ')
    say(`has ${io.inputs.length} inputs (${names}); a ${role} model takes one image tensor [n, 3, H, W]` + (names.includes('pixels') ? ' (this is a models-repo model with uint8 inputs: point the pack at the original export)' : ''))
    return null
  }
  const x = io.inputs[0]!
  if (x.dims.length !== 4) {
    say(`input "${x.name}" has rank ${x.dims.length} ${shapeText(x.dims)}; a ${role} model takes rank 4 [n, 3, H, W]`)
    return null
  }
  if (x.type !== ONNX_DTYPE.FLOAT) say(`input "${x.name}" is not float32 (ONNX type ${x.type})`)
  if (x.dims[1] !== null && x.dims[1] !== 3) say(`input "${x.name}" has ${x.dims[1]} channels ${shapeText(x.dims)}; ocrserve feeds 3`)
  if (want.height !== undefined && x.dims[2] !== null && x.dims[2] !== want.height) say(`input "${x.name}" is ${shapeText(x.dims)} but the configuration resizes to height ${want.height}`)
  if (want.width !== undefined && x.dims[3] !== null && x.dims[3] !== want.width) say(`input "${x.name}" is ${shapeText(x.dims)} but the configuration resizes to width ${want.width}`)
  return x.dims
}

/** The first output's dims when it has `rank` (or one of the ranks), else null after saying so. */
function output(io: GraphIo, role: PackRole, ranks: number[], what: string, say: Say): Array<number | null> | null {
  const y = io.outputs[0]
  if (!y) {
    say('has no output')
    return null
  }
  if (!ranks.includes(y.dims.length)) {
    say(`output "${y.name}" has rank ${y.dims.length} ${shapeText(y.dims)}; a ${role} model gives ${what}`)
    return null
  }
  return y.dims
}

const UNKNOWN_SHAPE = [null, 3, null, null] as const

function normOf(draft: RoleDraft, order: ChannelOrder, fixed?: Omit<Normalisation, 'order'>): Normalisation | null {
  const n: Omit<Normalisation, 'order'> | undefined = fixed ?? draft.norm
  return n ? { mean: [...n.mean] as [number, number, number], std: [...n.std] as [number, number, number], scale: n.scale, ...(n.divide ? { divide: true } : {}), order } : null
}

/** PaddleX reads images as RGB unless a DecodeImage says otherwise; PaddleOCR 2.x as BGR. */
const orderOf = (draft: RoleDraft): ChannelOrder => draft.order ?? 'RGB'

/** '0', '180', '90_degree' → the angle; null for anything else. */
function angleOf(label: string): number | null {
  const m = /^(0|90|180|270)(?:_degree)?$/.exec(label.trim())
  return m ? Number(m[1]) : null
}

function angles<A extends number>(labels: readonly string[], allowed: readonly A[], say: Say): A[] | null {
  const out: A[] = []
  for (const l of labels) {
    const a = angleOf(l)
    if (a === null || !allowed.includes(a as A)) {
      say(`label ${JSON.stringify(l)} is not one of the angles ${allowed.join(', ')} (as "180" or "180_degree")`)
      return null
    }
    out.push(a as A)
  }
  return out
}

function classCount(dims: ReadonlyArray<number | null>, expected: number, what: string, say: Say, name: string): void {
  const classes = dims[dims.length - 1]
  if (classes !== null && classes !== undefined && classes !== expected) say(`output "${name}" has ${classes} classes but ${what}`)
}

type Builder = (draft: RoleDraft, source: RoleSource, io: GraphIo | null, sayConfig: Say, sayOnnx: Say) => RoleSpec | null

function base(draft: RoleDraft, source: RoleSource, norm: Normalisation, inputShape: ReadonlyArray<number | null>): RoleSpec {
  // a 2.x model is named after its file, as PaddleOCR published them (ch_PP-OCRv4_rec_infer.onnx → ch_PP-OCRv4_rec)
  const modelName = source.kind === 'legacy' ? basename(source.onnx).replace(/\.onnx$/i, '').replace(/_infer$/, '') : draft.modelName
  return { modelName, onnx: source.onnx, config: source.config, inputShape, norm }
}

const buildDet: Builder = (draft, source, io, sayConfig, sayOnnx) => {
  const norm = normOf(draft, orderOf(draft))
  if (!norm) sayConfig('needs a NormalizeImage transform (PreProcess.transform_ops)')
  const dims = io ? imageInput(io, 'det', {}, sayOnnx) : UNKNOWN_SHAPE
  if (io) output(io, 'det', [3, 4], 'a probability map [n, 1, H, W]', sayOnnx)
  if (io && dims && (dims[2] !== null || dims[3] !== null)) sayOnnx(`input is ${shapeText(dims)}: a detector with a fixed input size is not supported (ocrserve keeps the page's aspect ratio)`)
  return norm && dims ? base(draft, source, norm, dims) : null
}

const buildRec: Builder = (draft, source, io, sayConfig, sayOnnx) => {
  if (!draft.recShape) sayConfig('needs a RecResizeImg transform with image_shape [3, H, W]')
  if (!draft.dictionary) sayConfig(source.kind === 'folder' ? 'needs PostProcess.character_dict (the dictionary, as PaddleX exports write it)' : 'needs rec_char_dict_path')
  if (!draft.recShape || !draft.dictionary) return null
  const height = draft.recShape[1]
  const useSpaceChar = draft.useSpaceChar ?? true
  const charset = ctcCharset(draft.dictionary, useSpaceChar)
  const dims = io ? imageInput(io, 'rec', { height }, sayOnnx) : UNKNOWN_SHAPE
  const out = io ? output(io, 'rec', [3], 'per-step class scores [n, steps, classes]', sayOnnx) : null
  if (out) {
    const n = draft.dictionary.length
    const hint = useSpaceChar ? `blank + ${n} characters + space = ${n + 2}` : `blank + ${n} characters = ${n + 1} (use_space_char false)`
    classCount(out, charset.length, `the dictionary gives ${hint}`, sayConfig, io!.outputs[0]!.name)
  }
  if (!dims) return null
  return { ...base(draft, source, normOf(draft, orderOf(draft), HALF)!, dims), height, width: dims[3] ?? null, charset, useSpaceChar } satisfies RecSpec
}

const buildCls: Builder = (draft, source, io, sayConfig, sayOnnx) => {
  const norm = normOf(draft, orderOf(draft))
  if (!norm) sayConfig('needs a NormalizeImage transform')
  if (!draft.lineInput) sayConfig(draft.resizeShort ? 'a line classifier needs ResizeImage size: [W, H], not resize_short' : 'needs a ResizeImage transform with size: [W, H]')
  if (draft.crop !== undefined) sayConfig('CropImage is for page classifiers (doc_ori), not line classifiers')
  const labels = draft.labels ? angles(draft.labels, [0, 180] as const, sayConfig) : null
  if (!draft.labels) sayConfig('needs PostProcess Topk label_list')
  if (!norm || !draft.lineInput || !labels) return null
  const { height, width, resize } = draft.lineInput
  const dims = io ? imageInput(io, 'cls', { height, width }, sayOnnx) : UNKNOWN_SHAPE
  const out = io ? output(io, 'cls', [2], 'class scores [n, classes]', sayOnnx) : null
  if (out) classCount(out, labels.length, `label_list has ${labels.length} labels`, sayConfig, io!.outputs[0]!.name)
  return dims ? ({ ...base(draft, source, norm, dims), height, width, resize, angles: labels } satisfies ClsSpec) : null
}

const buildDocOri: Builder = (draft, source, io, sayConfig, sayOnnx) => {
  const norm = normOf(draft, orderOf(draft))
  if (!norm) sayConfig('needs a NormalizeImage transform')
  if (!draft.resizeShort) sayConfig('needs a ResizeImage transform with resize_short')
  if (draft.crop === undefined) sayConfig('needs a CropImage transform (the page classifier reads a square centre crop)')
  const labels = draft.labels ? angles(draft.labels, [0, 90, 180, 270] as const, sayConfig) : null
  if (!draft.labels) sayConfig('needs PostProcess Topk label_list')
  if (!norm || !draft.resizeShort || draft.crop === undefined || !labels) return null
  const dims = io ? imageInput(io, 'doc_ori', { height: draft.crop, width: draft.crop }, sayOnnx) : UNKNOWN_SHAPE
  const out = io ? output(io, 'doc_ori', [2], 'class scores [n, classes]', sayOnnx) : null
  if (out) classCount(out, labels.length, `label_list has ${labels.length} labels`, sayConfig, io!.outputs[0]!.name)
  return dims ? ({ ...base(draft, source, norm, dims), resizeShort: draft.resizeShort, crop: draft.crop, angles: labels } satisfies DocOriSpec) : null
}

const ROLE_BUILDERS: Record<PackRole, Builder> = { det: buildDet, rec: buildRec, cls: buildCls, doc_ori: buildDocOri }

/** Loads every pack; INVALID_CONFIG listing every problem (one line each) when any has one. */
export async function loadPacks(entries: ReadonlyArray<{ name: string; dir: string }>, options: LoadOptions): Promise<PackSpec[]> {
  const loaded = await Promise.all(entries.map((e) => loadPack(e.name, e.dir, options)))
  const problems = loaded.flatMap((l) => l.problems)
  if (problems.length > 0) throw new OcrError('INVALID_CONFIG', `the model packs have problems:\n${problems.map(formatProblem).join('\n')}`)
  return loaded.map((l) => l.spec!)
}
