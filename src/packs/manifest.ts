/**
 * A pack's manifest, `pack.yml` in the pack folder (optional). It names each role's model where
 * the `det/`, `rec/`, … folders do not hold it, and may set engine settings for the pack's reads:
 *
 *   det: ../common/det                 a PaddleX folder elsewhere (inference.onnx + inference.yml),
 *                                      relative to the pack folder: one detector, several recognisers
 *   rec:                               a PaddleOCR 2.x model: a plain .onnx, its dictionary and
 *     model: en_PP-OCRv4_rec.onnx      the processing PaddleOCR 2.x took as flags (same names and
 *     rec_char_dict_path: en_dict.txt  defaults as tools/infer/utility.py)
 *     rec_image_shape: [3, 48, 320]
 *   settings:
 *     dropScore: 0.6
 *
 * Every key is checked: an unknown one is a problem, not ignored.
 */
import { z } from 'zod'
import { EngineSettingsSchema, type EngineSettings } from '../config.js'
import { PACK_SETTING_KEYS, type PackRole, type PackSettingKey } from './spec.js'

export const MANIFEST_FILE = 'pack.yml'

/** rec_image_shape / cls_image_shape: [c, h, w], or PaddleOCR 2.x's text "3, 48, 320". */
const imageShape = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => (s.trim() === '' ? NaN : Number(s))) : v),
  z.tuple([z.literal(3), z.number().int().positive(), z.number().int().positive()], { error: 'must be [3, H, W] (or the text "3, H, W")' }),
)

const unit = z.number().min(0).max(1)

/** A PaddleOCR 2.x model per role: `model` is its .onnx file; the rest are PaddleOCR 2.x's flags for that role. */
const legacyRoles = {
  det: z.strictObject({
    model: z.string().min(1),
    det_limit_side_len: z.number().int().positive().optional(),
    det_limit_type: z.enum(['max', 'min']).optional(),
    det_db_thresh: unit.optional(),
    det_db_box_thresh: unit.optional(),
    det_db_unclip_ratio: z.number().positive().optional(),
    max_candidates: z.number().int().positive().optional(),
    det_db_score_mode: z.literal('fast', { error: 'must be "fast" (ocrserve scores boxes by their bounding rectangle)' }).optional(),
    use_dilation: z.literal(false, { error: 'must be false (ocrserve does not dilate the map)' }).optional(),
  }),
  rec: z.strictObject({
    model: z.string().min(1),
    rec_char_dict_path: z.string().min(1),
    rec_image_shape: imageShape.optional(),
    use_space_char: z.boolean().optional(),
  }),
  cls: z.strictObject({
    model: z.string().min(1),
    cls_image_shape: imageShape.optional(),
    label_list: z.array(z.string()).min(2).optional(),
    cls_thresh: unit.optional(),
  }),
  doc_ori: z.never({ error: 'a page classifier needs its PaddleX folder (inference.yml)' }),
} as const satisfies Record<PackRole, z.ZodType>

export type LegacyRole<R extends PackRole> = z.infer<(typeof legacyRoles)[R]>

/** The settings a pack may set, each optional: the engine's schema without its default. */
const settingsShape = Object.fromEntries(
  PACK_SETTING_KEYS.map((k) => {
    const field: z.ZodType = EngineSettingsSchema.shape[k]
    return [k, (field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : field).optional()]
  }),
) as { [K in PackSettingKey]: z.ZodOptional<z.ZodType<EngineSettings[K]>> }

export const ManifestSchema = z.strictObject({
  det: z.unknown().optional(),
  cls: z.unknown().optional(),
  rec: z.unknown().optional(),
  doc_ori: z.unknown().optional(),
  settings: z.strictObject(settingsShape).optional(),
})
export type Manifest = z.infer<typeof ManifestSchema>

/** A role in the manifest: a PaddleX folder elsewhere, or a PaddleOCR 2.x model. */
export type ManifestRole<R extends PackRole = PackRole> = { kind: 'folder'; dir: string } | { kind: 'legacy'; options: LegacyRole<R> }

/**
 * A role entry: text or {dir} is a PaddleX folder, {model, …} a PaddleOCR 2.x model; problems
 * name the key (`rec.rec_image_shape: must be [3, H, W]`).
 */
export function readManifestRole<R extends PackRole>(role: R, value: unknown): { entry?: ManifestRole<R>; problems: string[] } {
  if (typeof value === 'string' && value !== '') return { entry: { kind: 'folder', dir: value }, problems: [] }
  const isMap = typeof value === 'object' && value !== null && !Array.isArray(value)
  if (isMap && 'dir' in value) {
    const r = z.strictObject({ dir: z.string().min(1) }).safeParse(value)
    return r.success ? { entry: { kind: 'folder', dir: r.data.dir }, problems: [] } : { problems: zodProblems(r.error, role) }
  }
  if (isMap && 'model' in value) {
    const r = legacyRoles[role].safeParse(value)
    return r.success ? { entry: { kind: 'legacy', options: r.data as LegacyRole<R> }, problems: [] } : { problems: zodProblems(r.error, role) }
  }
  return { problems: [`${role}: must be a folder (text or {dir: …}) or a PaddleOCR 2.x model ({model: file.onnx, …}), got ${JSON.stringify(value)}`] }
}

/** A schema's problems, one line each, named by their key path. */
export function zodProblems(err: z.ZodError, prefix?: string): string[] {
  return err.issues.map((i) => `${[...(prefix ? [prefix] : []), ...i.path].join('.') || '(top)'}: ${i.message}`)
}
