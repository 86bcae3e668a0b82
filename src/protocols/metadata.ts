/**
 * Model metadata in KServe v2's shape ($metadata_model_response). The gRPC ModelMetadataResponse
 * has the same fields, and TF Serving's signature metadata is read into it, so clients and the
 * model server speak of a model's tensors in this one form.
 */
export interface TensorMeta {
  name: string
  /** KServe datatype (FP32, INT64, ...). */
  datatype: string
  /** -1 for variable dimensions. */
  shape: number[]
}

export interface ModelMetadata {
  name: string
  versions?: string[]
  platform?: string
  inputs: TensorMeta[]
  outputs: TensorMeta[]
}
