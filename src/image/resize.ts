/**
 * Resampling tables with OpenCV's INTER_LINEAR semantics (half-pixel centres, edge clamping, no
 * antialiasing), which PaddleOCR's cv2.resize uses. Tensor packers fuse these with normalisation.
 */
export interface LinearTable {
  /** Left/top source index per destination index. */
  i0: Int32Array
  i1: Int32Array
  /** Weight of i1 (weight of i0 = 1 − w). */
  w: Float32Array
}

export function linearTable(src: number, dst: number): LinearTable {
  const scale = src / dst
  const i0 = new Int32Array(dst)
  const i1 = new Int32Array(dst)
  const w = new Float32Array(dst)
  for (let d = 0; d < dst; d++) {
    let f = (d + 0.5) * scale - 0.5
    let s = Math.floor(f)
    f -= s
    if (s < 0) {
      f = 0
      s = 0
    }
    if (s >= src - 1) {
      f = 0
      s = src - 1
    }
    i0[d] = s
    i1[d] = Math.min(s + 1, src - 1)
    w[d] = f
  }
  return { i0, i1, w }
}
