import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERRORS, loadServiceConfig } from '../../src/index.js'
import { startService, type Service } from '../../src/server/index.js'
import { squash, textImage, type TextImage } from '../helpers/images.js'

let svc: Service
let img: TextImage

function config(env: Record<string, string> = {}) {
  return loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1', ...env })
}

async function ocrJson(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/application\/json/)
  return (await res.json()) as { width: number; height: number; lines: { text: string; score: number; box: number[][] }[]; error?: { code: string; message: string } }
}

beforeAll(async () => {
  img = await textImage()
  svc = await startService(config({ OCR_MAX_BODY_BYTES: String(2 * 1024 * 1024), OCR_MAX_PIXELS: '2000000' }))
})
afterAll(async () => svc?.close())

describe('POST /v1/ocr input styles', () => {
  const expectRead = async (res: Response) => {
    expect(res.status).toBe(200)
    const body = await ocrJson(res)
    expect([body.width, body.height]).toEqual([img.width, img.height])
    expect(body.lines.map((l) => squash(l.text))).toEqual(img.lines.map(squash))
    for (const l of body.lines) {
      expect(l.box).toHaveLength(4)
      expect(l.score).toBeGreaterThan(0.8)
    }
  }
  it('raw image/png body', async () => {
    await expectRead(await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png }))
  })
  it('raw application/octet-stream body', async () => {
    await expectRead(await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: img.png }))
  })
  it('multipart field "image"', async () => {
    const form = new FormData()
    form.append('image', new Blob([img.png], { type: 'image/png' }), 'page.png')
    await expectRead(await fetch(`${svc.url}/v1/ocr`, { method: 'POST', body: form }))
  })
  it('JSON base64 and data: URL', async () => {
    for (const image of [img.png.toString('base64'), `data:image/png;base64,${img.png.toString('base64')}`]) {
      await expectRead(await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image }) }))
    }
  })
  it('format=text gives the lines as text/plain', async () => {
    const res = await fetch(`${svc.url}/v1/ocr?format=text&cls=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/plain/)
    expect((await res.text()).trimEnd().split('\n').map(squash)).toEqual(img.lines.map(squash))
  })
  it('every output format with its own Content-Type; Accept chooses when format= is absent; format= wins', async () => {
    const post = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${svc.url}/v1/ocr${query}`, { method: 'POST', headers: { 'content-type': 'image/png', ...headers }, body: img.png })
    const cases: [string, Record<string, string>, RegExp][] = [
      ['?format=jsonl', {}, /^application\/x-ndjson/],
      ['?format=hocr', {}, /^text\/vnd\.hocr\+html/],
      ['?format=alto', {}, /^application\/alto\+xml/],
      ['', { accept: 'text/plain' }, /^text\/plain/],
      ['', { accept: 'application/alto+xml;q=0.9, text/vnd.hocr+html' }, /^text\/vnd\.hocr\+html/],
      ['', { accept: 'image/png' }, /^application\/json/],
      ['?format=json', { accept: 'text/plain' }, /^application\/json/],
    ]
    for (const [query, headers, type] of cases) {
      const res = await post(query, headers)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(type)
      const body = await res.text()
      // every word read, whatever the markup around it (hOCR and ALTO split lines into words)
      for (const word of img.lines.join(' ').split(' ')) expect(squash(body)).toContain(squash(word))
    }
    const pdf = await post('?format=pdf')
    expect(pdf.headers.get('content-type')).toBe('application/pdf')
    expect(pdf.headers.get('content-disposition')).toBe(`attachment; filename="ocr.pdf"; filename*=UTF-8''ocr.pdf`)
    expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-')
  })
})

