/**
 * A model pack as the pipeline uses it: per role, what the network takes (input size and layout,
 * normalisation, channel order) and what its outputs mean (dictionary and its blank/space rules,
 * classifier labels), decided once when the pack loads (./load.ts) from its inference.yml files,
 * manifest and ONNX graphs. Plain data: it crosses to the worker threads as it is.
 */
import type { EngineSettings } from '../config.js'
import type { ChannelOrder, Normalisation } from '../image/tensor.js'

export type { ChannelOrder, Normalisation }

/** The networks a pack may hold; `doc_ori` is PaddleOCR 3's 0/90/180/270 page classifier. */
export const PACK_ROLES = ['det', 'cls', 'rec', 'doc_ori'] as const
export type PackRole = (typeof PACK_ROLES)[number]

// a pack's name and the builtin one are part of the OCR_MODELS setting's syntax (config.ts)
export { BUILTIN_PACK, PACK_NAME } from '../config.js'

/** The same for every role. */
export interface RoleSpec {
  /** Global.model_name of its inference.yml; '' when the pack does not name it. */
  modelName: string
  /** The ONNX file; '' in remote mode when the pack folder holds only the configuration. */
  onnx: string
  /** Where the pre/post-processing came from: an inference.yml, the manifest, or `builtin`. */
  config: string
  /** [n, c, h, w] as the ONNX graph declares its input; null for a dynamic dimension (or no graph read). */
  inputShape: ReadonlyArray<number | null>
  norm: Normalisation
}

export type DetSpec = RoleSpec

/**
 * A line classifier (0/180°). `pad` (PaddleOCR 2.x resize_norm_img): height `height`, width
 * ceil(height · w/h) up to `width`, zero padding on the right. `stretch` (PaddleX ResizeImage
 * `size`): the whole crop resized to width × height.
 */
export interface ClsSpec extends RoleSpec {
  height: number
  width: number
  resize: 'pad' | 'stretch'
  /** The angle each output class stands for (its label_list). */
  angles: ReadonlyArray<0 | 180>
}

export interface RecSpec extends RoleSpec {
  /** The height lines are resized to. */
  height: number
  /** A width the graph fixes (every batch is exactly this wide); null: any width. */
  width: number | null
  /** The output classes in order: '' (the CTC blank), the dictionary, then ' ' when useSpaceChar. */
  charset: readonly string[]
  useSpaceChar: boolean
}

/** A page classifier (PaddleX ResizeImage resize_short, CropImage): short side to `resizeShort`, centre crop `crop`². */
export interface DocOriSpec extends RoleSpec {
  resizeShort: number
  crop: number
  /** The clockwise turn each output class says the page has (its label_list). */
  angles: ReadonlyArray<0 | 90 | 180 | 270>
}

/** Engine settings a pack may set for its own reads (its yml's DetResizeForTest / DBPostProcess, its manifest's `settings`). */
export const PACK_SETTING_KEYS = [
  'detLimitSideLen',
  'detLimitType',
  'detThresh',
  'boxThresh',
  'unclipRatio',
  'maxCandidates',
  'clsThresh',
  'recImageWidth',
  'recBatchSize',
  'recMinRightPad',
  'dropScore',
] as const satisfies ReadonlyArray<keyof EngineSettings>
export type PackSettingKey = (typeof PACK_SETTING_KEYS)[number]
export type PackSettings = Partial<Pick<EngineSettings, PackSettingKey>>

export interface PackSpec {
  name: string
  /** The pack folder; null for the builtin pack. */
  dir: string | null
  det: DetSpec
  rec: RecSpec
  cls: ClsSpec | null
  doc_ori: DocOriSpec | null
  /** What the pack sets for its own reads; everything else is the engine's setting. */
  settings: PackSettings
}

/** The engine settings a read with `pack` uses: the engine's, with what the pack sets. */
export function packSettings(engine: EngineSettings, pack: PackSpec): EngineSettings {
  return { ...engine, ...pack.settings }
}

/** The roles a pack has, in pipeline order. */
export function packRoles(pack: PackSpec): PackRole[] {
  return PACK_ROLES.filter((r) => pack[r] !== null)
}

/** PaddleOCR's CTCLabelDecode class order: 0 = the CTC blank, the dictionary, then a space (use_space_char). */
export function ctcCharset(dictionary: readonly string[], useSpaceChar: boolean): string[] {
  return ['', ...dictionary, ...(useSpaceChar ? [' '] : [])]
}

/** A dictionary file (PaddleOCR 2.x `rec_char_dict_path`): one character per line, line ends stripped. */
export function readDictionary(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''))
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return lines
}
