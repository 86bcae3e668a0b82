/**
 * The PP-OCR pipeline for one decoded page: detect → crop → classify → recognise, plus page
 * orientation. Stages are preprocess → backend.run → postprocess; the backends may be local or remote.
 */
import type { EngineSettings } from '../config.js'
import { OcrError } from '../errors.js'
import { rotateQuadStart } from '../geometry/point.js'
import { readingOrder } from '../geometry/reading-order.js'
import { rot180, rotateClockwise, unrotatePoint, type RgbImage } from '../image/image.js'
import { packDetInput, packRecBatch } from '../image/tensor.js'
import { cropText } from '../image/warp.js'
import type { Backend, ModelRole } from '../inference/backend.js'
import { clsDecode, type ClsDecision } from '../models/cls.js'
import { dbPostprocess, detInputSize } from '../models/det-db.js'
import { ctcDecode, ratioBatches, type Decoded } from '../models/rec-ctc.js'
import type { OcrLine, Quad } from '../types.js'

export interface PageOutput {
  lines: OcrLine[]
  rotation: number
  timing: { det: number; cls: number; rec: number }
}

export interface PageOptions {
  useCls: boolean
  signal?: AbortSignal
}

/** Gives the backend of a role, creating it on first use (remote servers may come up later). */
export type BackendProvider = (role: ModelRole) => Promise<Backend>

