/**
 * CTC greedy decoding (PaddleOCR CTCLabelDecode) over the recogniser's classes as its pack orders
 * them (src/packs/spec.ts ctcCharset: 0 = the blank).
 */

/**
 * One character the decoding emitted: its dictionary class, the run of CTC steps whose arg-max it
 * is ([start, end), end exclusive) and its probability (the run's first step's, as PaddleOCR's
 * score takes it). Step t of a recogniser input W px wide covers columns [t·W/steps, (t+1)·W/steps).
 */
export interface CtcChar {
  cls: number
  start: number
  end: number
  prob: number
}

export interface Decoded {
  text: string
  /** Mean of the characters' probabilities (0 when none). */
  score: number
  /** The emitted characters in order; text is their dictionary entries joined. */
  chars: CtcChar[]
  /** CTC steps of the recogniser output the line was decoded from. */
  steps: number
}

/**
 * A class whose probability is above this is the step's arg-max when the step's probabilities sum
 * to at most 1 + (PROB_SURE − 0.5) · 2: every other class then has less than 0.5. The margin over
 * 0.5 covers the float error of the model's softmax (its sums are 1 ± ~1e-6).
 */
const PROB_SURE = 0.5001
/** Rows whose sum is this close to 1 are probability distributions (a softmax's output). */
const SUM_TOLERANCE = 1e-4

/**
 * Decodes `probs` ([n, steps, classes], row-major) for sample `n`: argmax per step, collapse
 * repeats, drop blanks (index 0); score = mean of the kept steps' max probability (0 when empty).
 * Each character keeps the steps it spans (CtcChar), which place it in the line.
 *
 * When the first step's row sums to 1 (the recogniser ends in a softmax), a step's scan stops at
 * the first class above PROB_SURE, which can only be the arg-max: most steps are a confident blank
 * or character, so most rows are not read to the end. Logits or other scores are scanned whole.
 */
export function ctcDecode(probs: Float32Array, steps: number, classes: number, sample: number, charset: readonly string[]): Decoded {
  let text = ''
  let sum = 0
  const chars: CtcChar[] = []
  let prev = -1
  const base = sample * steps * classes
  let sure = Infinity // no early stop until the first row is known to be a distribution
  for (let t = 0; t < steps; t++) {
    const off = base + t * classes
    let best = 0
    let bestP = probs[off]!
    if (bestP <= sure) {
      for (let c = 1; c < classes; c++) {
        const v = probs[off + c]!
        if (v > bestP) {
          bestP = v
          best = c
          if (v > sure) break
        }
      }
    }
    if (t === 0) {
      let rowSum = 0
      for (let c = 0; c < classes; c++) rowSum += probs[off + c]!
      if (Math.abs(rowSum - 1) <= SUM_TOLERANCE) sure = PROB_SURE
    }
    if (best !== prev) {
      if (best !== 0) {
        text += charset[best] ?? ''
        sum += bestP
        chars.push({ cls: best, start: t, end: t + 1, prob: bestP })
      }
    } else if (best !== 0) {
      chars[chars.length - 1]!.end = t + 1
    }
    prev = best
  }
  return { text, score: chars.length === 0 ? 0 : sum / chars.length, chars, steps }
}

/** Output names of the reduced recogniser (rec-reduced.ts): per-step best class and its probability. */
export const REC_ARGMAX_OUTPUT = 'argmax'
export const REC_MAXPROB_OUTPUT = 'maxprob'

/** True when a recogniser has the reduced outputs (then only those need to be fetched). */
export function hasReducedRecOutputs(outputNames: readonly string[]): boolean {
  return outputNames.includes(REC_ARGMAX_OUTPUT) && outputNames.includes(REC_MAXPROB_OUTPUT)
}

/**
 * The same decoding from the per-step best class and its probability ([n, steps] each), as the
 * reduced recogniser (rec-reduced.ts: ArgMax / ReduceMax in the graph) gives them. Same text,
 * score and character steps as ctcDecode() on the softmax they come from. An index outside the charset is an error.
 */
export function ctcDecodeBest(
  index: BigInt64Array | Int32Array,
  prob: Float32Array,
  steps: number,
  sample: number,
  charset: readonly string[],
): Decoded {
  let text = ''
  let sum = 0
  const chars: CtcChar[] = []
  let prev = -1
  const base = sample * steps
  for (let t = 0; t < steps; t++) {
    const best = Number(index[base + t]!)
    if (!(best >= 0 && best < charset.length)) throw new RangeError(`class index ${best} outside the dictionary (${charset.length} classes)`)
    if (best !== prev) {
      if (best !== 0) {
        text += charset[best]
        const p = prob[base + t]!
        sum += p
        chars.push({ cls: best, start: t, end: t + 1, prob: p })
      }
    } else if (best !== 0) {
      chars[chars.length - 1]!.end = t + 1
    }
    prev = best
  }
  return { text, score: chars.length === 0 ? 0 : sum / chars.length, chars, steps }
}

export interface RatioBatchOptions {
  /** Every batch is at least this wide (ratio units: width / height); PaddleOCR: 320 / 48. */
  minRatio?: number
  /**
   * Most padding a batch may put on its narrowest crop, as a fraction of the batch's width: a
   * batch stops taking crops once the next one would make it wider than narrowest / (1 − maxPad).
   * 1 (default) = PaddleOCR's batching: full batches whatever the widths.
   */
  maxPad?: number
}

/**
 * Indices of `ratios` sorted ascending (PaddleOCR sorts crops by width/height before batching so
 * each batch pads little), cut into batches of at most `batchSize` (see RatioBatchOptions.maxPad).
 */
export function ratioBatches(ratios: readonly number[], batchSize: number, options: RatioBatchOptions = {}): number[][] {
  const { minRatio = 0, maxPad = 1 } = options
  const order = ratios.map((_, i) => i).sort((a, b) => ratios[a]! - ratios[b]! || a - b)
  const out: number[][] = []
  let batch: number[] = []
  let limit = Infinity
  for (const i of order) {
    const width = Math.max(minRatio, ratios[i]!)
    if (batch.length === batchSize || width > limit) {
      out.push(batch)
      batch = []
    }
    if (batch.length === 0) limit = maxPad >= 1 ? Infinity : width / (1 - maxPad)
    batch.push(i)
  }
  if (batch.length > 0) out.push(batch)
  return out
}
