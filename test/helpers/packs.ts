/**
 * Model packs built inside the tests from the shipped PP-OCRv4 files (nothing is downloaded):
 * PaddleX layouts with inference.yml files as PaddleX writes them, PaddleOCR 2.x layouts with a
 * pack.yml, recognisers whose output classes are permuted and cut, and small classifier graphs
 * made from scratch, all written into temporary folders.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { stringify } from 'yaml'
import { resolveModelPaths } from '../../src/models/assets.js'
import { concat, fieldsOf, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_NODE, GRAPH_OUTPUT, joinModel, lengthDelimited, ONNX_ATTR, ONNX_DTYPE, onnxSchema, splitModel, type OnnxValueInfo } from '../../src/models/onnx/onnx-proto.js'
import { readDictionary } from '../../src/packs/spec.js'

export const SHIPPED = resolveModelPaths()
export const SHIPPED_KEYS = (): Promise<string[]> => readFile(SHIPPED.keys, 'utf8').then(readDictionary)

/** A temporary folder, removed by the returned cleanup. */
export async function tempDir(prefix = 'ocrserve-pack-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** YAML as PyYAML writes the exports (1.1 scalars: text that would read as a number or boolean is quoted). */
export const toYaml = (doc: unknown): string => stringify(doc, { version: '1.1' })

export async function writeFileIn(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, data)
}

// ---- inference.yml files as PaddleX exports them (tools/export_model.py dump_infer_config)

export function detYml(over: { resize?: Record<string, unknown> | null; normalize?: Record<string, unknown>; post?: Record<string, unknown>; modelName?: string } = {}): Record<string, unknown> {
  return {
    Global: { model_name: over.modelName ?? 'PP-OCRv4_mobile_det' },
    PreProcess: {
      transform_ops: [
        { DecodeImage: { channel_first: false, img_mode: 'BGR' } },
        { DetLabelEncode: null },
        { DetResizeForTest: over.resize === undefined ? { limit_side_len: 960, limit_type: 'max' } : over.resize },
        { NormalizeImage: over.normalize ?? { mean: [0.485, 0.456, 0.406], order: 'hwc', scale: '1./255.', std: [0.229, 0.224, 0.225] } },
        { ToCHWImage: null },
        { KeepKeys: { keep_keys: ['image', 'shape', 'polys', 'ignore_tags'] } },
      ],
    },
    PostProcess: over.post ?? { name: 'DBPostProcess', thresh: 0.3, box_thresh: 0.6, max_candidates: 1000, unclip_ratio: 1.5 },
  }
}

export function recYml(dictionary: readonly string[], over: { imageShape?: number[]; modelName?: string; post?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    Global: { model_name: over.modelName ?? 'PP-OCRv4_mobile_rec' },
    Hpi: { backend_configs: { paddle_infer: { trt_dynamic_shapes: { x: [[1, 3, 48, 160], [1, 3, 48, 320], [8, 3, 48, 3200]] } } } },
    PreProcess: {
      transform_ops: [
        { DecodeImage: { channel_first: false, img_mode: 'BGR' } },
        { MultiLabelEncode: { gtc_encode: 'NRTRLabelEncode' } },
        { RecResizeImg: { image_shape: over.imageShape ?? [3, 48, 320] } },
        { KeepKeys: { keep_keys: ['image', 'label_ctc', 'label_gtc', 'length', 'valid_ratio'] } },
      ],
    },
    PostProcess: over.post ?? { name: 'CTCLabelDecode', character_dict: [...dictionary] },
  }
}

/** PP-LCNet_x0_25_textline_ori's: the crop stretched to size [W, H], ImageNet normalisation, Topk labels. */
export function textlineYml(size: [number, number], labels: string[] = ['0_degree', '180_degree']): Record<string, unknown> {
  return {
    Global: { model_name: 'PP-LCNet_x0_25_textline_ori' },
    PreProcess: {
      transform_ops: [
        { ResizeImage: { size } },
        { NormalizeImage: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 0.00392156862745098, order: '' } },
        { ToCHWImage: null },
      ],
    },
    PostProcess: { Topk: { topk: 1, label_list: labels } },
  }
}

/** PP-LCNet_x1_0_doc_ori's: short side 256, centre crop 224, ImageNet normalisation, labels 0/90/180/270. */
export function docOriYml(): Record<string, unknown> {
  return {
    Global: { model_name: 'PP-LCNet_x1_0_doc_ori' },
    PreProcess: {
      transform_ops: [
        { ResizeImage: { resize_short: 256 } },
        { CropImage: { size: 224 } },
        { NormalizeImage: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 0.00392156862745098, order: '' } },
        { ToCHWImage: null },
      ],
    },
    PostProcess: { Topk: { topk: 1, label_list: ['0', '90', '180', '270'] } },
  }
}