describe('errors: JSON body with the catalogued code and status', () => {
  const cases: [string, number, string, () => Promise<Response>][] = [
    ['no body', 400, 'BAD_REQUEST', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST' })],
    ['bad base64', 400, 'BAD_REQUEST', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"image":"@@@"}' })],
    ['missing "image" in JSON', 400, 'BAD_REQUEST', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"img":"aGk="}' })],
    ['broken JSON', 400, 'BAD_REQUEST', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"image":' })],
    ['bad query option', 400, 'BAD_REQUEST', () => fetch(`${svc.url}/v1/ocr?format=xml`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'x' })],
    ['dpi out of range', 400, 'BAD_REQUEST', () => fetch(`${svc.url}/v1/ocr?dpi=2000`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })],
    ['unknown pdf_text mode', 400, 'BAD_REQUEST', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: img.png.toString('base64'), pdf_text: 'maybe' }) })],
    ['malformed pages=', 400, 'BAD_PAGE_RANGE', () => fetch(`${svc.url}/v1/ocr?pages=1-x`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })],
    ['pages= past the last page', 400, 'BAD_PAGE_RANGE', () => {
      const f = new FormData()
      f.append('image', new Blob([img.png]), 'a.png')
      f.append('pages', '2')
      return fetch(`${svc.url}/v1/ocr`, { method: 'POST', body: f })
    }],
    ['multipart dpi that is not a number', 400, 'BAD_REQUEST', () => {
      const f = new FormData()
      f.append('image', new Blob([img.png]), 'a.png')
      f.append('dpi', 'high')
      return fetch(`${svc.url}/v1/ocr`, { method: 'POST', body: f })
    }],
    ['multipart without "image"', 400, 'BAD_REQUEST', () => {
      const f = new FormData()
      f.append('file', new Blob([Buffer.from('x')]), 'a.png')
      return fetch(`${svc.url}/v1/ocr`, { method: 'POST', body: f })
    }],
    ['text/plain body', 415, 'UNSUPPORTED_MEDIA', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })],
    ['not an image', 415, 'UNSUPPORTED_MEDIA', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.from('definitely not a png') })],
    ['SVG is not accepted', 415, 'UNSUPPORTED_MEDIA', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/svg+xml' }, body: '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>' })],
    ['truncated PNG', 422, 'UNDECODABLE_IMAGE', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png.subarray(0, img.png.length >> 1) })],
    ['body over OCR_MAX_BODY_BYTES', 413, 'PAYLOAD_TOO_LARGE', () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(3 * 1024 * 1024) })],
    ['multipart file over OCR_MAX_BODY_BYTES', 413, 'PAYLOAD_TOO_LARGE', () => {
      const f = new FormData()
      f.append('image', new Blob([Buffer.alloc(3 * 1024 * 1024)]), 'a.png')
      return fetch(`${svc.url}/v1/ocr`, { method: 'POST', body: f })
    }],
    ['image over OCR_MAX_PIXELS', 413, 'IMAGE_TOO_LARGE', async () => {
      const sharp = (await import('sharp')).default
      const big = await sharp({ create: { width: 2000, height: 1200, channels: 3, background: '#fff' } }).png().toBuffer()
      return fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: big })
    }],
    ['unknown route', 404, 'NOT_FOUND', () => fetch(`${svc.url}/v2/nothing`)],
  ]
  it.each(cases)('%s → %i %s', async (_, status, code, send) => {
    const res = await send()
    expect(res.status).toBe(status)
    const body = await ocrJson(res)
    expect(body.error?.code).toBe(code)
    expect(body.error?.message.length).toBeGreaterThan(0)
    expect(ERRORS[code as keyof typeof ERRORS].status).toBe(status)
  })
  it('the service still reads after bad input', async () => {
    const res = await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
    expect(res.status).toBe(200)
  })
})

describe('health, readiness, metrics, docs, page', () => {
  it('/healthz and /readyz', async () => {
    expect(await (await fetch(`${svc.url}/healthz`)).json()).toEqual({ status: 'ok' })
    const r = await fetch(`${svc.url}/readyz`)
    expect(r.status).toBe(200)
    expect(await r.json()).toEqual({ status: 'ready' })
  })
  it('/metrics counts requests and stage latencies', async () => {
    const scrape = async () => (await fetch(`${svc.url}/metrics`)).text()
    const count = (text: string) => Number(/^http_requests_total\{route="\/v1\/ocr",method="POST",status="200"\} (\d+)/m.exec(text)?.[1] ?? 0)
    const before = await scrape()
    await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
    const after = await scrape()
    expect(count(after)).toBe(count(before) + 1)
    for (const name of ['ocr_stage_duration_seconds_bucket{le="0.005",stage="det"}', 'ocr_queue_depth', 'ocr_inflight', 'ocr_worker_busy_seconds_total{worker="0"}', 'ocr_assist_calls_total', 'http_request_duration_seconds_bucket', 'ocr_lines_total', 'process_resident_memory_bytes']) {
      expect(after).toContain(name)
    }
    expect(Number(/^ocr_lines_total (\d+)/m.exec(after)?.[1])).toBeGreaterThanOrEqual(2)
    expect(Number(/^ocr_worker_busy_seconds_total\{worker="0"\} ([\d.e-]+)/m.exec(after)?.[1])).toBeGreaterThan(0)
  })
  it('/docs/json is an OpenAPI 3 document describing the API', async () => {
    const doc = (await (await fetch(`${svc.url}/docs/json`)).json()) as any
    expect(doc.openapi).toMatch(/^3\./)
    const post = doc.paths['/v1/ocr'].post
    expect(Object.keys(post.requestBody.content).sort()).toEqual(['application/json', 'application/octet-stream', 'application/pdf', 'image/*', 'multipart/form-data'])
    const ref = post.responses['200'].content['application/json'].schema
    const schema = ref.$ref ? doc.components.schemas[ref.$ref.split('/').pop()] : ref
    expect(schema.properties.lines.type).toBe('array')
    expect(schema.required).toEqual(expect.arrayContaining(['width', 'height', 'lines', 'timing_ms']))
    expect(post.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['cls', 'dpi', 'format', 'model', 'pages', 'pdf_text', 'words'])
    expect(doc.paths['/healthz']).toBeDefined()
    expect(doc.paths['/readyz']).toBeDefined()
    expect((await fetch(`${svc.url}/docs/`)).status).toBe(200)
  })
  it('/ serves the page and its assets', async () => {
    const html = await (await fetch(`${svc.url}/`)).text()
    expect(html).toContain('<canvas id="canvas"')
    for (const asset of ['/static/app.js', '/static/app.css']) expect((await fetch(svc.url + asset)).status).toBe(200)
  })
})

