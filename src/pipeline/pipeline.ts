/**
 * The PP-OCR pipeline for one decoded page: detect → crop → classify → recognise, plus page
 * orientation. Stages are preprocess → backend.run → postprocess; the backends may be local or remote.
 */
import type { EngineSettings } from '../config.js'
import { checkCancelled, OcrError } from '../errors.js'
import { dist, rotateQuadStart } from '../geometry/point.js'
import { readingOrder } from '../geometry/reading-order.js'
import { borderColor, padImage, rot180, rot90ccw, rotateClockwise, unrotatePoint, type RgbImage } from '../image/image.js'
import { packDetInput, packDetPixels, packRecBatch, packRecPixels, recInputGray, recResizedWidth } from '../image/tensor.js'
import { cropText } from '../image/warp.js'
import { canRunEach } from './assist.js'
import type { Backend, Feeds, ModelRole, RunOptions, Tensor } from '../inference/backend.js'
import { clsDecode, type ClsDecision } from '../models/cls.js'
import { PIXELS_INPUT, PIXELS_VALID_INPUT, hasCompactInput } from '../models/compact-input.js'
import { dbPostprocess, detInputSize, filterBox } from '../models/det-db.js'
import { REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT, ctcDecode, ctcDecodeBest, hasReducedRecOutputs, ratioBatches, type Decoded as CtcDecoded } from '../models/rec-ctc.js'
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
export type BackendProvider = (role: ModelRole) => Promise<Backend>

/** A line crop: how it was cut from the page (line-frame.ts) and its pixels. */
interface Crop extends CropPlacement {
  image: RgbImage
}

const now = (): number => performance.now()

export class Pipeline {
  readonly #backend: BackendProvider
  readonly #charset: readonly string[]
  readonly #s: EngineSettings

  constructor(backend: BackendProvider, charset: readonly string[], settings: EngineSettings) {
    this.#backend = backend
    this.#charset = charset
    this.#s = settings
  }

  async readPage(img: RgbImage, options: PageOptions): Promise<PageOutput> {
    const timing = { det: 0, cls: 0, rec: 0 }
    const { signal } = options
    let rotation = 0
    let crops = await this.#detectAndCrop(img, timing, signal)
    let decisions: ClsDecision[] | null = null
    let texts: Decoded[] | null = null
    if (this.#s.autoRotate && crops.length > 0) {
      const turned = crops.filter((c) => c.turned)
      const wide = crops.filter((c) => !c.turned && c.image.width / c.image.height >= 1.5)
      if (turned.length > wide.length) {
        // sideways page? tall crops were turned CCW; the classifier says whether that made them
        // upright. Vertical CJK text also makes tall boxes: its turned crops read poorly, so the
        // page is only turned when the turned crops read confidently.
        const votes = await this.#classify(turned, timing, signal)
        const cw = weightedVote(turned, votes)
        const probe = await this.#recognize(cw ? turned.map((c) => ({ ...c, image: rot180(c.image) })) : turned, timing, signal)
        if (meanConfidence(probe) >= SIDEWAYS_MIN_CONFIDENCE) {
          rotation = cw ? 90 : 270
          crops = await this.#detectAndCrop(rotateClockwise(img, rotation), timing, signal)
        }
      } else {
        decisions = await this.#classify(crops, timing, signal)
        if (crops.length >= 2 && weightedVote(crops, decisions)) {
          // maybe upside down: read it both ways and keep the more confident reading
          const upright = options.useCls ? this.#applyCls(crops, decisions) : crops
          const flipped = flipPage(crops, img.width, img.height)
          const checked = await this.#recognizeChecked(upright, timing, signal)
          const tu = checked.texts
          const tf = await this.#recognize(flipped, timing, signal)
          // the classifier voted for 180, so a tie goes to the turned page (its reading order is right)
          if (readingQuality(tf, this.#s.dropScore) >= readingQuality(tu, this.#s.dropScore)) {
            rotation = 180
            crops = flipped
            texts = tf
          } else {
            crops = checked.crops
            texts = tu
          }
        }
      }
    }
    if (!texts) {
      if (options.useCls && crops.length > 0) crops = this.#applyCls(crops, decisions ?? (await this.#classify(crops, timing, signal)))
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
    return { lines, rotation, timing }
  }

  /** Reads a small image as one line (turned CCW if tall, as crops are). */
  async #readWhole(img: RgbImage, timing: PageOutput['timing'], signal?: AbortSignal): Promise<{ crop: Crop; text: Decoded } | null> {
    if (Math.min(img.width, img.height) > WHOLE_IMAGE_MAX_SIDE || img.width < 4 || img.height < 4) return null
    const quad: Quad = [[0, 0], [img.width - 1, 0], [img.width - 1, img.height - 1], [0, img.height - 1]]
    // the crop is the image itself: its pixel edges are the source
    const source: Quad = [[0, 0], [img.width, 0], [img.width, img.height], [0, img.height]]
    const tall = img.height / img.width >= 1.5
    let crop: Crop = { quad, source, image: tall ? rot90ccw(img) : img, turned: tall, flipped: false }
    const [d] = await this.#classify([crop], timing, signal)
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
      const { crop, turned } = cropText(page, q)
      const source = q.map(([x, y]) => [x - pad, y - pad]) as Quad
      const quad = pad > 0 ? filterBox(source, img.width, img.height) : q
      if (quad) crops.push({ quad, source, image: crop, turned, flipped: false })
    }
    timing.det += now() - t0
    return readingOrder(crops.map((c) => c.quad)).map((i) => crops[i]!)
  }

