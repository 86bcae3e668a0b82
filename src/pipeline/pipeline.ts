/**
 * The PP-OCR pipeline for one decoded page: detect → crop → classify → recognise, plus page
 * orientation. Stages are preprocess → backend.run → postprocess; the backends may be local or remote.
 */
import type { EngineSettings } from '../config.js'
import { checkCancelled, OcrError } from '../errors.js'
import { dist, rotateQuadStart } from '../geometry/point.js'
import { readingOrder } from '../geometry/reading-order.js'
import { borderColor, padImage, rot180, rot90ccw, rotateClockwise, unrotatePoint, type RgbImage } from '../image/image.js'
import { lineFitWidth, packCenterCrop, packDetInput, packDetPixels, packRecBatch, packRecPixels, recInputGray, tensorLayout, type LineFit, type TensorLayout } from '../image/tensor.js'
import { cropText, lineCrop, TALL_CROP_RATIO } from '../image/warp.js'
import { linesAgainstPage, meanConfidence, readingQuality, readsBetterTurned, SIDEWAYS_MIN_CONFIDENCE, UPSIDE_DOWN_VOTE_SHARE, upsideDownShare } from './orientation.js'
import type { Backend, Feeds, RunOptions, Tensor } from '../inference/backend.js'
import { clsDecode, classDecode, type ClsDecision } from '../models/cls.js'
import { PIXELS_INPUT, PIXELS_VALID_INPUT, hasCompactInput } from '../inference/model-io.js'
import { dbPostprocess, detInputSize, filterBox } from '../models/det-db.js'
import { REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT, ctcDecode, ctcDecodeBest, hasReducedRecOutputs, ratioBatches, type Decoded as CtcDecoded } from '../models/rec-ctc.js'
import { packSettings, type PackRole, type PackSpec } from '../packs/spec.js'
import type { OcrLine, Quad } from '../types.js'
import type { CropPlacement } from './line-frame.js'
import { pageLines, type RecInput, type RecReading as Decoded } from './line-output.js'

export interface PageOutput {
  lines: OcrLine[]
  rotation: number
  timing: { det: number; cls: number; rec: number }
}

export interface PageOptions {
  useCls: boolean
  signal?: AbortSignal
  /** Give each line its words (OcrLine.words). */
  words?: boolean
}

/** Gives the backend of a role, creating it on first use (remote servers may come up later). */
export type BackendProvider = (role: PackRole) => Promise<Backend>

/**
 * How the pipeline feeds a backend and reads it, decided once per backend from its tensor names:
 * normalised float32 into its one input, or uint8 `pixels` (+ `pixels_valid`) into a model that
 * normalises in its graph (models-repo writes those: compact-input.ts); and for the recogniser its
 * softmax or, when the graph has them, the `argmax` / `maxprob` outputs (rec-reduced.ts).
 */
interface RoleIo {
  input: string
  compact: boolean
  output: string
  reduced: boolean
}

function bindIo(role: PackRole, backend: Backend): RoleIo {
  const compact = hasCompactInput(backend.inputNames)
  if (!compact && backend.inputNames.length !== 1) {
    throw new OcrError('MODEL_ERROR', `the ${role} model has inputs ${backend.inputNames.join(', ')}; ocrserve feeds one image tensor (or uint8 ${PIXELS_INPUT})`)
  }
  const output = backend.outputNames[0]
  if (output === undefined) throw new OcrError('MODEL_ERROR', `the ${role} model has no output`)
  return { input: backend.inputNames[0]!, compact, output, reduced: role === 'rec' && hasReducedRecOutputs(backend.outputNames) }
}

/** A pack's tensor layouts, made once per pipeline. */
interface Layouts {
  det: TensorLayout
  rec: TensorLayout
  cls: TensorLayout | null
  doc_ori: TensorLayout | null
}

/** What #orient decided: the rotation, the crops of the page so turned, what it has of them. */
interface Oriented {
  rotation: number
  crops: Crop[]
  /** The classifier's votes on `crops`, when it ran on them. */
  decisions: ClsDecision[] | null
  /** The readings of `crops`, when they are final. */
  texts: Decoded[] | null
}

/** A line crop: how it was cut from the page (line-frame.ts) and its pixels. */
interface Crop extends CropPlacement {
  image: RgbImage
}

