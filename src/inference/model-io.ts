/**
 * Tensor names by which a client tells a model's variant: a model that `ocrserve models-repo`
 * gave compact inputs (models/onnx/compact-input.ts) takes uint8 `pixels` (and, for the
 * classifier and recogniser, `pixels_valid`) instead of float32 `x`. Here, below both, because the
 * pipeline packs those inputs and the TF Serving client keeps all of such a signature's inputs.
 */

export const PIXELS_INPUT = 'pixels'
export const PIXELS_VALID_INPUT = 'pixels_valid'

/** True when a model (by its input names) takes compact uint8 pixels. */
export function hasCompactInput(inputNames: readonly string[]): boolean {
  return inputNames.includes(PIXELS_INPUT)
}
