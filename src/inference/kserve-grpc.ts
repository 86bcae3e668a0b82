/**
 * The KServe v2 client over gRPC (`inference.GRPCInferenceService`, Triton's port 8001), with
 * @grpc/grpc-js. The service definition, messages and tensor conversions are
 * src/protocols/kserve-grpc.ts; tensors travel as raw little-endian bytes, the message size limits
 * are raised (grpc's 4 MiB default is smaller than one 960×960 detection tensor), and every call
 * has a deadline.
 */
import * as grpc from '@grpc/grpc-js'
import type { RemoteSettings } from '../config.js'
import { OcrError, isOcrError } from '../errors.js'
import type { Logger } from '../logger.js'
import {
  GRPC_CHANNEL_OPTIONS,
  loadInferenceService,
  tensorsFromGrpc,
  tensorsToGrpc,
  type GrpcInferRequest,
  type GrpcInferResponse,
  type GrpcModelMetadataResponse,
  type GrpcModelRequest,
  type GrpcServerMetadataResponse,
  type GrpcTensorMetadata,
} from '../protocols/kserve-grpc.js'
import type { ModelMetadata, TensorMeta } from '../protocols/metadata.js'
import type { Feeds, RunOptions, Tensor } from './backend.js'
import { CallScope, ConnectionFailure, callWithRetries, probe } from './remote-call.js'
import type { RemoteClient } from './remote.js'
import { grpcTarget } from './remote-url.js'

type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: Res) => void,
) => grpc.ClientUnaryCall

interface InferenceStub extends grpc.Client {
  ServerLive: Unary<Record<string, never>, { live: boolean }>
  ServerReady: Unary<Record<string, never>, { ready: boolean }>
  ModelReady: Unary<GrpcModelRequest, { ready: boolean }>
  ServerMetadata: Unary<Record<string, never>, GrpcServerMetadataResponse>
  ModelMetadata: Unary<GrpcModelRequest, GrpcModelMetadataResponse>
  ModelInfer: Unary<GrpcInferRequest, GrpcInferResponse>
}

export class KserveGrpcClient implements RemoteClient {
  readonly #remote: RemoteSettings
  readonly #logger: Logger
  readonly #stub: InferenceStub

  constructor(remote: RemoteSettings, logger: Logger) {
    this.#remote = remote
    this.#logger = logger
    const { target, secure } = grpcTarget(remote.url)
    const Service = loadInferenceService()
    const credentials = secure ? grpc.credentials.createSsl() : grpc.credentials.createInsecure()
    this.#stub = new Service(target, credentials, GRPC_CHANNEL_OPTIONS) as unknown as InferenceStub
  }

  /** One unary call under the scope's deadline, cancelled when the scope's signal fires. */
  #call<Req, Res>(method: Unary<Req, Res>, request: Req, scope: CallScope, what: string): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const signal = scope.signal
      if (signal.aborted) return reject(scope.abortError(what))
      const onAbort = (): void => call.cancel()
      const call = method.call(this.#stub, request, new grpc.Metadata(), { deadline: scope.deadlineAt }, (err, response) => {
        signal.removeEventListener('abort', onAbort)
        if (err) return reject(this.#mapError(err, scope, what))
        if (!response) return reject(new OcrError('MODEL_ERROR', `${what}: empty gRPC answer`))
        resolve(response)
      })
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  #mapError(err: grpc.ServiceError, scope: CallScope, what: string): Error {
    if (scope.signal.aborted) return scope.abortError(what)
    switch (err.code) {
      case grpc.status.UNAVAILABLE:
        return new ConnectionFailure(`gRPC UNAVAILABLE: ${err.details}`, { cause: err })
      case grpc.status.DEADLINE_EXCEEDED:
        return new OcrError('TIMEOUT', `${what}: gRPC deadline exceeded (OCR_REMOTE_TIMEOUT_MS)`, { cause: err })
      default:
        return new OcrError('MODEL_ERROR', `${what}: model server answered gRPC ${grpc.status[err.code] ?? err.code}: ${err.details}`, { cause: err })
    }
  }

  serverReady(signal?: AbortSignal): Promise<boolean> {
    return probe('ServerReady', this.#remote, this.#logger, signal, async (scope) => (await this.#call(this.#stub.ServerReady, {}, scope, 'ServerReady')).ready === true)
  }

  modelReady(model: string, signal?: AbortSignal): Promise<boolean> {
    const req = { name: model, version: this.#remote.modelVersion }
    return probe('ModelReady', this.#remote, this.#logger, signal, async (scope) => (await this.#call(this.#stub.ModelReady, req, scope, 'ModelReady')).ready === true)
  }

  modelMetadata(model: string): Promise<ModelMetadata> {
    const what = `metadata of model "${model}"`
    return callWithRetries(what, this.#remote, this.#logger, undefined, async (_signal, scope) => {
      const res = await this.#call(this.#stub.ModelMetadata, { name: model, version: this.#remote.modelVersion }, scope, what)
      const meta = (t: GrpcTensorMetadata): TensorMeta => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) })
      return {
        name: res.name || model,
        versions: res.versions,
        ...(res.platform ? { platform: res.platform } : {}),
        inputs: res.inputs.map(meta),
        outputs: res.outputs.map(meta),
      }
    })
  }

  infer(model: string, feeds: Feeds, outputNames: readonly string[], options?: RunOptions): Promise<Record<string, Tensor>> {
    const what = `inference on model "${model}"`
    const { entries, raw } = tensorsToGrpc(Object.entries(feeds).map(([name, tensor]) => ({ name, tensor })))
    const request: GrpcInferRequest = {
      model_name: model,
      model_version: this.#remote.modelVersion,
      inputs: entries,
      outputs: outputNames.map((name) => ({ name })),
      raw_input_contents: raw,
    }
    return callWithRetries(what, this.#remote, this.#logger, options?.signal, async (_signal, scope) => {
      const res = await this.#call(this.#stub.ModelInfer, request, scope, what)
      const result: Record<string, Tensor> = {}
      try {
        for (const o of tensorsFromGrpc(res.outputs, res.raw_output_contents, 'output')) result[o.name] = o.tensor
      } catch (err) {
        throw new OcrError('MODEL_ERROR', `${what}: malformed answer: ${isOcrError(err) ? err.message : String(err)}`, { cause: err })
      }
      for (const name of outputNames) {
        if (!result[name]) throw new OcrError('MODEL_ERROR', `${what}: the answer lacks output "${name}"`)
      }
      return result
    })
  }

  async close(): Promise<void> {
    this.#stub.close()
  }
}
