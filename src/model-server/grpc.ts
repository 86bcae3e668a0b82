/**
 * The model server's gRPC face: `inference.GRPCInferenceService` (ServerLive, ServerReady,
 * ModelReady, ServerMetadata, ModelMetadata, ModelInfer) with raw tensor contents. Errors map to
 * gRPC status codes: INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE (not ready / overloaded),
 * DEADLINE_EXCEEDED, CANCELLED, INTERNAL.
 */
import type * as http2 from 'node:http2'
import * as grpc from '@grpc/grpc-js'
import { toOcrError, type ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'
import {
  GRPC_CHANNEL_OPTIONS,
  GRPC_RECEIVE_WINDOW_BYTES,
  loadInferenceService,
  tensorsFromGrpc,
  tensorsToGrpc,
  type GrpcInferRequest,
  type GrpcInferResponse,
  type GrpcModelMetadataResponse,
  type GrpcModelRequest,
  type GrpcServerMetadataResponse,
} from '../protocols/kserve-grpc.js'
import type { ModelServerMetrics } from './metrics.js'
import type { ModelStore } from './repository.js'

const GRPC_STATUS: Partial<Record<ErrorCode, grpc.status>> = {
  BAD_REQUEST: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  PAYLOAD_TOO_LARGE: grpc.status.RESOURCE_EXHAUSTED,
  CANCELLED: grpc.status.CANCELLED,
  NOT_READY: grpc.status.UNAVAILABLE,
  OVERLOADED: grpc.status.UNAVAILABLE,
  SHUTTING_DOWN: grpc.status.UNAVAILABLE,
  TIMEOUT: grpc.status.DEADLINE_EXCEEDED,
}

export interface GrpcOptions {
  logger: Logger
  serverName: string
  serverVersion: string
}

type Handler<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void

export function createGrpcServer(store: ModelStore, metrics: ModelServerMetrics, opts: GrpcOptions): grpc.Server {
  const { logger } = opts
  const fail = <Res>(callback: grpc.sendUnaryData<Res>, err: unknown): void => {
    const e = toOcrError(err)
    const code = GRPC_STATUS[e.code] ?? grpc.status.INTERNAL
    if (code === grpc.status.INTERNAL) logger.error({ err: e, code: e.code }, 'model-server gRPC call failed')
    callback({ code, details: e.message, name: 'ServiceError', message: e.message, metadata: new grpc.Metadata() })
  }
  const unary =
    <Req, Res>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>): Handler<Req, Res> =>
    (call, callback) => {
      Promise.resolve()
        .then(() => fn(call.request, call))
        .then(
          (res) => callback(null, res),
          (err: unknown) => fail(callback, err),
        )
    }

  const handlers = {
    ServerLive: unary(() => ({ live: true })),
    ServerReady: unary(() => ({ ready: store.ready })),
    ModelReady: unary((req: GrpcModelRequest) => ({ ready: store.isReady(req.name, req.version) })),
    ServerMetadata: unary((): GrpcServerMetadataResponse => ({ name: opts.serverName, version: opts.serverVersion, extensions: [] })),
    ModelMetadata: unary((req: GrpcModelRequest): GrpcModelMetadataResponse => store.metadata(req.name, req.version)),
    ModelInfer: unary((req: GrpcInferRequest, call: grpc.ServerUnaryCall<GrpcInferRequest, GrpcInferResponse>): Promise<GrpcInferResponse> => {
      const model = req.model_name
      const ac = new AbortController()
      call.on('cancelled', () => ac.abort())
      return metrics.observe('kserve-grpc', model, async () => {
        const version = req.model_version ?? ''
        const { version: served } = store.resolve(model, version)
        const inputs = tensorsFromGrpc(req.inputs, req.raw_input_contents, 'input')
        const requested = (req.outputs ?? []).map((o) => o.name)
        const outputs = await store.infer(model, version, inputs, requested, ac.signal)
        const { entries, raw } = tensorsToGrpc(outputs)
        return { model_name: model, model_version: served.version, id: req.id ?? '', outputs: entries, raw_output_contents: raw }
      })
    }),
  }

  const server = new grpc.Server(GRPC_CHANNEL_OPTIONS)
  widenReceiveWindows(server, GRPC_RECEIVE_WINDOW_BYTES, logger)
  server.addService(loadInferenceService().service, handlers as unknown as grpc.UntypedServiceImplementation)
  return server
}

/**
 * grpc-js's server keeps HTTP/2's 64 KB receive windows (it reads no option for them), so a
 * client sending a 1.8 MB detector input stops every 64 KB for the server's WINDOW_UPDATE.
 * Each HTTP/2 session the server opens is given a wider stream and connection window instead.
 * The hook is grpc-js's `createHttp2Server` (not public API); without it the server runs with
 * the defaults and says so.
 */
function widenReceiveWindows(server: grpc.Server, bytes: number, logger: Logger): void {
  const internals = server as unknown as { createHttp2Server?: (credentials: grpc.ServerCredentials) => http2.Http2Server }
  const create = internals.createHttp2Server
  if (typeof create !== 'function') {
    logger.warn('grpc-js has no createHttp2Server: the gRPC face keeps HTTP/2\'s 64 KB receive windows')
    return
  }
  internals.createHttp2Server = function (this: grpc.Server, credentials: grpc.ServerCredentials) {
    const h2 = create.call(this, credentials)
    h2.on('session', (session: http2.ServerHttp2Session) => {
      session.settings({ initialWindowSize: bytes })
      session.setLocalWindowSize(bytes)
    })
    return h2
  }
}

/** Binds the server; resolves with the bound port (0 = any free port). */
export function bindGrpc(server: grpc.Server, host: string, port: number): Promise<number> {
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)))
  })
}
