/**
 * Classifier decoding: PaddleOCR's ClsPostProcess / PaddleX's Topk (top 1) for the line
 * classifier (0/180°) and the page classifier (0/90/180/270°). The labels are the pack's
 * (label_list), given as the angle each output class stands for.
 */

export interface ClsDecision {
  label: '0' | '180'
  score: number
}

/** Rows whose sum is this close to 1 are probability distributions (a softmax's output). */
const SUM_TOLERANCE = 1e-3

/**
 * Row `i` of `scores` [n, classes]: the best class (the first on ties) and its probability. A row
 * that is not a distribution (a graph that ends in logits) is softmaxed first.
 */
export function classDecode(scores: Float32Array, classes: number, i: number): { index: number; score: number } {
  const off = i * classes
  let index = 0
  let sum = 0
  for (let c = 0; c < classes; c++) {
    const v = scores[off + c]!
    sum += v
    if (v > scores[off + index]!) index = c
  }
  const best = scores[off + index]!
  if (Math.abs(sum - 1) <= SUM_TOLERANCE && best >= 0) return { index, score: best }
  let z = 0
  for (let c = 0; c < classes; c++) z += Math.exp(scores[off + c]! - best)
  return { index, score: 1 / z }
}

/** The line classifier's vote on sample `i` of `probs` [n, angles.length]. */
export function clsDecode(probs: Float32Array, i: number, angles: ReadonlyArray<0 | 180>): ClsDecision {
  const { index, score } = classDecode(probs, angles.length, i)
  return { label: angles[index] === 180 ? '180' : '0', score }
}
