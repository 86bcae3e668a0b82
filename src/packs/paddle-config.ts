/**
 * A PaddleX / PaddleOCR 3.x `inference.yml` read into what ocrserve needs of one role. The file
 * is the model's export: `Global.model_name`, `PreProcess.transform_ops` (the evaluation transforms
 * of its training config: DecodeImage, DetResizeForTest, NormalizeImage, RecResizeImg, ResizeImage,
 * CropImage, ToCHWImage and the label encoders, which inference skips) and `PostProcess`
 * (DBPostProcess, CTCLabelDecode with the whole dictionary, Topk with the labels). Each transform
 * and post-process is a typed entry of a per-role table (as PaddleX's predictors register them);
 * a name or an argument that is not in the table, or a value ocrserve cannot honour, is a problem
 * that names it, never skipped.
 *
 * Defaults are PaddleX's: an image is read as RGB unless a DecodeImage says otherwise (its
 * predictors start from ReadImage(format="RGB"); the det and rec exports say BGR), and the
 * recogniser normalises as (x/255 − 0.5) / 0.5 whatever the file says (OCRReisizeNormImg).
 */
import { load } from 'js-yaml'
import type { ChannelOrder, PackRole, PackSettings } from './spec.js'

/** What a role's configuration says, before the ONNX graph is checked against it (./load.ts). */
export interface RoleDraft {
  modelName: string
  order?: ChannelOrder
  norm?: { mean: [number, number, number]; std: [number, number, number]; scale: number }
  settings: PackSettings
  /** rec: RecResizeImg image_shape [c, h, w]. */
  recShape?: [number, number, number]
  dictionary?: string[]
  useSpaceChar?: boolean
  /** cls: the line input size and how a crop is fitted to it. */
  lineInput?: { height: number; width: number; resize: 'pad' | 'stretch' }
  /** doc_ori: ResizeImage resize_short and CropImage size. */
  resizeShort?: number
  crop?: number
  labels?: string[]
}

/** Collects the problems of one file. */
export type Say = (message: string) => void

/**
 * Reads YAML text (js-yaml: a recogniser's export holds its whole dictionary, 6 to 18 thousand
 * entries, which it reads 10× faster than the \`yaml\` package). PyYAML, which writes the exports,
 * quotes every text a reader could take for a number or a boolean; an entry that still reads as
 * one is reported, not converted (./paddle-config.ts stringList). Duplicate keys are errors.
 */
export function parseYaml(text: string): unknown {
  return load(text)
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

// ---- argument readers: each returns the value or undefined after saying what is wrong

type Reader<T> = (value: unknown, name: string, say: Say) => T | undefined

const positiveInt: Reader<number> = (v, name, say) => {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v
  say(`${name} must be a positive integer, got ${JSON.stringify(v)}`)
  return undefined
}

const number: Reader<number> = (v, name, say) => {
  if (typeof v === 'number' && Number.isFinite(v)) return v
  say(`${name} must be a number, got ${JSON.stringify(v)}`)
  return undefined
}

const unit: Reader<number> = (v, name, say) => {
  const n = number(v, name, say)
  if (n === undefined || (n >= 0 && n <= 1)) return n
  say(`${name} must be from 0 to 1, got ${n}`)
  return undefined
}

/** NormalizeImage's scale: a number, or the text PaddleX evaluates (`1./255.`, `1/255`). */
const scale: Reader<number> = (v, name, say) => {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v
  const m = typeof v === 'string' ? /^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+\.)\s*(?:\/\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+\.)\s*)?$/.exec(v) : null
  const value = m ? Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2])) : NaN
  if (Number.isFinite(value) && value > 0) return value
  say(`${name} must be a positive number or a quotient such as 1./255., got ${JSON.stringify(v)}`)
  return undefined
}

const triple: Reader<[number, number, number]> = (v, name, say) => {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return v as [number, number, number]
  say(`${name} must be three numbers, got ${JSON.stringify(v)}`)
  return undefined
}

