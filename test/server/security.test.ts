/**
 * Security over a real listening service: security headers and CSP, request ids (header, error
 * body, every log line of the request), no stack traces, per-key rate limits, and image URL
 * fetching (off by default; allow-list, private addresses, redirects, byte and time limits)
 * against a local HTTP server.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import { hostAllowed, isPublicAddress } from '../../src/server/fetch-url.js'
import { startService, type Service } from '../../src/server/index.js'
import { squash, textImage, type TextImage } from '../helpers/images.js'

const config = (env: Record<string, string> = {}) => loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1', ...env })

interface ErrorBody {
  error: { code: string; message: string; request_id: string }
}

let img: TextImage
const services: Service[] = []
async function service(env: Record<string, string> = {}, logger?: pino.Logger): Promise<Service> {
  const s = await startService(config(env), logger)
  services.push(s)
  return s
}

beforeAll(async () => {
  img = await textImage(['FETCHED 1234'], 36)
})
afterAll(async () => {
  await Promise.all(services.map((s) => s.close()))
})

describe('security headers', () => {
  it('the page and the API carry a strict CSP (no unsafe-inline, no unsafe-eval) and the helmet headers', async () => {
    const svc = await service()
    for (const path of ['/', '/static/app.js', '/v1/ocr', '/healthz']) {
      const res = await fetch(svc.url + path)
      const csp = res.headers.get('content-security-policy') ?? ''
      expect(csp, path).toContain("default-src 'self'")
      expect(csp, path).toContain("script-src 'self'")
      expect(csp, path).toContain("style-src 'self'")
      expect(csp, path).toContain("frame-ancestors 'none'")
      expect(csp, path).toContain("object-src 'none'")
      expect(csp, path).not.toMatch(/unsafe-inline|unsafe-eval/)
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer')
    }
  })
  it('Swagger UI (/docs) also allows inline styles, and nothing else more', async () => {
    const csp = (await fetch(`${services[0]!.url}/docs/`)).headers.get('content-security-policy') ?? ''
    expect(csp).toContain("style-src 'self' 'unsafe-inline'")
    expect(csp).toContain("script-src 'self';")
    expect(csp).not.toContain('unsafe-eval')
  })
  it('the page has no inline script or style for the CSP to block', async () => {
    const svc = services[0]!
    const html = await (await fetch(`${svc.url}/`)).text()
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html).not.toMatch(/<style|\sstyle=|\son\w+=/)
  })
})

describe('request ids', () => {
  const lines: Record<string, unknown>[] = []
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>)
        done()
      },
    }),
  )
  let svc: Service
  beforeAll(async () => {
    svc = await service({ OCR_REQUEST_TIMEOUT_MS: '1' }, logger)
  })

  it('every error body has request_id = the X-Request-Id header, and no stack', async () => {
    const answers = await Promise.all([
      fetch(`${svc.url}/nope`),
      fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }),
      fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"image": [1]}' }),
      fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png }), // 504: 1 ms budget
    ])
    expect(answers.map((r) => r.status)).toEqual([404, 415, 400, 504])
    const ids = new Set<string>()
    for (const res of answers) {
      const body = (await res.json()) as ErrorBody
      expect(body.error.request_id).toMatch(/^[0-9a-f-]{36}$/)
      expect(body.error.request_id).toBe(res.headers.get('x-request-id'))
      expect(JSON.stringify(body)).not.toMatch(/\n\s+at |\.[jt]s:\d+/)
      ids.add(body.error.request_id)
    }
    expect(ids.size).toBe(4)
  })

  it('a sane client X-Request-Id is kept; one that could forge log lines is replaced', async () => {
    const kept = await fetch(`${svc.url}/nope`, { headers: { 'x-request-id': 'client-7:abc' } })
    expect(kept.headers.get('x-request-id')).toBe('client-7:abc')
    expect(((await kept.json()) as ErrorBody).error.request_id).toBe('client-7:abc')
    for (const bad of ['has space', 'x'.repeat(200), 'a"b', '{"level":60}']) {
      const res = await fetch(`${svc.url}/nope`, { headers: { 'x-request-id': bad } })
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    }
  })

  it('every log line written while serving a request carries its reqId (the 5xx error line too)', async () => {
    lines.length = 0
    const res = await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png', 'x-request-id': 'trace-504' }, body: img.png })
    expect(res.status).toBe(504)
    await new Promise((r) => setTimeout(r, 50))
    const mine = lines.filter((l) => l.reqId === 'trace-504')
    expect(mine.map((l) => l.msg)).toEqual(expect.arrayContaining(['request']))
    expect(mine.some((l) => l.level === 50 && l.code === 'TIMEOUT')).toBe(true)
    // every line that is about an HTTP request names one
    for (const l of lines) if (l.msg === 'request' || l.code) expect(l.reqId, JSON.stringify(l)).toBeTruthy()
  })
})

describe('rate limits (OCR_RATE_LIMIT, per API key)', () => {
  const send = (svc: Service, key?: string) =>
    fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'text/plain', ...(key ? { 'x-api-key': key } : {}) }, body: 'cheap: refused before any OCR' })

  it('are off by default', async () => {
    const svc = services[0]!
    const statuses = await Promise.all(Array.from({ length: 30 }, () => send(svc).then((r) => r.status)))
    expect(new Set(statuses)).toEqual(new Set([415]))
  })

  it('the request over the limit gets 429 TOO_MANY_REQUESTS + Retry-After; other keys and probes are unaffected', async () => {
    const svc = await service({ OCR_RATE_LIMIT: '3', OCR_RATE_LIMIT_WINDOW_MS: '60000', OCR_API_KEYS: 'key-a,key-b' })
    const a = []
    for (let i = 0; i < 4; i++) a.push(await send(svc, 'key-a'))
    expect(a.map((r) => r.status)).toEqual([415, 415, 415, 429])
    const limited = a[3]!
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60)
    const body = (await limited.json()) as ErrorBody
    expect(body.error.code).toBe('TOO_MANY_REQUESTS')
    expect(body.error.request_id).toBe(limited.headers.get('x-request-id'))
    // another key has its own bucket
    expect((await send(svc, 'key-b')).status).toBe(415)
    // a wrong key is refused by auth, before it could drain anyone's bucket
    expect((await send(svc, 'wrong')).status).toBe(401)
    // probes and the page are never limited
    for (let i = 0; i < 5; i++) expect((await fetch(`${svc.url}/healthz`)).status).toBe(200)
    expect((await send(svc, 'key-a')).status).toBe(429)
  })
})

describe('image URL fetching', () => {
  let origin: Server
  let port: number
  const hits: string[] = []
  beforeAll(async () => {
    origin = createServer((req, res) => {
      hits.push(req.url!)
      const u = req.url!
      if (u === '/page.png') return res.writeHead(200, { 'content-type': 'image/png' }).end(img.png)
      if (u === '/redirect-in') return res.writeHead(302, { location: '/page.png' }).end()
      if (u === '/redirect-out') return res.writeHead(302, { location: `http://localhost:${port}/page.png` }).end()
      if (u === '/redirect-loop') return res.writeHead(302, { location: '/redirect-loop' }).end()
      if (u === '/big') return res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) }).end()
      if (u === '/stream-big') {
        res.writeHead(200, { 'content-type': 'image/png' })
        const chunk = Buffer.alloc(64 * 1024)
        let sent = 0
        const more = (): void => {
          while (sent < 8 * 1024 * 1024 && !res.destroyed) {
            sent += chunk.length
            if (!res.write(chunk)) return void res.once('drain', more)
          }
          res.end()
        }
        return more()
      }
      if (u === '/slow') return res.writeHead(200, { 'content-type': 'image/png' }).write(img.png.subarray(0, 10))
      res.writeHead(404).end('no')
    })
    origin.listen(0, '127.0.0.1')
    await once(origin, 'listening')
    port = (origin.address() as { port: number }).port
  })
  afterAll(() => {
    origin.closeAllConnections()
    origin.close()
  })

  const ask = (svc: Service, url: string) => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url }) })
  async function code(res: Response): Promise<string> {
    return ((await res.json()) as ErrorBody).error.code
  }

  it('is off by default: 403 URL_NOT_ALLOWED, nothing fetched', async () => {
    hits.length = 0
    const res = await ask(services[0]!, `http://127.0.0.1:${port}/page.png`)
    expect(res.status).toBe(403)
    expect(await code(res)).toBe('URL_NOT_ALLOWED')
    expect(hits).toEqual([])
  })

  it('allow-listed hosts that resolve to loopback are refused unless OCR_URL_ALLOW_PRIVATE', async () => {
    const svc = await service({ OCR_URL_ALLOWLIST: '127.0.0.1,localhost' })
    hits.length = 0
    for (const host of ['127.0.0.1', 'localhost']) {
      const res = await ask(svc, `http://${host}:${port}/page.png`)
      expect(res.status, host).toBe(403)
      const body = (await res.json()) as ErrorBody
      expect(body.error.code).toBe('URL_NOT_ALLOWED')
      expect(body.error.message).toMatch(/non-public address/)
    }
    expect(hits).toEqual([])
  })

  it('fetches allow-listed URLs within the limits, re-checking every redirect', async () => {
    const svc = await service({ OCR_URL_ALLOWLIST: '127.0.0.1', OCR_URL_ALLOW_PRIVATE: 'true', OCR_URL_TIMEOUT_MS: '1500', OCR_MAX_BODY_BYTES: String(2 * 1024 * 1024) })
    const ok = await ask(svc, `http://127.0.0.1:${port}/page.png`)
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { lines: { text: string }[] }).lines.map((l) => squash(l.text))).toEqual(img.lines.map(squash))
    expect((await ask(svc, `http://127.0.0.1:${port}/redirect-in`)).status).toBe(200)

    hits.length = 0
    const cases: [string, number, string][] = [
      [`http://localhost:${port}/page.png`, 403, 'URL_NOT_ALLOWED'], // host not on the list
      [`http://127.0.0.1:${port}/redirect-out`, 403, 'URL_NOT_ALLOWED'], // redirect to a host not on the list
      [`http://127.0.0.1:${port}/redirect-loop`, 422, 'URL_FETCH_FAILED'],
      [`http://127.0.0.1:${port}/missing`, 422, 'URL_FETCH_FAILED'],
      [`http://127.0.0.1:${port}/big`, 413, 'PAYLOAD_TOO_LARGE'], // declared length over OCR_MAX_BODY_BYTES
      [`http://127.0.0.1:${port}/stream-big`, 413, 'PAYLOAD_TOO_LARGE'], // no length, counted
      [`http://127.0.0.1:${port}/slow`, 422, 'URL_FETCH_FAILED'], // over OCR_URL_TIMEOUT_MS
      [`http://127.0.0.1:1/page.png`, 422, 'URL_FETCH_FAILED'], // refused connection
      ['file:///etc/passwd', 403, 'URL_NOT_ALLOWED'],
      [`http://user:pw@127.0.0.1:${port}/page.png`, 403, 'URL_NOT_ALLOWED'],
      ['not a url', 400, 'BAD_REQUEST'],
    ]
    for (const [url, status, expected] of cases) {
      const res = await ask(svc, url)
      expect(res.status, url).toBe(status)
      expect(await code(res), url).toBe(expected)
    }
    // the redirect out was never followed
    expect(hits.filter((h) => h === '/page.png')).toEqual([])
    expect(hits.filter((h) => h === '/redirect-loop').length).toBe(4) // first request + 3 redirects
    // still serving
    expect((await ask(svc, `http://127.0.0.1:${port}/page.png`)).status).toBe(200)
  })

  it('isPublicAddress and hostAllowed', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isPublicAddress(a), a).toBe(true)
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '224.0.0.1', 'not-an-ip']) {
      expect(isPublicAddress(a), a).toBe(false)
    }
    expect(hostAllowed('img.example.com', ['*.example.com'])).toBe(true)
    expect(hostAllowed('example.com', ['*.example.com'])).toBe(false)
    expect(hostAllowed('evilexample.com', ['*.example.com'])).toBe(false)
    expect(hostAllowed('example.com.evil.net', ['example.com'])).toBe(false)
    expect(hostAllowed('EXAMPLE.com.', ['example.com'])).toBe(true)
  })
})
