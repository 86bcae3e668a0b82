/** Prometheus: the model server's own registry in the text exposition format. */
import type { FastifyPluginAsync } from 'fastify'
import { resource, type RouteContext } from './common.js'

export const metricsRoutes: FastifyPluginAsync<RouteContext> = async (app, { metrics }) => {
  resource(app, '/metrics', {
    GET: async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  })
}