interface Crop {
  quad: Quad
  image: RgbImage
  /** Turned 90° CCW because it was tall. */
  turned: boolean
  /** Turned 180° by the classifier. */
  flipped: boolean
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
        // sideways page: tall crops were turned CCW; the classifier says whether that made them upright
        const votes = await this.#classify(turned, timing, signal)
        rotation = weightedVote(turned, votes) ? 90 : 270
        crops = await this.#detectAndCrop(rotateClockwise(img, rotation), timing, signal)
      } else {
        decisions = await this.#classify(crops, timing, signal)
        if (crops.length >= 2 && weightedVote(crops, decisions)) {
          // maybe upside down: read it both ways and keep the more confident reading
          const upright = options.useCls ? this.#applyCls(crops, decisions) : crops
          const flipped = flipPage(crops, img.width, img.height)
          const [tu, tf] = [await this.#recognize(upright, timing, signal), await this.#recognize(flipped, timing, signal)]
          if (readingQuality(tf, this.#s.dropScore) > readingQuality(tu, this.#s.dropScore)) {
            rotation = 180
            crops = flipped
            texts = tf
          } else {
            crops = upright
            texts = tu
          }
        }
      }
    }
    if (!texts) {
      if (options.useCls && crops.length > 0) crops = this.#applyCls(crops, decisions ?? (await this.#classify(crops, timing, signal)))
      texts = await this.#recognize(crops, timing, signal)
    }
    const lines: OcrLine[] = []
    crops.forEach((c, i) => {
      const t = texts[i]!
      if (t.score < this.#s.dropScore || t.text.length === 0) return
      // the text's own top-left corner: turned CCW → it was the quad's top-right; flipped → opposite
      const start = (c.turned ? 1 : 0) + (c.flipped ? 2 : 0)
      let box = rotateQuadStart(c.quad, start)
      if (rotation !== 0) box = box.map(([x, y]) => unrotatePoint(x, y, rotation, img.width, img.height)) as Quad
      lines.push({ text: t.text, score: t.score, box })
    })
    return { lines, rotation, timing }
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
    const size = detInputSize(img.width, img.height, s.detLimitSideLen, s.detLimitType)
    const input = packDetInput(img, size.width, size.height)
    const det = await this.#backend('det')
    checkAbort(signal)
    const out = await det.run({ [det.inputNames[0]!]: { type: 'float32', dims: [1, 3, size.height, size.width], data: input } }, signal ? { signal } : {})
    const map = out[det.outputNames[0]!]
    if (!map) throw new OcrError('MODEL_ERROR', 'detector returned no output')
    const mapH = map.dims[map.dims.length - 2]!
    const mapW = map.dims[map.dims.length - 1]!
    const quads = dbPostprocess(map.data as Float32Array, mapW, mapH, img.width, img.height, {
      thresh: s.detThresh,
      boxThresh: s.boxThresh,
      unclipRatio: s.unclipRatio,
      maxCandidates: s.maxCandidates,
      minSize: s.detMinSize,
    })
    const ordered = readingOrder(quads).map((i) => quads[i]!)
    const crops = ordered.map((quad) => {
      const { crop, turned } = cropText(img, quad)
      return { quad, image: crop, turned, flipped: false }
    })
    timing.det += now() - t0
    return crops
  }

  async #classify(crops: readonly Crop[], timing: PageOutput['timing'], signal?: AbortSignal): Promise<ClsDecision[]> {
    const t0 = now()
    const cls = await this.#backend('cls')
    const H = 48
    const W = 192
    const out: ClsDecision[] = new Array(crops.length)
    for (const batch of ratioBatches(crops.map((c) => c.image.width / c.image.height), this.#s.clsBatchSize)) {
      checkAbort(signal)
      const data = packRecBatch(batch.map((i) => crops[i]!.image), H, W)
      const res = await cls.run({ [cls.inputNames[0]!]: { type: 'float32', dims: [batch.length, 3, H, W], data } }, signal ? { signal } : {})
      const probs = res[cls.outputNames[0]!]
      if (!probs) throw new OcrError('MODEL_ERROR', 'classifier returned no output')
      batch.forEach((idx, j) => (out[idx] = clsDecode(probs.data as Float32Array, j)))
    }
    timing.cls += now() - t0
    return out
  }

  async #recognize(crops: readonly Crop[], timing: PageOutput['timing'], signal?: AbortSignal): Promise<Decoded[]> {
    const t0 = now()
    const out: Decoded[] = new Array(crops.length)
    if (crops.length === 0) return out
    const rec = await this.#backend('rec')
    const H = this.#s.recImageHeight
    const ratios = crops.map((c) => c.image.width / c.image.height)
    for (const batch of ratioBatches(ratios, this.#s.recBatchSize)) {
      checkAbort(signal)
      let maxRatio = this.#s.recImageWidth / H
      for (const i of batch) maxRatio = Math.max(maxRatio, ratios[i]!)
      const W = Math.trunc(H * maxRatio)
      const data = packRecBatch(batch.map((i) => crops[i]!.image), H, W)
      const res = await rec.run({ [rec.inputNames[0]!]: { type: 'float32', dims: [batch.length, 3, H, W], data } }, signal ? { signal } : {})
      const probs = res[rec.outputNames[0]!]
      if (!probs || probs.dims.length !== 3) throw new OcrError('MODEL_ERROR', 'recogniser returned no [n, steps, classes] output')
      const [, steps, classes] = probs.dims as [number, number, number]
      if (classes !== this.#charset.length) {
        throw new OcrError('MODEL_ERROR', `recogniser has ${classes} classes but the dictionary has ${this.#charset.length}`)
      }
      batch.forEach((idx, j) => (out[idx] = ctcDecode(probs.data as Float32Array, steps, classes, j, this.#charset)))
    }
    timing.rec += now() - t0
    return out
  }
}

/**
 * The crops of the page turned 180°: quads in the turned page's frame (starting at its top-left),
 * images turned, in the turned page's reading order.
 */
function flipPage(crops: readonly Crop[], width: number, height: number): Crop[] {
  const flipped = crops.map((c) => ({
    quad: rotateQuadStart(c.quad.map(([x, y]) => unrotatePoint(x, y, 180, width, height)) as Quad, 2),
    image: rot180(c.image),
    turned: c.turned,
    flipped: false,
  }))
  return readingOrder(flipped.map((c) => c.quad)).map((i) => flipped[i]!)
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

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new OcrError('CANCELLED', 'job cancelled')
}

