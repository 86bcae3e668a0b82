/**
 * KServe v2 REST (the Open Inference Protocol's HTTP face) with Triton's binary tensor data
 * extension: server metadata and health, model metadata and readiness, inference. The wire format
 * is src/protocols/kserve-rest.ts.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { BINARY_TENSOR_EXTENSION, INFERENCE_HEADER_CONTENT_LENGTH, decodeInferRequest, encodeInferResponse } from '../../protocols/kserve-rest.js'
import { clientGone, requestBody, resource, sendEmpty, sendJson, sendMessage, type RouteContext } from './common.js'

/** The model and version a route names ('' = the latest served version). */
function target(request: FastifyRequest): { model: string; version: string } {
  const { model, version } = request.params as { model: string; version?: string }
  return { model, version: version ?? '' }
}

export const kserveRoutes: FastifyPluginAsync<RouteContext> = async (app, { store, metrics, server }) => {
  resource(app, '/v2', { GET: (_request, reply) => sendJson(reply, 200, { name: server.name, version: server.version, extensions: [BINARY_TENSOR_EXTENSION] }) })
  resource(app, '/v2/health/live', { GET: (_request, reply) => sendEmpty(reply, 200) })
  // KServe's readiness answers: 200 = true, 4xx = false
  resource(app, '/v2/health/ready', { GET: (_request, reply) => sendEmpty(reply, store.ready ? 200 : 400) })

  for (const path of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    resource(app, path, {
      GET: (request, reply) => {
        const { model, version } = target(request)
        return sendJson(reply, 200, store.metadata(model, version))
      },
    })
    resource(app, `${path}/ready`, {
      GET: (request, reply) => {
        const { model, version } = target(request)
        return sendEmpty(reply, store.isReady(model, version) ? 200 : 400)
      },
    })
    resource(app, `${path}/infer`, {
      POST: async (request, reply) => {
        const { model, version } = target(request)
        const signal = clientGone(reply)
        const answer = await metrics.observe('kserve-http', model, async () => {
          const served = store.resolve(model, version).version.version
          const req = decodeInferRequest(requestBody(request), request.headers[INFERENCE_HEADER_CONTENT_LENGTH])
          const outputs = await store.infer(model, version, req.inputs, req.outputs?.map((o) => o.name), signal)
          return encodeInferResponse(req, { model, version: served, outputs })
        })
        return sendMessage(reply, answer)
      },
    })
  }
}
