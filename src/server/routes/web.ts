/** The web page: three static files read once at start-up (no build step, no CDN). */
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/static/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/static/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
}

export function registerWebRoutes(app: FastifyInstance): void {
  const dir = new URL('../../../public/', import.meta.url)
  for (const [path, { file, type }] of Object.entries(FILES)) {
    const body = readFileSync(new URL(file, dir))
    app.get(path, { schema: { hide: true } }, async (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(body))
  }
}