const positiveTriple: Reader<[number, number, number]> = (v, name, say) => {
  const t = triple(v, name, say)
  if (!t || t.every((x) => x > 0)) return t
  say(`${name} must be three positive numbers, got ${JSON.stringify(v)}`)
  return undefined
}

const intList = (length: number): Reader<number[]> => (v, name, say) => {
  if (Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)) return v as number[]
  say(`${name} must be ${length} positive integers, got ${JSON.stringify(v)}`)
  return undefined
}

/** A fixed value ocrserve implements; anything else cannot be honoured. */
const only = <T>(...allowed: T[]): Reader<T> => (v, name, say) => {
  if (allowed.includes(v as T)) return v as T
  say(`${name} ${JSON.stringify(v)} is not supported (ocrserve implements ${allowed.map((a) => JSON.stringify(a)).join(' or ')})`)
  return undefined
}

const stringList: Reader<string[]> = (v, name, say) => {
  if (!Array.isArray(v) || v.length === 0) {
    say(`${name} must be a non-empty list, got ${JSON.stringify(v)}`)
    return undefined
  }
  const bad = v.findIndex((x) => typeof x !== 'string')
  if (bad >= 0) {
    say(`${name}[${bad}] is ${JSON.stringify(v[bad])}, not text (quote it in the YAML)`)
    return undefined
  }
  return v as string[]
}

const bool: Reader<boolean> = (v, name, say) => {
  if (typeof v === 'boolean') return v
  say(`${name} must be true or false, got ${JSON.stringify(v)}`)
  return undefined
}

type Readers = Record<string, Reader<unknown>>
type ArgsOf<R extends Readers> = { [K in keyof R]?: R[K] extends Reader<infer T> ? T : never }

/** Reads `args` (an op's mapping; null or absent = no arguments) with `readers`; unknown keys are problems. */
export function readArgs<R extends Readers>(where: string, args: unknown, readers: R, say: Say): ArgsOf<R> {
  const out: Record<string, unknown> = {}
  if (args === null || args === undefined) return out as ArgsOf<R>
  if (!isObject(args)) {
    say(`${where} must be a mapping of arguments, got ${JSON.stringify(args)}`)
    return out as ArgsOf<R>
  }
  for (const [key, value] of Object.entries(args)) {
    const read = readers[key]
    if (!read) {
      say(`${where}.${key} is not an argument ocrserve knows (it knows ${Object.keys(readers).join(', ') || 'none'})`)
      continue
    }
    const v = read(value, `${where}.${key}`, say)
    if (v !== undefined) out[key] = v
  }
  return out as ArgsOf<R>
}

// ---- the transforms, per role

type Op = (args: unknown, draft: RoleDraft, say: Say) => void

/** Training-time transforms (label encoders, key selection) that inference skips, as PaddleX does. */
const skipped: Op = () => {}

const decodeImage: Op = (args, d, say) => {
  const a = readArgs('DecodeImage', args, { img_mode: only<ChannelOrder>('BGR', 'RGB'), channel_first: only(false) }, say)
  if (a.img_mode) d.order = a.img_mode
}

const normalizeImage: Op = (args, d, say) => {
  const a = readArgs('NormalizeImage', args, { mean: triple, std: positiveTriple, scale, order: only('hwc', 'chw', ''), channel_num: only(3) }, say)
  // PaddleX's NormalizeImage defaults
  d.norm = { mean: a.mean ?? [0.485, 0.456, 0.406], std: a.std ?? [0.229, 0.224, 0.225], scale: a.scale ?? 1 / 255 }
}

const toChw: Op = (args, _d, say) => {
  readArgs('ToCHWImage', args, {}, say)
}

/**
 * DetResizeForTest as PaddleX builds it: `limit_side_len` / `limit_type`, or `resize_long` (PaddleX
 * passes it on as the limit side, limit type max); no arguments = the engine's settings.
 */
