/**
 * Hardening plugins: security headers with a strict Content-Security-Policy (the web page and
 * Swagger UI load only their own files: no inline script or style), API-key auth (constant-time),
 * and optional per-key rate limits.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ServiceConfig } from '../config.js'
import { OcrError } from '../errors.js'

/** Routes that stay open (no key, no rate limit): probes, metrics, docs and the page itself. */
const OPEN_PREFIXES = ['/healthz', '/readyz', '/metrics', '/docs', '/static/']
/** The page and its icon (browsers ask for /favicon.ico without a key). */
const OPEN_PATHS = ['/', '/favicon.ico']

export function isOpenPath(url: string): boolean {
  const path = url.split('?')[0]!
  return OPEN_PATHS.includes(path) || OPEN_PREFIXES.some((p) => path.startsWith(p))
}

/**
 * The CSP the page satisfies: scripts and styles from this origin only, images drawn from blobs
 * and data: URLs (Swagger UI's icons), fetch to this origin, no framing, no plugins. pdf.js (the
 * page draws PDF pages with it) runs its parser in a module worker from /static/pdfjs/, with eval
 * and wasm off: neither 'unsafe-eval' nor 'wasm-unsafe-eval' is needed.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  workerSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
}

/**
 * Swagger UI (/docs, third-party) injects one inline <style>; its pages alone also allow inline
 * styles. Scripts stay 'self' only.
 */
export const DOCS_CSP = Object.entries({ ...CSP_DIRECTIVES, styleSrc: ["'self'", "'unsafe-inline'"] })
  .map(([name, values]) => `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${values.join(' ')}`)
  .join(';')

function keyDigest(k: string): Buffer {
  return createHash('sha256').update(k).digest()
}

/** Constant-time check of a presented key against every configured key. */
export function keyMatches(presented: string, digests: readonly Buffer[]): boolean {
  const d = keyDigest(presented)
  let ok = false
  for (const k of digests) ok = timingSafeEqual(d, k) || ok
  return ok
}

function presentedKey(headers: FastifyRequest['headers']): string | null {
  const auth = headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim())
    if (m) return m[1]!
  }
  const x = headers['x-api-key']
  return typeof x === 'string' && x ? x : null
}

export async function registerSecurity(app: FastifyInstance, config: ServiceConfig): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    // the service is usually reached over plain HTTP inside a cluster; TLS is the proxy's business
    strictTransportSecurity: false,
  })

  const digests = config.apiKeys.map(keyDigest)
  if (digests.length > 0) {
    app.addHook('onRequest', async (request) => {
      if (isOpenPath(request.url)) return
      const key = presentedKey(request.headers)
      if (!key || !keyMatches(key, digests)) {
        throw new OcrError('UNAUTHORIZED', key ? 'wrong API key' : 'missing API key: send Authorization: Bearer <key> or X-API-Key')
      }
      // who the request is, for the jobs it may see: the key's digest, never the key itself
      request.apiKeyDigest = keyDigest(key).toString('hex')
    })
  }

  if (config.rateLimit) {
    // after auth: a request with a wrong key is refused before it can use a bucket
    await app.register(rateLimit, {
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.windowMs,
      allowList: (request) => isOpenPath(request.url),
      // one bucket per API key (its digest, never the key itself), else per client address
      keyGenerator: (request) => {
        const key = presentedKey(request.headers)
        return key ? `key:${keyDigest(key).toString('hex')}` : `ip:${request.ip}`
      },
      errorResponseBuilder: (_request, ctx) =>
        new OcrError('TOO_MANY_REQUESTS', `rate limit of ${ctx.max} requests per ${config.rateLimit!.windowMs} ms reached; retry in ${ctx.after}`, {
          retryAfterSec: Math.max(1, Math.ceil(ctx.ttl / 1000)),
        }),
    })
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** SHA-256 (hex) of the request's API key, when keys are configured (async jobs belong to it). */
    apiKeyDigest?: string
  }
}