  /** One detector pass at `size`: boxes in page pixels. */
  async #detect(page: RgbImage, size: { width: number; height: number }, signal?: AbortSignal): Promise<Quad[]> {
    const s = this.#s
    const det = await this.#backend('det')
    const dims = [1, 3, size.height, size.width]
    const feeds: Feeds = hasCompactInput(det.inputNames)
      ? { [PIXELS_INPUT]: { type: 'uint8', dims, data: packDetPixels(page, size.width, size.height) } }
      : { [det.inputNames[0]!]: { type: 'float32', dims, data: packDetInput(page, size.width, size.height) } }
    checkCancelled(signal)
    const out = await det.run(feeds, signal ? { signal } : {})
    const map = out[det.outputNames[0]!]
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

  async #classify(crops: readonly Crop[], timing: PageOutput['timing'], signal?: AbortSignal): Promise<ClsDecision[]> {
    const t0 = now()
    const cls = await this.#backend('cls')
    const H = 48
    const W = 192
    const out: ClsDecision[] = new Array(crops.length)
    const batches = ratioBatches(crops.map((c) => c.image.width / c.image.height), this.#s.clsBatchSize)
    const pack = (batch: number[]) => lineFeeds(cls, batch.map((i) => crops[i]!.image), H, W)
    await packAhead(cls, batches, pack, signal ? { signal } : {}, (batch, res) => {
      const probs = res[cls.outputNames[0]!]
      if (!probs) throw new OcrError('MODEL_ERROR', 'classifier returned no output')
      batch.forEach((idx, j) => (out[idx] = clsDecode(probs.data as Float32Array, j)))
    })
    timing.cls += now() - t0
    return out
  }