const detResize: Op = (args, d, say) => {
  const a = readArgs(
    'DetResizeForTest',
    args,
    {
      limit_side_len: positiveInt,
      limit_type: only<'max' | 'min'>('max', 'min'),
      resize_long: positiveInt,
      image_shape: (_v, name, s) => s(`${name}: a fixed detector input size is not supported (ocrserve keeps the page's aspect ratio: use limit_side_len / limit_type)`),
      keep_ratio: (_v, name, s) => s(`${name} is not supported (it belongs to image_shape)`),
    },
    say,
  )
  const side = a.limit_side_len ?? a.resize_long
  if (a.limit_side_len !== undefined && a.resize_long !== undefined) say('DetResizeForTest: give limit_side_len or resize_long, not both')
  if (side !== undefined) d.settings.detLimitSideLen = side
  if (a.limit_type) d.settings.detLimitType = a.limit_type
  else if (a.resize_long !== undefined) d.settings.detLimitType = 'max'
}

const recResize: Op = (args, d, say) => {
  const a = readArgs('RecResizeImg', args, { image_shape: intList(3), padding: only(true), infer_mode: bool, character_dict_path: () => undefined }, say)
  if (!a.image_shape) say('RecResizeImg needs image_shape: [3, H, W]')
  else d.recShape = a.image_shape as [number, number, number]
}

/** ResizeImage: `size: [w, h]` (the textline classifier) or `resize_short` (the page classifier). */
const resizeImage: Op = (args, d, say) => {
  const a = readArgs(
    'ResizeImage',
    args,
    { size: (v, name, s) => (typeof v === 'number' ? positiveInt(v, name, s) && [v, v] : intList(2)(v, name, s)), resize_short: positiveInt, interpolation: only('LINEAR'), backend: only('cv2') },
    say,
  )
  if ((a.size === undefined) === (a.resize_short === undefined)) say('ResizeImage needs one of size and resize_short')
  if (a.size) d.lineInput = { width: a.size[0]!, height: a.size[1]!, resize: 'stretch' }
  if (a.resize_short) d.resizeShort = a.resize_short
}

const cropImage: Op = (args, d, say) => {
  const a = readArgs('CropImage', args, { size: positiveInt }, say)
  d.crop = a.size ?? 224
}

/** The transforms each role's exports contain. */
const TRANSFORMS: Record<PackRole, Record<string, Op>> = {
  det: { DecodeImage: decodeImage, DetResizeForTest: detResize, NormalizeImage: normalizeImage, ToCHWImage: toChw, DetLabelEncode: skipped, KeepKeys: skipped },
  rec: { DecodeImage: decodeImage, RecResizeImg: recResize, MultiLabelEncode: skipped, CTCLabelEncode: skipped, RecLabelEncode: skipped, KeepKeys: skipped },
  cls: { DecodeImage: decodeImage, ResizeImage: resizeImage, NormalizeImage: normalizeImage, ToCHWImage: toChw, ClsLabelEncode: skipped, KeepKeys: skipped },
  doc_ori: { DecodeImage: decodeImage, ResizeImage: resizeImage, CropImage: cropImage, NormalizeImage: normalizeImage, ToCHWImage: toChw, KeepKeys: skipped },
}

// ---- the post-processing, per role

const dbPostProcess: Op = (args, d, say) => {
  const a = readArgs(
    'PostProcess',
    args,
    {
      name: only('DBPostProcess'),
      thresh: unit,
      box_thresh: unit,
      max_candidates: positiveInt,
      unclip_ratio: (v, name, s) => {
        const n = number(v, name, s)
        if (n === undefined || n > 0) return n
        s(`${name} must be > 0, got ${n}`)
        return undefined
      },
      use_dilation: only(false),
      score_mode: only('fast'),
      box_type: only('quad'),
    },
    say,
  )
  if (a.thresh !== undefined) d.settings.detThresh = a.thresh
  if (a.box_thresh !== undefined) d.settings.boxThresh = a.box_thresh
  if (a.max_candidates !== undefined) d.settings.maxCandidates = a.max_candidates
  if (a.unclip_ratio !== undefined) d.settings.unclipRatio = a.unclip_ratio
}