export interface PackOptions {
  det?: Record<string, unknown>
  /** The recogniser's model bytes and dictionary (default: the shipped ones). */
  rec?: { onnx: Uint8Array; dictionary: string[]; yml?: Record<string, unknown> }
  /** cls/: a PaddleX folder ({onnx, yml}); default: the shipped 0/180 classifier named by pack.yml (2.x). */
  cls?: { onnx: Uint8Array; yml: Record<string, unknown> } | null
  docOri?: { onnx: Uint8Array; yml?: Record<string, unknown> }
  /** More of pack.yml. */
  manifest?: Record<string, unknown>
}

/**
 * A PaddleX-layout pack from the shipped files under `dir`: det/ and rec/ with inference.yml files
 * as PaddleX writes them, the shipped classifier as a PaddleOCR 2.x model named by pack.yml.
 */
export async function writePack(dir: string, o: PackOptions = {}): Promise<string> {
  await writeFileIn(join(dir, 'det', 'inference.onnx'), await readFile(SHIPPED.det))
  await writeFileIn(join(dir, 'det', 'inference.yml'), toYaml(o.det ?? detYml()))
  const dictionary = o.rec?.dictionary ?? (await SHIPPED_KEYS())
  await writeFileIn(join(dir, 'rec', 'inference.onnx'), o.rec?.onnx ?? (await readFile(SHIPPED.rec)))
  await writeFileIn(join(dir, 'rec', 'inference.yml'), toYaml(o.rec?.yml ?? recYml(dictionary)))
  const manifest: Record<string, unknown> = { ...o.manifest }
  if (o.cls === undefined) {
    await mkdir(join(dir, 'models'), { recursive: true })
    await copyFile(SHIPPED.cls, join(dir, 'models', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'))
    manifest.cls = { model: 'models/ch_ppocr_mobile_v2.0_cls_infer.onnx', cls_image_shape: [3, 48, 192] }
  } else if (o.cls) {
    await writeFileIn(join(dir, 'cls', 'inference.onnx'), o.cls.onnx)
    await writeFileIn(join(dir, 'cls', 'inference.yml'), toYaml(o.cls.yml))
  }
  if (o.docOri) {
    await writeFileIn(join(dir, 'doc_ori', 'inference.onnx'), o.docOri.onnx)
    await writeFileIn(join(dir, 'doc_ori', 'inference.yml'), toYaml(o.docOri.yml ?? docOriYml()))
  }
  if (Object.keys(manifest).length > 0) await writeFileIn(join(dir, 'pack.yml'), toYaml(manifest))
  return dir
}

/** The PaddleOCR 2.x layout: plain .onnx files and the dictionary, everything said in pack.yml. */
export async function writeLegacyPack(dir: string): Promise<string> {
  for (const [role, file] of [['det', 'det.onnx'], ['cls', 'cls.onnx'], ['rec', 'rec.onnx']] as const) await writeFileIn(join(dir, file), await readFile(SHIPPED[role]))
  await copyFile(SHIPPED.keys, join(dir, 'ppocr_keys_v1.txt'))
  await writeFileIn(
    join(dir, 'pack.yml'),
    toYaml({
      det: { model: 'det.onnx', det_limit_side_len: 960, det_limit_type: 'max', det_db_thresh: 0.3, det_db_box_thresh: 0.6, det_db_unclip_ratio: 1.5 },
      cls: { model: 'cls.onnx', cls_image_shape: '3, 48, 192', label_list: ['0', '180'] },
      rec: { model: 'rec.onnx', rec_char_dict_path: 'ppocr_keys_v1.txt', rec_image_shape: '3, 48, 320', use_space_char: true },
    }),
  )
  return dir
}

// ---- ONNX graphs

const T = (name: string) => onnxSchema().lookupType(name)
const encode = (type: string, obj: unknown): Uint8Array => {
  const t = T(type)
  return t.encode(t.fromObject(obj as Record<string, unknown>)).finish()
}
const decodeValueInfo = (b: Uint8Array): OnnxValueInfo => T('onnx.ValueInfoProto').toObject(T('onnx.ValueInfoProto').decode(b), { longs: Number }) as OnnxValueInfo
const int64Tensor = (name: string, values: number[]) => ({ name, data_type: ONNX_DTYPE.INT64, dims: [values.length], int64_data: values })
const floatTensor = (name: string, dims: number[], values: number[]) => ({ name, data_type: ONNX_DTYPE.FLOAT, dims, float_data: values })
type Dim = { dim_value: number } | { dim_param: string }
const valueInfo = (name: string, elem: number, dims: Dim[]) => ({ name, type: { tensor_type: { elem_type: elem, shape: { dim: dims } } } })

/**
 * The recogniser `bytes` with its output classes reordered and cut: output class k of the new
 * model is class `classes[k]` of the original (a Gather after the softmax), and its input and
 * output renamed to `input` and `output`.
 */
export function permuteRecClasses(bytes: Uint8Array, classes: readonly number[], names = { input: 'image', output: 'class_probs' }): Uint8Array {
  const { modelFields, graphBytes } = splitModel(bytes)
  const fields = fieldsOf(graphBytes)
  const inputField = fields.find((f) => f.no === GRAPH_INPUT)!
  const outputField = fields.find((f) => f.no === GRAPH_OUTPUT)!
  const x = decodeValueInfo(inputField.value!)
  const y = decodeValueInfo(outputField.value!)
  const dims = y.type!.tensor_type!.shape!.dim!
  const newInput = { ...x, name: names.input }
  const newOutput = valueInfo(names.output, ONNX_DTYPE.FLOAT, [...dims.slice(0, 2).map((d) => ('dim_value' in d && d.dim_value ? { dim_value: d.dim_value } : { dim_param: d.dim_param ?? 'd' })), { dim_value: classes.length }])
  const nodes = [
    { op_type: 'Identity', name: 'test_rename_input', input: [names.input], output: [x.name] },
    { op_type: 'Gather', name: 'test_permute_classes', input: [y.name, 'test_class_order'], output: [names.output], attribute: [{ name: 'axis', type: ONNX_ATTR.INT, i: 2 }] },
  ]
  const parts: Uint8Array[] = []
  let nodesWritten = false
  for (const f of fields) {
    if (f.no === GRAPH_NODE && !nodesWritten) {
      nodesWritten = true
      parts.push(lengthDelimited(GRAPH_NODE, encode('onnx.NodeProto', nodes[0])))
    }
    if (f === inputField) parts.push(lengthDelimited(GRAPH_INPUT, encode('onnx.ValueInfoProto', newInput)))
    else if (f === outputField) parts.push(lengthDelimited(GRAPH_OUTPUT, encode('onnx.ValueInfoProto', newOutput)))
    else parts.push(graphBytes.subarray(f.start, f.end))
  }
  parts.push(lengthDelimited(GRAPH_NODE, encode('onnx.NodeProto', nodes[1])))
  parts.push(lengthDelimited(GRAPH_INITIALIZER, encode('onnx.TensorProto', int64Tensor('test_class_order', [...classes]))))
  return joinModel(bytes, modelFields, concat(parts))
}

/**
 * A classifier graph made from scratch (opset 11): input `x` [N, 3, H, W] float32 with H and W
 * fixed (ONNX Runtime refuses any other size), output `y` [N, classes] = `scores` for every
 * sample (logits: not a softmax). It reads its input (a mean), so it runs the pipeline's tensors.
 */
export function constantClassifier(height: number, width: number, scores: number[]): Uint8Array {
  const k = scores.length
  const graph = {
    name: 'test_classifier',
    node: [
      { op_type: 'ReduceMean', name: 'mean', input: ['x'], output: ['m'], attribute: [{ name: 'axes', type: ONNX_ATTR.INTS, ints: [1, 2, 3] }, { name: 'keepdims', type: ONNX_ATTR.INT, i: 1 }] },
      { op_type: 'Reshape', name: 'flat', input: ['m', 'shape'], output: ['m2'] },
      { op_type: 'Mul', name: 'zero', input: ['m2', 'zeros'], output: ['z'] },
      { op_type: 'Add', name: 'scores', input: ['z', 'scores'], output: ['y'] },
    ],
    initializer: [int64Tensor('shape', [-1, 1]), floatTensor('zeros', [1, k], new Array(k).fill(0)), floatTensor('scores', [1, k], scores)],
    input: [valueInfo('x', ONNX_DTYPE.FLOAT, [{ dim_param: 'N' }, { dim_value: 3 }, { dim_value: height }, { dim_value: width }])],
    output: [valueInfo('y', ONNX_DTYPE.FLOAT, [{ dim_param: 'N' }, { dim_value: k }])],
  }
  return encode('onnx.ModelProto', { ir_version: 7, opset_import: [{ domain: '', version: 11 }], producer_name: 'ocrserve-tests', graph })
}

/** A detector-shaped graph whose input has rank 3 ([N, H, W]): the wrong rank for a detector. */
export function rank3Model(): Uint8Array {
  const graph = {
    name: 'test_rank3',
    node: [{ op_type: 'Identity', name: 'id', input: ['x'], output: ['y'] }],
    input: [valueInfo('x', ONNX_DTYPE.FLOAT, [{ dim_param: 'N' }, { dim_param: 'H' }, { dim_param: 'W' }])],
    output: [valueInfo('y', ONNX_DTYPE.FLOAT, [{ dim_param: 'N' }, { dim_param: 'H' }, { dim_param: 'W' }])],
  }
  return encode('onnx.ModelProto', { ir_version: 7, opset_import: [{ domain: '', version: 11 }], graph })
}

