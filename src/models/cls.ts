/** The 0/180° angle classifier's decoding (PaddleOCR ClsPostProcess): labels ['0', '180']. */

export const CLS_LABELS = ['0', '180'] as const

export interface ClsDecision {
  label: (typeof CLS_LABELS)[number]
  score: number
}

/** Decodes probs [n, 2] for sample i. */
export function clsDecode(probs: Float32Array, i: number): ClsDecision {
  const p0 = probs[i * 2]!
  const p1 = probs[i * 2 + 1]!
  return p1 > p0 ? { label: '180', score: p1 } : { label: '0', score: p0 }
}