describe('API keys', () => {
  let keyed: Service
  beforeAll(async () => {
    keyed = await startService(config({ OCR_API_KEYS: 'k-one, k-two' }))
  })
  afterAll(async () => keyed?.close())
  const post = (headers: Record<string, string>) =>
    fetch(`${keyed.url}/v1/ocr?format=text`, { method: 'POST', headers: { 'content-type': 'image/png', ...headers }, body: img.png })
  it.each([
    ['no key → 401', {}, 401],
    ['wrong bearer → 401', { authorization: 'Bearer nope' }, 401],
    ['wrong X-API-Key → 401', { 'x-api-key': 'k-on' }, 401],
    ['bearer key → 200', { authorization: 'Bearer k-one' }, 200],
    ['second key in X-API-Key → 200', { 'x-api-key': 'k-two' }, 200],
  ])('%s', async (_, headers, status) => {
    const res = await post(headers as Record<string, string>)
    expect(res.status).toBe(status)
    if (status === 401) expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED')
  })
  it('probes, metrics and docs stay open', async () => {
    for (const p of ['/healthz', '/readyz', '/metrics', '/docs/json', '/']) expect((await fetch(keyed.url + p)).status).toBe(200)
  })
})

describe('overload and timeouts', () => {
  it('beyond OCR_MAX_QUEUE the service answers 503 OVERLOADED with Retry-After at once', async () => {
    const busy = await startService(config({ OCR_MAX_QUEUE: '0' }))
    try {
      const send = () => fetch(`${busy.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
      const res = await Promise.all([send(), send(), send(), send()])
      const statuses = res.map((r) => r.status)
      expect(statuses).toContain(200)
      expect(statuses).toContain(503)
      const rejected = res.find((r) => r.status === 503)!
      expect(rejected.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(((await rejected.json()) as { error: { code: string } }).error.code).toBe('OVERLOADED')
    } finally {
      await busy.close()
    }
  })
  it('a job over OCR_REQUEST_TIMEOUT_MS gets 504 TIMEOUT', async () => {
    const slow = await startService(config({ OCR_REQUEST_TIMEOUT_MS: '1' }))
    try {
      const res = await fetch(`${slow.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
      expect(res.status).toBe(504)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('TIMEOUT')
    } finally {
      await slow.close()
    }
  })
  it('a client that disconnects cancels its queued job', async () => {
    const one = await startService(config({ OCR_MAX_QUEUE: '10' }))
    try {
      const send = (signal?: AbortSignal) =>
        fetch(`${one.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png, ...(signal ? { signal } : {}) })
      const first = send()
      const ac = new AbortController()
      const second = send(ac.signal).catch((e: Error) => e)
      await new Promise((r) => setTimeout(r, 150))
      expect(one.ocr.stats().queued).toBe(1)
      ac.abort()
      await second
      await new Promise((r) => setTimeout(r, 150))
      expect(one.ocr.stats().queued).toBe(0)
      expect((await first).status).toBe(200)
      expect(one.ocr.stats().failed).toBe(1) // the cancelled one, never run
    } finally {
      await one.close()
    }
  })
})
