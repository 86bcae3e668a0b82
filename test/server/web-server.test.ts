/**
 * What the web page needs from the server, against a real listening service: POST /v1/preview (a
 * page of an image document as a PNG in the frame of the OCR result's boxes, scaled to max_side,
 * within the service's limits), pdf.js's browser build and the favicon (open, under the CSP), and
 * the limits the page routes uploads by.
 */
import { readFileSync } from 'node:fs'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import { startService, type Service } from '../../src/server/index.js'
import { makePdf, textPage } from '../fixtures/pdfs.js'
import { toBmp } from '../helpers/images.js'

const KEY = 'preview-test-key'
const MB = 1024 * 1024
let svc: Service
/** Three 400 × 300 pages, each one flat grey level: 30, 120, 210. */
let tiff3: Buffer
const SHADES = [30, 120, 210]

beforeAll(async () => {
  const pages = await Promise.all(SHADES.map((v) => sharp({ create: { width: 400, height: 300, channels: 3, background: { r: v, g: v, b: v } } }).png().toBuffer()))
  tiff3 = await sharp(pages, { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
  const limits = { OCR_API_KEYS: KEY, OCR_MAX_PIXELS: '2000000', OCR_MAX_BODY_BYTES: String(1 * MB), OCR_JOBS_MAX_BODY_BYTES: String(2 * MB), OCR_SYNC_MAX_PAGES: '3' }
  svc = await startService(loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1', ...limits }))
})

afterAll(async () => {
  await svc?.close()
})

function preview(body: Uint8Array, query = '', type = 'image/tiff', key: string | null = KEY): Promise<Response> {
  return fetch(`${svc.url}/v1/preview${query}`, { method: 'POST', headers: { 'content-type': type, ...(key ? { 'x-api-key': key } : {}) }, body })
}

async function png(res: Response) {
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('image/png')
  const bytes = Buffer.from(await res.arrayBuffer())
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true })
  return { data, info, width: Number(res.headers.get('x-page-width')), height: Number(res.headers.get('x-page-height')), pages: Number(res.headers.get('x-page-count')) }
}

async function error(res: Response, status: number, code: string) {
  expect(res.status).toBe(status)
  const body = (await res.json()) as { error: { code: string; message: string } }
  expect(body.error.code).toBe(code)
  return body.error.message
}

describe('POST /v1/preview', () => {
  it('draws the asked page of a multi-page TIFF, at its own size when it fits', async () => {
    for (const [i, shade] of SHADES.entries()) {
      const p = await png(await preview(tiff3, `?page=${i + 1}`))
      expect([p.info.width, p.info.height, p.width, p.height, p.pages]).toEqual([400, 300, 400, 300, 3])
      // every pixel is that page's grey
      expect(new Set(p.data)).toEqual(new Set([shade]))
    }
    // page 1 by default; no caching of a private document
    const res = await preview(tiff3)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(new Set((await png(res)).data)).toEqual(new Set([SHADES[0]]))
  })

  it('scales a larger page to fit max_side, and says the page\'s full size', async () => {
    const p = await png(await preview(tiff3, '?page=2&max_side=100'))
    expect([p.info.width, p.info.height]).toEqual([100, 75])
    expect([p.width, p.height]).toEqual([400, 300])
  })

  it('in the frame of the OCR result: EXIF orientation applied as the engine applies it', async () => {
    // a photo stored sideways with EXIF orientation 6 (turn 90° clockwise to view)
    const jpeg = readFileSync(new URL('../fixtures/real/images/line/tesseractjs_simple-90.jpg', import.meta.url))
    const stored = await sharp(jpeg).metadata()
    expect(stored.orientation).toBe(6)
    const p = await png(await preview(jpeg, '', 'image/jpeg'))
    const ocr = (await (await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-api-key': KEY }, body: jpeg })).json()) as { width: number; height: number }
    expect([p.width, p.height]).toEqual([ocr.width, ocr.height])
    expect([p.width, p.height]).toEqual([stored.height, stored.width])
    expect(Math.abs(p.info.width / p.info.height - ocr.width / ocr.height)).toBeLessThan(0.01)
  })

  it('takes documents up to the jobs body limit (the page previews what it sends to a job)', async () => {
    // 1.5 MB of noise: over OCR_MAX_BODY_BYTES (1 MB), within OCR_JOBS_MAX_BODY_BYTES (2 MB)
    const noise = Buffer.alloc(800 * 700 * 3)
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24
    const big = await sharp(noise, { raw: { width: 800, height: 700, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer()
    expect(big.length).toBeGreaterThan(1 * MB)
    expect(big.length).toBeLessThan(2 * MB)
    expect((await png(await preview(big, '?max_side=64', 'image/png'))).info.width).toBe(64)
    const huge = Buffer.concat([big, Buffer.alloc(2 * MB - big.length + 1)])
    expect(await error(await preview(huge, '', 'image/png'), 413, 'PAYLOAD_TOO_LARGE')).toBeTruthy()
  })

  it.each([
    ['a page past the end', '?page=4', 400, 'BAD_PAGE_RANGE', /page 4 was asked for, but the document has 3 pages/],
    ['max_side over the limit', '?max_side=5000', 400, 'BAD_REQUEST', /max_side/],
    ['page 0', '?page=0', 400, 'BAD_REQUEST', /page/],
    ['an unknown parameter', '?zoom=2', 400, 'BAD_REQUEST', /zoom|additional/],
  ])('%s: %s', async (_what, query, status, code, message) => {
    expect(await error(await preview(tiff3, query), status, code)).toMatch(message)
  })

  it('refuses what it does not draw, naming what it does', async () => {
    const pdf = await makePdf([textPage(['HELLO'])])
    expect(await error(await preview(pdf, '', 'application/pdf'), 415, 'UNSUPPORTED_MEDIA')).toMatch(/JPEG, PNG, WebP, GIF or TIFF.*pdf\.js/)
    const bmp = await toBmp(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer())
    expect(await error(await preview(bmp, '', 'image/bmp'), 415, 'UNSUPPORTED_MEDIA')).toMatch(/BMP/)
    expect(await error(await preview(Buffer.from('not an image at all'), '', 'application/octet-stream'), 415, 'UNSUPPORTED_MEDIA')).toMatch(/supported/)
    expect(await error(await preview(Buffer.from('{"image": "AAAA"}'), '', 'application/json'), 415, 'UNSUPPORTED_MEDIA')).toMatch(/raw body/)
    expect(await error(await preview(tiff3.subarray(0, 200)), 422, 'UNDECODABLE_IMAGE')).toBeTruthy()
    expect(await error(await preview(Buffer.alloc(0)), 400, 'BAD_REQUEST')).toMatch(/empty/)
  })

  it('holds the reading limits: pixels from the header, before decoding', async () => {
    // 2000 × 1500 = 3 MP > OCR_MAX_PIXELS (2 MP), a few KiB of PNG
    const large = await sharp({ create: { width: 2000, height: 1500, channels: 3, background: '#fff' } }).png().toBuffer()
    expect(await error(await preview(large, '', 'image/png'), 413, 'IMAGE_TOO_LARGE')).toMatch(/2000×1500/)
  })

  it('needs the API key, as reading does', async () => {
    expect(await error(await preview(tiff3, '', 'image/tiff', null), 401, 'UNAUTHORIZED')).toBeTruthy()
  })

  it('is in the OpenAPI document with its parameters and PNG answer', async () => {
    const spec = (await (await fetch(`${svc.url}/docs/json`)).json()) as {
      paths: Record<string, { post?: { parameters: { name: string }[]; responses: Record<string, { content?: Record<string, unknown> }> } }>
    }
    const op = spec.paths['/v1/preview']!.post!
    expect(op.parameters.map((p) => p.name).sort()).toEqual(['max_side', 'page'])
    expect(Object.keys(op.responses['200']!.content!)).toEqual(['image/png'])
  })
})

describe('the page\'s assets', () => {
  const get = (path: string) => fetch(svc.url + path)

  it('pdf.js: the browser build, its worker, CMaps, standard fonts and the JS JPEG 2000 decoder, open without a key', async () => {
    const version = (JSON.parse(readFileSync(new URL('../../node_modules/pdfjs-dist/package.json', import.meta.url), 'utf8')) as { version: string }).version
    for (const path of ['legacy/build/pdf.min.mjs', 'legacy/build/pdf.worker.min.mjs']) {
      const res = await get(`/static/pdfjs/${path}`)
      expect(res.status, path).toBe(200)
      // module scripts and workers load only with a JavaScript MIME type (nosniff is on)
      expect(res.headers.get('content-type'), path).toMatch(/^(text|application)\/javascript/)
      expect(await res.text(), path).toContain(version)
    }
    for (const path of ['cmaps/UniGB-UCS2-H.bcmap', 'standard_fonts/FoxitSerif.pfb', 'standard_fonts/LiberationSans-Regular.ttf', 'wasm/openjpeg_nowasm_fallback.js']) {
      const res = await get(`/static/pdfjs/${path}`)
      expect(res.status, path).toBe(200)
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(new URL(`../../node_modules/pdfjs-dist/${path}`, import.meta.url))), path).toBe(true)
    }
  })

  it('nothing else of the package: no sources, maps, wasm or files outside it', async () => {
    for (const path of ['package.json', 'build/pdf.mjs', 'legacy/build/pdf.mjs.map', 'legacy/build/pdf.sandbox.min.mjs', 'wasm/openjpeg.wasm', 'web/pdf_viewer.mjs', '..%2F..%2Fpackage.json', 'cmaps/..%2F..%2Fsharp%2Fpackage.json', 'cmaps/']) {
      expect((await get(`/static/pdfjs/${path}`)).status, path).toBe(404)
    }
  })

  it('the favicon is an ICO, open without a key', async () => {
    const res = await get('/favicon.ico')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/x-icon')
    const ico = Buffer.from(await res.arrayBuffer())
    expect([ico.readUInt16LE(0), ico.readUInt16LE(2), ico.readUInt16LE(4)]).toEqual([0, 1, 3])
  })

  it('the page, pdf.js and the favicon carry the strict CSP: workers from this origin, no eval, no wasm', async () => {
    for (const path of ['/', '/static/pdfjs/legacy/build/pdf.worker.min.mjs', '/favicon.ico']) {
      const csp = (await get(path)).headers.get('content-security-policy') ?? ''
      expect(csp, path).toContain("script-src 'self'")
      expect(csp, path).toContain("worker-src 'self'")
      expect(csp, path).not.toMatch(/unsafe-eval|unsafe-inline|wasm-unsafe-eval/)
    }
  })

  it('the page carries the limits it routes uploads by, as the routes enforce them', async () => {
    const html = await (await get('/')).text()
    const body = /<body([^>]*)>/.exec(html)![1]!
    const attr = (name: string) => new RegExp(`data-${name}="([^"]*)"`).exec(body)?.[1]
    expect(attr('max-body-bytes')).toBe(String(1 * MB))
    expect(attr('jobs-max-body-bytes')).toBe(String(2 * MB))
    expect(attr('sync-max-pages')).toBe('3')
    expect(attr('preview-max-side')).toBe('4096')
    expect(attr('pdfjs')).toBe('/static/pdfjs/')
  })
})