  async #recognize(crops: readonly Crop[], timing: PageOutput['timing'], signal?: AbortSignal): Promise<Decoded[]> {
    const t0 = now()
    const out: Decoded[] = new Array(crops.length)
    if (crops.length === 0) return out
    const rec = await this.#backend('rec')
    // a recogniser with ArgMax/ReduceMax in its graph (models-repo writes one) gives [n, steps]
    // best classes and probabilities instead of the [n, steps, classes] softmax: ask for those only
    const reduced = hasReducedRecOutputs(rec.outputNames)
    const outputs = reduced ? [REC_ARGMAX_OUTPUT, REC_MAXPROB_OUTPUT] : [rec.outputNames[0]!]
    const H = this.#s.recImageHeight
    const ratios = crops.map((c) => c.image.width / c.image.height)
    const batches = ratioBatches(ratios, this.#s.recBatchSize, { minRatio: this.#s.recImageWidth / H, maxPad: this.#s.recBatchMaxPad })
    // what each line's input looked like: where its ink is places its characters (line-output.ts)
    const inputs: RecInput[] = new Array(crops.length)
    const pack = (batch: number[]) => {
      let maxRatio = this.#s.recImageWidth / H
      for (const i of batch) maxRatio = Math.max(maxRatio, ratios[i]!)
      const W = Math.trunc(H * maxRatio) + this.#s.recMinRightPad
      const feeds = lineFeeds(rec, batch.map((i) => crops[i]!.image), H, W)
      const data = (feeds[PIXELS_INPUT] ?? feeds[rec.inputNames[0]!])!.data as Float32Array | Uint8Array
      batch.forEach((idx, j) => {
        const width = recResizedWidth(crops[idx]!.image, H, W)
        inputs[idx] = { width, height: H, tensorWidth: W, gray: recInputGray(data, j, H, W, width) }
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

/** Inputs packed ahead of running them (see packAhead). */
const PACK_AHEAD_BYTES = 4 << 20

/**
 * Packs the inputs of several batches (up to PACK_AHEAD_BYTES), then runs them back to back, and
 * so on: warping and packing crops streams the page through the caches, and a network run right
 * after finds its weights evicted; runs back to back keep them warm. A chunk's runs go:
 * - to a backend that runs lists of calls (assist.ts: idle workers help) as one list;
 * - else in `model.concurrentRuns` lanes (a model server: that many calls in flight; else one).
 * `take` gets each batch's outputs as they come.
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
    if (canRunEach(model)) {
      await model.runEach(
        chunk.map(([, feeds]) => feeds),
        options,
        (i, outputs) => take(chunk[i]![0], outputs),
      )
      continue
    }
    // lanes take the chunk's runs in order; after a failure no lane starts another
    let taken = 0
    let failed = false
    const lane = async (): Promise<void> => {
      while (!failed && taken < chunk.length) {
        const [batch, feeds] = chunk[taken++]!
        try {
          checkCancelled(options.signal)
          take(batch, await model.run(feeds, options))
        } catch (err) {
          failed = true
          throw err
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(Math.max(1, model.concurrentRuns ?? 1), chunk.length) }, lane))
  }
}

/**
 * The classifier's or recogniser's input for a batch of line crops: normalised float32 [n, 3, H, W],
 * or for a model that normalises in its graph (compact-input.ts) the uint8 pixels and the mask of
 * their columns: a quarter of the bytes to a model server, the same values inside the model.
 */
function lineFeeds(model: Backend, images: readonly RgbImage[], H: number, W: number): Feeds {
  const n = images.length
  if (!hasCompactInput(model.inputNames)) return { [model.inputNames[0]!]: { type: 'float32', dims: [n, 3, H, W], data: packRecBatch(images, H, W) } }
  const { pixels, valid } = packRecPixels(images, H, W)
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
 * The crops of the page turned 180°: quads in the turned page's frame (starting at its top-left),
 * images turned, in the turned page's reading order.
 */
function flipPage(crops: readonly Crop[], width: number, height: number): Crop[] {
  const turn = (q: Quad): Quad => rotateQuadStart(q.map(([x, y]) => unrotatePoint(x, y, 180, width, height)) as Quad, 2)
  const flipped = crops.map((c) => ({
    quad: turn(c.quad),
    source: turn(c.source),
    image: rot180(c.image),
    turned: c.turned,
    flipped: false,
  }))
  return readingOrder(flipped.map((c) => c.quad)).map((i) => flipped[i]!)
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

/** Turned crops must read at least this confidently (length-weighted mean score) to turn the page. */
export const SIDEWAYS_MIN_CONFIDENCE = 0.75
/** The whole-image fallback applies to images whose shorter side is at most this (px). */
export const WHOLE_IMAGE_MAX_SIDE = 160

function meanConfidence(texts: readonly Decoded[]): number {
  let sum = 0
  let n = 0
  for (const t of texts) {
    sum += t.score * t.text.length
    n += t.text.length
  }
  return n === 0 ? 0 : sum / n
}

/** How much confident text a reading holds: Σ score × length over the lines that would be kept. */
function readingQuality(texts: readonly Decoded[], dropScore: number): number {
  let q = 0
  for (const t of texts) if (t.score >= dropScore) q += t.score * t.text.length
  return q
}

/** True when the classifier's confident '180' votes outweigh its confident '0' votes (weighted by crop width). */
function weightedVote(crops: readonly Crop[], votes: readonly ClsDecision[]): boolean {
  let up = 0
  let down = 0
  votes.forEach((v, i) => {
    const w = crops[i]!.image.width / crops[i]!.image.height
    if (v.label === '180') down += w * v.score
    else up += w * v.score
  })
  return down > up
}