const ctcLabelDecode: Op = (args, d, say) => {
  const a = readArgs('PostProcess', args, { name: only('CTCLabelDecode'), character_dict: stringList, use_space_char: bool }, say)
  if (a.character_dict) d.dictionary = a.character_dict
  if (a.use_space_char !== undefined) d.useSpaceChar = a.use_space_char
}

const topk: Op = (args, d, say) => {
  if (!isObject(args) || Object.keys(args).length !== 1 || !('Topk' in args)) {
    say(`PostProcess must be {Topk: {topk, label_list}}, got ${Object.keys(isObject(args) ? args : {}).join(', ') || JSON.stringify(args)} (an unknown post-process)`)
    return
  }
  const a = readArgs('PostProcess.Topk', args.Topk, { topk: positiveInt, label_list: stringList }, say)
  if (a.label_list) d.labels = a.label_list
  else say('PostProcess.Topk needs label_list')
}

/** PostProcess by its `name` (det, rec) or its one key (Topk, for the classifiers). */
const POST_PROCESS: Record<PackRole, { names: string[]; read: Op }> = {
  det: { names: ['DBPostProcess'], read: dbPostProcess },
  rec: { names: ['CTCLabelDecode'], read: ctcLabelDecode },
  cls: { names: ['Topk'], read: topk },
  doc_ori: { names: ['Topk'], read: topk },
}

/** Top-level sections: what ocrserve reads, and `Hpi` (Paddle Inference / TensorRT shape hints, which ONNX Runtime does not use). */
const SECTIONS = new Set(['Global', 'PreProcess', 'PostProcess', 'Hpi'])

/** One role's inference.yml (parsed) read into a draft; problems go to `say`. */
export function readInferenceConfig(role: PackRole, doc: unknown, say: Say): RoleDraft {
  const d: RoleDraft = { modelName: '', settings: {} }
  if (!isObject(doc)) {
    say('is not a YAML mapping (Global, PreProcess, PostProcess)')
    return d
  }
  for (const k of Object.keys(doc)) if (!SECTIONS.has(k)) say(`has a section "${k}" ocrserve does not know (it reads Global, PreProcess, PostProcess)`)
  const global = doc.Global
  if (isObject(global) && global.model_name !== undefined) {
    if (typeof global.model_name === 'string') d.modelName = global.model_name
    else say(`Global.model_name must be text, got ${JSON.stringify(global.model_name)}`)
  }
  const pre = doc.PreProcess
  const ops = isObject(pre) ? pre.transform_ops : undefined
  if (!Array.isArray(ops)) say('needs PreProcess.transform_ops: a list of transforms')
  else {
    const table = TRANSFORMS[role]
    for (const [i, op] of ops.entries()) {
      // `- ToCHWImage` (a bare name) and `- ToCHWImage: null` alike
      const entry = typeof op === 'string' ? { [op]: null } : op
      if (!isObject(entry) || Object.keys(entry).length !== 1) {
        say(`PreProcess.transform_ops[${i}] must be one {Name: arguments} entry, got ${JSON.stringify(op)}`)
        continue
      }
      const [name, args] = Object.entries(entry)[0]!
      const read = table[name]
      if (!read) say(`PreProcess.transform_ops[${i}]: unknown transform ${name} for ${role} (ocrserve knows ${Object.keys(table).join(', ')})`)
      else read(args, d, say)
    }
  }
  const post = doc.PostProcess
  const known = POST_PROCESS[role]
  if (post === undefined || post === null) say(`needs a PostProcess (${known.names.join(' or ')})`)
  else {
    const name = isObject(post) ? (typeof post.name === 'string' ? post.name : Object.keys(post).length === 1 ? Object.keys(post)[0] : undefined) : undefined
    if (name === undefined || !known.names.includes(name)) say(`PostProcess: unknown post-process ${name ?? JSON.stringify(post)} for ${role} (ocrserve knows ${known.names.join(', ')})`)
    else known.read(post, d, say)
  }
  return d
}
