/**
 * TensorFlow Serving REST: model status, signature metadata and `:predict` (columnar `inputs` or
 * row `instances`, and `output_filter`). A servable is a model, one of its versions, or the
 * version label `latest`; the verb rides on the path's last segment (`…/versions/1:predict`), so
 * it is split off the last route parameter. The wire format is src/protocols/tfserving-rest.ts.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { OcrError } from '../../errors.js'
import { decodePredictRequest, encodePredictResponse, encodeTfMetadata, encodeTfStatus } from '../../protocols/tfserving-rest.js'
import type { ModelStore } from '../repository.js'
import { clientGone, methodNotAllowed, requestBody, resource, sendJson, type RouteContext } from './common.js'

interface Servable {
  model: string
  /** '' = the latest served version. */
  version: string
  /** The `:verb` after the path ('' when there is none). */
  verb: string
}

/** The servable a route names; with `verb`, its last parameter ends in the verb, if any. */
function servable(request: FastifyRequest, verb: boolean): Servable {
  const params = { ...(request.params as { model: string; version?: string; label?: string }) }
  const last = params.label !== undefined ? 'label' : params.version !== undefined ? 'version' : 'model'
  const value = params[last]!
  const colon = verb ? value.lastIndexOf(':') : -1
  params[last] = colon >= 0 ? value.slice(0, colon) : value
  if (params.label !== undefined && params.label !== 'latest') {
    throw new OcrError('NOT_FOUND', `Unrecognized servable version label: ${params.label} (this server knows only "latest")`)
  }
  return { model: params.model, version: params.version ?? '', verb: colon >= 0 ? value.slice(colon + 1) : '' }
}

function status(store: ModelStore, { model, version }: Servable): unknown {
  const { model: m } = store.resolve(model, version)
  const versions = version ? m.versions.filter((v) => v.version === version) : m.versions
  return encodeTfStatus(
    versions.map((v) => v.version),
    store.ready ? 'AVAILABLE' : 'LOADING',
  )
}

export const tfservingRoutes: FastifyPluginAsync<RouteContext> = async (app, { store, metrics }) => {
  for (const base of ['/v1/models/:model', '/v1/models/:model/versions/:version', '/v1/models/:model/labels/:label']) {
    resource(app, base, {
      GET: (request, reply) => {
        const s = servable(request, true)
        if (s.verb) throw methodNotAllowed(request, reply, ['POST'])
        return sendJson(reply, 200, status(store, s))
      },
      POST: async (request, reply) => {
        const s = servable(request, true)
        if (!s.verb) throw methodNotAllowed(request, reply, ['GET'])
        if (s.verb === 'classify' || s.verb === 'regress') throw new OcrError('BAD_REQUEST', `:${s.verb} is not supported by this server (ONNX models have only a predict signature)`)
        if (s.verb !== 'predict') throw new OcrError('NOT_FOUND', `unknown method :${s.verb}`)
        const signal = clientGone(reply)
        const text = await metrics.observe('tfserving', s.model, async () => {
          const config = store.resolve(s.model, s.version).model.config
          const predict = decodePredictRequest(requestBody(request), config)
          const outputs = await store.infer(s.model, s.version, predict.inputs, predict.outputFilter, signal)
          return encodePredictResponse(predict.format, outputs)
        })
        return sendJson(reply, 200, text)
      },
    })
    resource(app, `${base}/metadata`, {
      GET: (request, reply) => {
        const { model, version } = servable(request, false)
        const served = store.resolve(model, version).version.version
        return sendJson(reply, 200, encodeTfMetadata(store.metadata(model, version), served))
      },
    })
  }
}
