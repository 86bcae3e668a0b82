/**
 * The web page: its own files read once at start-up (no build step, no CDN), the favicon, and
 * pdf.js's browser build served from the pdfjs-dist package (the page draws PDF pages with it).
 * The page learns the server's limits from data attributes of its <body>, so it can send each
 * file once, to the endpoint that will take it.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import type { ServiceConfig } from '../../config.js'
import type { Ocr } from '../../engine.js'
import { PREVIEW_MAX_SIDE } from './preview.js'

/** Where the page loads pdf.js from (under /static/: open without an API key, like the page). */
export const PDFJS_PREFIX = '/static/pdfjs/'

/**
 * The parts of pdfjs-dist the page uses: the legacy browser build (it runs in every browser the
 * page supports) and its worker, CMaps (CJK encodings), the standard fonts, and the JS JPEG 2000
 * decoder (the page turns wasm off, so the CSP needs no 'wasm-unsafe-eval').
 */
const PDFJS_FILES = /^\/(legacy\/build\/pdf(\.worker)?\.min\.mjs|cmaps\/[\w.-]+\.bcmap|standard_fonts\/[\w.-]+\.(pfb|ttf)|wasm\/openjpeg_nowasm_fallback\.js)$/

const FILES: Record<string, { file: string; type: string }> = {
  '/static/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/static/view.js': { file: 'view.js', type: 'text/javascript; charset=utf-8' },
  '/static/doc-info.js': { file: 'doc-info.js', type: 'text/javascript; charset=utf-8' },
  '/static/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/favicon.ico': { file: 'favicon.ico', type: 'image/x-icon' },
}

/** What the page needs to know to route an upload: the same limits the routes enforce. */
export function pageLimits(config: ServiceConfig, ocr: Ocr): Record<string, string> {
  return {
    'max-body-bytes': String(config.maxBodyBytes),
    'jobs-max-body-bytes': String(config.jobs.maxBodyBytes),
    // as POST /v1/ocr counts it: a document the engine would refuse anyway is not sent to a job
    'sync-max-pages': String(Math.min(config.syncMaxPages, ocr.settings.maxPages)),
    'preview-max-side': String(PREVIEW_MAX_SIDE.max),
    // the model packs, the default first: the page offers a choice when there are several
    models: ocr.models.map((m) => m.name).join(','),
    pdfjs: PDFJS_PREFIX,
  }
}

export async function registerWebRoutes(app: FastifyInstance, config: ServiceConfig, ocr: Ocr): Promise<void> {
  const dir = new URL('../../../public/', import.meta.url)
  const attrs = Object.entries(pageLimits(config, ocr))
    .map(([k, v]) => ` data-${k}="${v.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`)}"`)
    .join('')
  const html = readFileSync(new URL('index.html', dir), 'utf8').replace('<body data-state="idle">', `<body data-state="idle"${attrs}>`)
  if (!html.includes(attrs)) throw new Error('public/index.html: no <body data-state="idle"> to put the limits on')
  const pages: Record<string, { body: Buffer | string; type: string }> = { '/': { body: html, type: 'text/html; charset=utf-8' } }
  for (const [path, { file, type }] of Object.entries(FILES)) pages[path] = { body: readFileSync(new URL(file, dir)), type }
  for (const [path, { body, type }] of Object.entries(pages)) {
    app.get(path, { schema: { hide: true } }, async (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(body))
  }

  const pdfjsRoot = dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'))
  await app.register(fastifyStatic, {
    root: pdfjsRoot,
    prefix: PDFJS_PREFIX,
    decorateReply: false,
    index: false,
    allowedPath: (path) => PDFJS_FILES.test(path),
  })
}