const now = (): number => performance.now()

export class Pipeline {
  readonly #backend: BackendProvider
  readonly #pack: PackSpec
  readonly #charset: readonly string[]
  readonly #s: EngineSettings
  readonly #layouts: Layouts
  /**
   * The detector's input buffer, kept between pages (DET_INPUT_KEEP_BYTES at most): a fresh
   * 8–11 MB array per page costs its zeroing or page faults, and its share of the external memory
   * that makes V8 collect the worker's heap.
   */
  #detInput: Float32Array | Uint8Array | null = null
  readonly #io = new WeakMap<Backend, RoleIo>()

  /** The pipeline of one pack: its models through `backend`, the engine's `settings` with what the pack sets. */
  constructor(backend: BackendProvider, pack: PackSpec, settings: EngineSettings) {
    this.#backend = backend
    this.#pack = pack
    this.#charset = pack.rec.charset
    this.#s = packSettings(settings, pack)
    this.#layouts = {
      det: tensorLayout(pack.det.norm),
      rec: tensorLayout(pack.rec.norm),
      cls: pack.cls && tensorLayout(pack.cls.norm),
      doc_ori: pack.doc_ori && tensorLayout(pack.doc_ori.norm),
    }
  }

  /** The backend of a role and how to feed and read it (decided on its first use). */
  async #model(role: PackRole): Promise<{ model: Backend; io: RoleIo }> {
    const model = await this.#backend(role)
    let io = this.#io.get(model)
    if (!io) {
      io = bindIo(role, model)
      this.#io.set(model, io)
    }
    return { model, io }
  }

  async readPage(img: RgbImage, options: PageOptions): Promise<PageOutput> {
    const timing = { det: 0, cls: 0, rec: 0 }
    const turn = this.#s.autoRotate && this.#pack.doc_ori ? await this.#pageTurn(img, timing, options.signal) : 0
    const own = await this.#readAsGiven(img, options, timing)
    if (turn === 0) return { ...own, timing }
    // the page classifier says the page is turned: read it turned that way too, and keep the reading
    // with more confident text (ocrserve's own orientation logic decides the page as given)
    const turned = await this.#readAsGiven(rotateClockwise(img, turn), options, timing)
    if (readingQuality(turned.lines, 0) <= readingQuality(own.lines, 0)) return { ...own, timing }
    const back = (q: Quad): Quad => q.map(([x, y]) => unrotatePoint(x, y, turn, img.width, img.height)) as Quad
    const lines = turned.lines.map((l) => ({ ...l, box: back(l.box), ...(l.words ? { words: l.words.map((w) => ({ ...w, box: back(w.box) })) } : {}) }))
    return { lines, rotation: (turn + turned.rotation) % 360, timing }
  }

  /**
   * The page classifier (doc_ori): the clockwise turn that makes the page upright, 0 when it says
   * the page is. Its label L means the page shows turned L° clockwise (PaddleX turns it back by L
   * counter-clockwise).
   */
  async #pageTurn(img: RgbImage, timing: PageOutput['timing'], signal?: AbortSignal): Promise<number> {
    const spec = this.#pack.doc_ori!
    const t0 = now()
    const { model, io } = await this.#model('doc_ori')
    const { crop, resizeShort } = spec
    if (io.compact) throw new OcrError('MODEL_ERROR', 'the page classifier takes float32 input only')
    const data = packCenterCrop(img, resizeShort, crop, this.#layouts.doc_ori!)
    checkCancelled(signal)
    const out = await model.run({ [io.input]: { type: 'float32', dims: [1, 3, crop, crop], data } }, signal ? { signal } : {})
    const probs = out[io.output]
    if (!probs || probs.dims[probs.dims.length - 1] !== spec.angles.length) throw new OcrError('MODEL_ERROR', `page classifier returned no [1, ${spec.angles.length}] output`)
    const { index } = classDecode(probs.data as Float32Array, spec.angles.length, 0)
    timing.cls += now() - t0
    return (360 - spec.angles[index]!) % 360
  }

  /** The page read with ocrserve's own orientation logic (autoRotate), boxes in `img`'s frame. */
  async #readAsGiven(img: RgbImage, options: PageOptions, timing: PageOutput['timing']): Promise<Omit<PageOutput, 'timing'>> {
    const { signal } = options
    let rotation = 0
    let crops = await this.#detectAndCrop(img, timing, signal)
    let decisions: ClsDecision[] | null = null
    let texts: Decoded[] | null = null
    if (this.#s.autoRotate && crops.length > 0) ({ rotation, crops, decisions, texts } = await this.#orient(img, crops, options, timing))
    if (!texts) {
      const votes = options.useCls && crops.length > 0 ? (decisions ?? (await this.#classify(crops, timing, signal))) : null
      if (votes) crops = this.#applyCls(crops, votes)
      ;({ crops, texts } = await this.#recognizeChecked(crops, timing, signal))
    }
    if (this.#s.wholeImageFallback && !texts.some((t) => t.score >= this.#s.dropScore && t.text.length > 0)) {
      // nothing found: a small image may be a single tight line or word crop; read it whole
      const whole = await this.#readWhole(img, timing, signal)
      if (whole) {
        crops = [whole.crop]
        texts = [whole.text]
        rotation = 0
      }
    }
    const read = crops.flatMap((crop, i) => {
      const reading = texts[i]!
      return reading.score >= this.#s.dropScore && reading.text.length > 0 ? [{ crop, reading }] : []
    })
    const lines: OcrLine[] = pageLines(read, { rotation, width: img.width, height: img.height }, this.#charset, {
      words: options.words ?? false,
      restoreSpaces: this.#s.restoreSpaces,
      asciiPunctuation: this.#s.asciiPunctuation,
    })
    return { lines, rotation }
  }

  /**
   * Page orientation (autoRotate). A page of mostly tall boxes may be sideways; one whose lines the
   * classifier mostly calls upside down may be upside down. Either way the recogniser reads the
   * lines both ways and the readings decide (./orientation.ts): the classifier sees a line squeezed
   * into 192 px and is confidently wrong on long ones. Gives the page's crops in reading order for
   * the rotation chosen, with the classifier's votes and the readings where it has them.
   */
  async #orient(img: RgbImage, crops: Crop[], options: PageOptions, timing: PageOutput['timing']): Promise<Oriented> {
    const { signal } = options
    const tall = crops.filter((c) => c.turned)
    const wide = crops.filter((c) => !c.turned && c.image.width / c.image.height >= TALL_CROP_RATIO)
    if (tall.length > wide.length) {
      // sideways? tall crops were turned CCW: they read upright if the page is turned CCW (270),
      // turned 180 more if it is turned CW (90). Vertical CJK text also makes tall boxes and reads
      // poorly both ways, so the page is only turned when the better way reads confidently.
      const ccw = await this.#recognize(tall, timing, signal)
      const cw = await this.#recognize(tall.map((c) => ({ ...c, image: rot180(c.image) })), timing, signal)
      const turnCw = readsBetterTurned(ccw, cw, this.#s.dropScore)
      if (meanConfidence(turnCw ? cw : ccw) < SIDEWAYS_MIN_CONFIDENCE) return { rotation: 0, crops, decisions: null, texts: null }
      const rotation = turnCw ? 90 : 270
      return { rotation, crops: await this.#detectAndCrop(rotateClockwise(img, rotation), timing, signal), decisions: null, texts: null }
    }
    // without a line classifier there are no votes to say a page may be upside down
    const decisions = await this.#classify(crops, timing, signal)
    const ratios = crops.map((c) => c.image.width / c.image.height)
    if (!decisions || crops.length < 2 || upsideDownShare(ratios, decisions) <= UPSIDE_DOWN_VOTE_SHARE) return { rotation: 0, crops, decisions, texts: null }
    // maybe upside down: read every line as it is and turned 180°
    const flipped = flipPage(crops, img.width, img.height)
    const asIs = await this.#recognize(crops, timing, signal)
    const turned = await this.#recognize(flipped, timing, signal)
    const pageTurned = readsBetterTurned(asIs, turned, this.#s.dropScore)
    const [page, pageTexts, other, otherTexts] = pageTurned ? [flipped, turned, crops, asIs] : [crops, asIs, flipped, turned]
    // single lines upside down against the page, as the classifier would turn them
    const against = options.useCls ? linesAgainstPage(decisions, pageTurned, pageTexts, otherTexts, this.#s.clsThresh) : []
    const lines = page.map((c, i) => (against[i] ? { ...c, image: other[i]!.image, flipped: true } : c))
    const read = page.map((_, i) => (against[i] ? otherTexts[i]! : pageTexts[i]!))
    const order = readingOrder(lines.map((c) => c.quad))
    return { rotation: pageTurned ? 180 : 0, crops: order.map((i) => lines[i]!), decisions: null, texts: order.map((i) => read[i]!) }
  }

  /** Reads a small image as one line (turned CCW if tall, as crops are). */
  async #readWhole(img: RgbImage, timing: PageOutput['timing'], signal?: AbortSignal): Promise<{ crop: Crop; text: Decoded } | null> {
    if (Math.min(img.width, img.height) > WHOLE_IMAGE_MAX_SIDE || img.width < 4 || img.height < 4) return null
    const quad: Quad = [[0, 0], [img.width - 1, 0], [img.width - 1, img.height - 1], [0, img.height - 1]]
    // the crop is the image itself: its pixel edges are the source
    const source: Quad = [[0, 0], [img.width, 0], [img.width, img.height], [0, img.height]]
    const tall = img.height / img.width >= TALL_CROP_RATIO
    let crop: Crop = { quad, source, image: tall ? rot90ccw(img) : img, turned: tall, flipped: false }
    const [d] = (await this.#classify([crop], timing, signal)) ?? []
    if (d && d.label === '180' && d.score > this.#s.clsThresh) crop = { ...crop, image: rot180(crop.image), flipped: true }
    const [text] = await this.#recognize([crop], timing, signal)
    return text && text.score >= this.#s.dropScore && text.text.length > 0 ? { crop, text } : null
  }

  /**
   * Recognises the crops; those the classifier turned are also read unturned and keep the more
   * confident reading. The classifier squeezes a line into 192 px, so on very wide lines a
   * confident '180' can be wrong (seen on screenshots: the widest line turned and then dropped).
   */
  async #recognizeChecked(crops: Crop[], timing: PageOutput['timing'], signal?: AbortSignal): Promise<{ crops: Crop[]; texts: Decoded[] }> {
    const texts = await this.#recognize(crops, timing, signal)
    const turned = crops.flatMap((c, i) => (c.flipped ? [i] : []))
    if (turned.length === 0) return { crops, texts }
    const alt = turned.map((i) => ({ ...crops[i]!, image: rot180(crops[i]!.image), flipped: false }))
    const altTexts = await this.#recognize(alt, timing, signal)
    const out = [...crops]
    turned.forEach((i, k) => {
      if (altTexts[k]!.score > texts[i]!.score) {
        out[i] = alt[k]!
        texts[i] = altTexts[k]!
      }
    })
    return { crops: out, texts }
  }

  /** Turns the crops the classifier confidently reads as upside down. */
  #applyCls(crops: readonly Crop[], decisions: readonly ClsDecision[]): Crop[] {
    return crops.map((c, i) => {
      const d = decisions[i]!
      return d.label === '180' && d.score > this.#s.clsThresh ? { ...c, image: rot180(c.image), flipped: true } : c
    })
  }

  async #detectAndCrop(img: RgbImage, timing: PageOutput['timing'], signal?: AbortSignal): Promise<Crop[]> {
    const s = this.#s
    const t0 = now()
    // text touching the border is invisible to DB: detect on the page inside a margin of its own
    // background colour, then crop from that padded page (quads are shifted back for output)
    const pad = detPadding(img.width, img.height, s.detPadding)
    const page = pad > 0 ? padImage(img, pad, borderColor(img)) : img
    let limit = s.detLimitSideLen
    let size = detInputSize(page.width, page.height, limit, s.detLimitType, s.detMinSideLen, upscaleCap(s))
    let quads = await this.#detect(page, size, signal)
    // a large page shrunk to the limit can lose small text: when the lines found are short at the
    // detector's scale (or none were found), detect again at the resolution that makes them readable
    const scale = size.height / page.height
    if (s.detMaxSideLen > limit && scale < 1) {
      const median = medianHeight(quads) * scale
      if (quads.length === 0 || median < SMALL_TEXT_MAP_PX) {
        const want = quads.length === 0 ? 1 / scale : TARGET_TEXT_MAP_PX / Math.max(median, 1)
        limit = Math.min(s.detMaxSideLen, Math.round(Math.max(page.width, page.height) * Math.min(1, scale * want)))
        if (limit > Math.max(size.width, size.height)) {
          size = detInputSize(page.width, page.height, limit, 'max', s.detMinSideLen, upscaleCap(s))
          quads = await this.#detect(page, size, signal)
        }
      }
    }
    const crops: Crop[] = []
    for (const q of quads) {
      // the crop reaches a little past the box's ends (lineCropMargin); the line's box stays the detector's
      const { quad: from, ends } = lineCrop(q, s.lineCropMargin)
      const { crop, turned } = cropText(page, from)
      const source = from.map(([x, y]) => [x - pad, y - pad]) as Quad
      const quad = pad > 0 ? filterBox(q.map(([x, y]) => [x - pad, y - pad]), img.width, img.height) : q
      if (quad) crops.push({ quad, source, image: crop, turned, flipped: false, ends })
    }
    timing.det += now() - t0
    return readingOrder(crops.map((c) => c.quad)).map((i) => crops[i]!)
  }

  /** One detector pass at `size`: boxes in page pixels. */
  async #detect(page: RgbImage, size: { width: number; height: number }, signal?: AbortSignal): Promise<Quad[]> {
    const s = this.#s
    const { model: det, io } = await this.#model('det')
    const dims = [1, 3, size.height, size.width]
    const layout = this.#layouts.det
    // the previous pass's input buffer, lent to this pass (another page in flight makes its own)
    const spare = this.#detInput
    this.#detInput = null
    const data = io.compact
      ? packDetPixels(page, size.width, size.height, layout.order, spare instanceof Uint8Array ? spare : undefined)
      : packDetInput(page, size.width, size.height, layout, spare instanceof Float32Array ? spare : undefined)
    const feeds: Feeds = { [io.compact ? PIXELS_INPUT : io.input]: { type: io.compact ? 'uint8' : 'float32', dims, data } }
    let out: Record<string, Tensor>
    try {
      checkCancelled(signal)
      out = await det.run(feeds, signal ? { signal } : {})
    } finally {
      this.#keepDetInput(spare && spare.buffer === data.buffer ? spare : data)
    }
    const map = out[io.output]
    if (!map) throw new OcrError('MODEL_ERROR', 'detector returned no output')
    const mapH = map.dims[map.dims.length - 2]!
    const mapW = map.dims[map.dims.length - 1]!
    return dbPostprocess(map.data as Float32Array, mapW, mapH, page.width, page.height, {
      thresh: s.detThresh,
      boxThresh: s.boxThresh,
      unclipRatio: s.unclipRatio,
      maxCandidates: s.maxCandidates,
      minSize: s.detMinSize,
    })
  }

  /** Keeps a detector input buffer for the next pass: the larger of it and the one kept, within DET_INPUT_KEEP_BYTES. */
  #keepDetInput(buffer: Float32Array | Uint8Array): void {
    const kept = this.#detInput
    if (buffer.byteLength <= DET_INPUT_KEEP_BYTES && (!kept || kept.byteLength < buffer.byteLength)) this.#detInput = buffer
  }

  /** The line classifier's votes; null when the pack has none. */
  async #classify(crops: readonly Crop[], timing: PageOutput['timing'], signal?: AbortSignal): Promise<ClsDecision[] | null> {
    const spec = this.#pack.cls
    if (!spec) return null
    const t0 = now()
    const { model: cls, io } = await this.#model('cls')
    const { height: H, width: W, resize, angles } = spec
    const out: ClsDecision[] = new Array(crops.length)
    const batches = ratioBatches(crops.map((c) => c.image.width / c.image.height), this.#s.clsBatchSize)
    const pack = (batch: number[]) => lineFeeds(io, batch.map((i) => crops[i]!.image), H, W, this.#layouts.cls!, resize)
    await packAhead(cls, batches, pack, signal ? { signal } : {}, (batch, res) => {
      const probs = res[io.output]
      if (!probs || probs.dims[probs.dims.length - 1] !== angles.length) throw new OcrError('MODEL_ERROR', `classifier returned no [n, ${angles.length}] output`)
      batch.forEach((idx, j) => (out[idx] = clsDecode(probs.data as Float32Array, j, angles)))
    })
    timing.cls += now() - t0
    return out
  }

  async #recognize(crops: readonly Crop[], timing: PageOutput['timing'], signal?: AbortSignal): Promise<Decoded[]> {
    const t0 = now()
    const out: Decoded[] = new Array(crops.length)
    if (crops.length === 0) return out
    const { model: rec, io } = await this.#model('rec')
    // a recogniser with ArgMax/ReduceMax in its graph (models-repo writes one) gives [n, steps]
    // best classes and probabilities instead of the [n, steps, classes] softmax: ask for those only
    const reduced = io.reduced
    const outputs = reduced ? [REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT] : [io.output]
    const { height: H, width: fixedWidth } = this.#pack.rec
    const ratios = crops.map((c) => c.image.width / c.image.height)
    const batches = ratioBatches(ratios, this.#s.recBatchSize, { minRatio: this.#s.recImageWidth / H, maxPad: this.#s.recBatchMaxPad })
    // what each line's input looked like: where its ink is places its characters (line-output.ts)
    const inputs: RecInput[] = new Array(crops.length)
    const pack = (batch: number[]) => {
      let maxRatio = this.#s.recImageWidth / H
      for (const i of batch) maxRatio = Math.max(maxRatio, ratios[i]!)
      // a graph of fixed width takes every line at that width (wider lines squeezed into it)
      const W = fixedWidth ?? Math.trunc(H * maxRatio) + this.#s.recMinRightPad
      const feeds = lineFeeds(io, batch.map((i) => crops[i]!.image), H, W, this.#layouts.rec, 'pad')
      const data = (feeds[PIXELS_INPUT] ?? feeds[io.input])!.data as Float32Array | Uint8Array
      batch.forEach((idx, j) => {
        const width = lineFitWidth(crops[idx]!.image, H, W, 'pad')
        inputs[idx] = { width, height: H, tensorWidth: W, gray: recInputGray(data, j, H, W, width, io.compact ? null : this.#pack.rec.norm) }
      })
      return feeds
    }
    await packAhead(rec, batches, pack, { outputs, ...(signal ? { signal } : {}) }, (batch, res) => {
      const decoded = reduced ? this.#decodeBest(res, batch.length) : this.#decodeProbs(res[outputs[0]!], batch.length)
      batch.forEach((idx, j) => (out[idx] = { ...decoded[j]!, input: inputs[idx]! }))
    })
    timing.rec += now() - t0
    return out
  }

  #decodeProbs(probs: Tensor | undefined, n: number): CtcDecoded[] {
    if (!probs || probs.dims.length !== 3) throw new OcrError('MODEL_ERROR', 'recogniser returned no [n, steps, classes] output')
    const [, steps, classes] = probs.dims as [number, number, number]
    if (classes !== this.#charset.length) {
      throw new OcrError('MODEL_ERROR', `recogniser has ${classes} classes but the dictionary has ${this.#charset.length}`)
    }
    return Array.from({ length: n }, (_, j) => ctcDecode(probs.data as Float32Array, steps, classes, j, this.#charset))
  }

  #decodeBest(res: Record<string, Tensor>, n: number): CtcDecoded[] {
    const index = res[REC_ARGMAX_OUTPUT]
    const prob = res[REC_MAXPROB_OUTPUT]
    const ok = (t: Tensor | undefined): t is Tensor => !!t && t.dims.length === 2 && t.dims[0] === n
    if (!ok(index) || !ok(prob) || index.dims[1] !== prob.dims[1] || !(prob.data instanceof Float32Array) || !(index.data instanceof BigInt64Array || index.data instanceof Int32Array)) {
      throw new OcrError('MODEL_ERROR', `recogniser returned no [n, steps] ${REC_ARGMAX_OUTPUT} (int64) and ${REC_MAXPROB_OUTPUT} (float32) outputs`)
    }
    const steps = index.dims[1]!
    try {
      return Array.from({ length: n }, (_, j) => ctcDecodeBest(index.data as BigInt64Array | Int32Array, prob.data as Float32Array, steps, j, this.#charset))
    } catch (err) {
      throw new OcrError('MODEL_ERROR', `recogniser output does not fit the dictionary: ${(err as Error).message}`, { cause: err })
    }
  }
}

/** The largest detector input buffer a pipeline keeps for the next page (a 1280 × 1280 page as float32). */
const DET_INPUT_KEEP_BYTES = 3 * 1280 * 1280 * 4

/** Inputs packed ahead of running them (see packAhead). */
const PACK_AHEAD_BYTES = 4 << 20

/**
 * Packs the inputs of several batches (up to PACK_AHEAD_BYTES), then runs them back to back, and
 * so on: warping and packing crops streams the page through the caches, and a network run right
 * after finds its weights evicted; runs back to back keep them warm. Each chunk is one list of
 * calls to the backend (Backend.runEach: one after another locally, several in flight to a model
 * server, shared with idle workers in single mode); `take` gets each batch's outputs as they come.
 */
async function packAhead(
  model: Backend,
  batches: readonly number[][],
  pack: (batch: number[]) => Feeds,
  options: RunOptions,
  take: (batch: number[], outputs: Record<string, Tensor>) => void,
): Promise<void> {
  for (let next = 0; next < batches.length; ) {
    const chunk: Array<[number[], Feeds]> = []
    let bytes = 0
    while (next < batches.length && (chunk.length === 0 || bytes < PACK_AHEAD_BYTES)) {
      const batch = batches[next++]!
      const feeds = pack(batch)
      for (const t of Object.values(feeds)) bytes += t.data.byteLength
      chunk.push([batch, feeds])
    }
    checkCancelled(options.signal)
    await model.runEach(
      chunk.map(([, feeds]) => feeds),
      options,
      (i, outputs) => take(chunk[i]![0], outputs),
    )
  }
}

/**
 * The classifier's or recogniser's input for a batch of line crops: normalised float32 [n, 3, H, W],
 * or for a model that normalises in its graph (compact-input.ts) the uint8 pixels and the mask of
 * their columns: a quarter of the bytes to a model server, the same values inside the model.
 */
function lineFeeds(io: RoleIo, images: readonly RgbImage[], H: number, W: number, layout: TensorLayout, fit: LineFit): Feeds {
  const n = images.length
  if (!io.compact) return { [io.input]: { type: 'float32', dims: [n, 3, H, W], data: packRecBatch(images, H, W, layout, fit) } }
  const { pixels, valid } = packRecPixels(images, H, W, layout.order, fit)
  return {
    [PIXELS_INPUT]: { type: 'uint8', dims: [n, 3, H, W], data: pixels },
    [PIXELS_VALID_INPUT]: { type: 'uint8', dims: [n, 1, 1, W], data: valid },
  }
}

/**
 * Margin added around the page before detection: `setting` px when ≥ 0; −1 (auto) = 10 % of the
 * shorter side, at least 8 and at most 32 px.
 */
export function detPadding(width: number, height: number, setting: number): number {
  if (setting >= 0) return setting
  return Math.min(32, Math.max(8, Math.round(0.1 * Math.min(width, height))))
}

/**
 * The crops of the page turned 180°, one for one: quads in the turned page's frame (starting at
 * its top-left), images turned.
 */
function flipPage(crops: readonly Crop[], width: number, height: number): Crop[] {
  const turn = (q: Quad): Quad => rotateQuadStart(q.map(([x, y]) => unrotatePoint(x, y, 180, width, height)) as Quad, 2)
  return crops.map((c) => ({
    quad: turn(c.quad),
    source: turn(c.source),
    image: rot180(c.image),
    turned: c.turned,
    flipped: false,
  }))
}

/** Lines shorter than this at the detector's scale (px) make a shrunk page be detected again. */
export const SMALL_TEXT_MAP_PX = 14
/** The line height (px at the detector's scale) the second pass aims for. */
export const TARGET_TEXT_MAP_PX = 24

/** Median height (shorter quad side) of the boxes, in page pixels; 0 when there are none. */
/** How far raising a thin image's short side to detMinSideLen may stretch its long side. */
function upscaleCap(s: EngineSettings): number {
  return Math.max(s.detLimitSideLen, s.detMaxSideLen)
}

function medianHeight(quads: readonly Quad[]): number {
  if (quads.length === 0) return 0
  const h = quads.map((q) => Math.min(dist(q[0], q[3]), dist(q[0], q[1]))).sort((a, b) => a - b)
  return h[h.length >> 1]!
}

/** The whole-image fallback applies to images whose shorter side is at most this (px). */
export const WHOLE_IMAGE_MAX_SIDE = 160
