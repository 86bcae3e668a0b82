/**
 * The web page in real headless Chromium against a real service: upload through the file input,
 * read the lines shown, check the boxes drawn on the canvas, highlight, API-key handling.
 * Screenshot: test-artifacts/web.png.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import sharp from 'sharp'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import { startService, type Service } from '../../src/server/index.js'
import { makePdf, textPage } from '../fixtures/pdfs.js'
import { squash, textImage, type TextImage } from '../helpers/images.js'
import { file, requireForEach } from '../helpers/requirements.js'

const KEY = 'web-test-key'
const CHROMIUM = '/usr/bin/chromium'
const chromiumNeeded = file('web page test', CHROMIUM, 'Chromium', 'apt-get install chromium')
requireForEach(chromiumNeeded)
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)

let svc: Service
let browser: Browser
let page: Page
let img: TextImage
/** A 3-page TIFF (over the service's sync page limit of 2: read as an async job) and a 2-page one. */
let doc3: Buffer
let doc2: Buffer
/** A 4-page born-digital PDF: page i's text layer reads docText(i). */
let pdf4: Buffer
/** 12 pages: long enough to cancel part-way. */
let doc12: Buffer
const docText = (i: number) => [`SCAN PAGE ${i}`, `ITEM ${i}${i} PAID`]

beforeAll(async () => {
  if (chromiumNeeded.missing) return // every test skips (or fails, under CI) with the reason
  img = await textImage(['INVOICE 2024', 'TOTAL 42.50 EUR', 'THANK YOU'], 44)
  const scans = await Promise.all([1, 2, 3].map((i) => textImage(docText(i), 40)))
  doc3 = await sharp(scans.map((p) => p.png), { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
  doc2 = await sharp(scans.slice(0, 2).map((p) => p.png), { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
  doc12 = await sharp(Array.from({ length: 12 }, (_, i) => scans[i % 3]!.png), { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
  pdf4 = await makePdf([1, 2, 3, 4].map((i) => textPage(docText(i))))
  svc = await startService(
    loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1', OCR_API_KEYS: KEY, OCR_SYNC_MAX_PAGES: '2' }),
  )
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } })
  watchCsp(page)
  // the page must not reach anything but the service (works offline, no CDN)
  await page.route('**/*', (route) => (route.request().url().startsWith(svc.url) ? route.continue() : route.abort()))
})

afterAll(async () => {
  await browser?.close()
  await svc?.close()
})

/**
 * The few browser types the page functions below use (the project compiles without the DOM lib;
 * these functions run in Chromium, not in Node).
 */
interface CanvasEl {
  width: number
  height: number
  dataset: Record<string, string | undefined>
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null
  getBoundingClientRect(): { left: number; top: number; width: number; height: number }
}
interface BrowserGlobals {
  document: { getElementById(id: string): unknown }
  localStorage: { getItem(key: string): string | null }
}

/** Console messages about the Content-Security-Policy, on every page of the test. */
const cspViolations: string[] = []
const watchCsp = (p: Page) =>
  p.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text())
  })

const upload = (p: Page) => p.setInputFiles('#file', { name: 'invoice.png', mimeType: 'image/png', buffer: img.png })

/** Pixels of the canvas close to an RGB colour (the box strokes). */
function countColour(p: Page, rgb: [number, number, number]): Promise<number> {
  return p.$eval(
    '#canvas',
    (c, [r, g, b]) => {
      const canvas = c as unknown as CanvasEl
      const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data
      let n = 0
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i]! - r!) < 12 && Math.abs(d[i + 1]! - g!) < 12 && Math.abs(d[i + 2]! - b!) < 12) n++
      return n
    },
    rgb,
  )
}

const ORANGE: [number, number, number] = [0xd9, 0x48, 0x0f]
const BLUE: [number, number, number] = [0x19, 0x71, 0xc2]

describe('web page (headless Chromium)', () => {
  it('loads with its assets and no console errors, under its strict CSP', async () => {
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })
    const res = await page.goto(svc.url + '/')
    expect(res?.status()).toBe(200)
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/)
    expect(await page.title()).toBe('ocrserve')
    await expect(page.locator('#drop-hint').isVisible()).resolves.toBe(true)
    expect(errors).toEqual([])
  })

  it('shows the error nicely when the server wants an API key', async () => {
    await upload(page)
    await page.waitForSelector('body[data-state="error"]', { timeout: 60_000 })
    const status = await page.textContent('#status')
    expect(status).toContain('UNAUTHORIZED')
    expect(status).toMatch(/API key/)
    expect(await page.$$eval('#lines li', (li) => li.length)).toBe(0)
  })

  it('with the key: the lines are listed and their boxes drawn and numbered on the image', async () => {
    await page.fill('#apikey', KEY)
    await page.dispatchEvent('#apikey', 'change')
    await upload(page)
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 })

    const texts = await page.$$eval('#lines li .t', (els) => els.map((e) => e.textContent ?? ''))
    expect(texts.map(squash)).toEqual(img.lines.map(squash))
    const numbers = await page.$$eval('#lines li .n', (els) => els.map((e) => e.textContent))
    expect(numbers).toEqual(['1', '2', '3'])
    expect(await page.$eval('#canvas', (c) => (c as unknown as CanvasEl).dataset.boxes)).toBe('3')
    expect(await page.$eval('#canvas', (c) => [(c as unknown as CanvasEl).width, (c as unknown as CanvasEl).height])).toEqual([img.width, img.height])
    // the strokes are really on the canvas (the source image is pure black on white)
    expect(await countColour(page, ORANGE)).toBeGreaterThan(500)
    expect(await countColour(page, BLUE)).toBe(0)
    expect(await page.textContent('#timing')).toMatch(/3 lines · \d+ ms/)
    // drawing, fetching and the blob image stayed within the CSP (violations are console errors)
    expect(cspViolations).toEqual([])
    // the key is remembered for the next visit
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).localStorage.getItem('ocrserve.apikey'))).toBe(KEY)
  })

  it('clicking a line highlights its box; hovering a box highlights its line', async () => {
    await page.click('#lines li:nth-child(2)')
    expect(await page.getAttribute('#lines li:nth-child(2)', 'class')).toContain('active')
    expect(await countColour(page, BLUE)).toBeGreaterThan(100)

    // hover the middle of line 3's box on the canvas (box coordinates → screen coordinates)
    const target = await page.evaluate(() => {
      const canvas = (globalThis as unknown as BrowserGlobals).document.getElementById('canvas') as CanvasEl
      const r = canvas.getBoundingClientRect()
      return { left: r.left, top: r.top, sx: r.width / canvas.width, sy: r.height / canvas.height }
    })
    const body = (await (
      await fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png', 'x-api-key': KEY }, body: img.png })
    ).json()) as { lines: { box: [number, number][] }[] }
    const box = body.lines[2]!.box
    const cx = box.reduce((s, p) => s + p[0], 0) / 4
    const cy = box.reduce((s, p) => s + p[1], 0) / 4
    await page.mouse.move(target.left + cx * target.sx, target.top + cy * target.sy)
    await page.waitForSelector('#lines li:nth-child(3).active')
    expect(await page.getAttribute('#lines li:nth-child(2)', 'class')).not.toContain('active')

    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: new URL('web.png', ARTIFACTS).pathname, fullPage: true })
  })

  it('a document over the sync page limit is read as a job, with progress, and shown page by page', async () => {
    await page.setInputFiles('#file', { name: 'scan.tiff', mimeType: 'image/tiff', buffer: doc3 })
    await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 })
    expect(await page.getAttribute('body', 'data-via')).toBe('job')
    // the progress the page showed last: every page read
    expect(await page.textContent('#progress-text')).toBe('3 / 3 pages')
    expect(await page.$$eval('#pages-nav button', (els) => els.map((e) => e.textContent))).toEqual(['1', '2', '3'])
    expect(await page.isVisible('#pages-nav')).toBe(true)
    const shown = () => page.$$eval('#lines li .t', (els) => els.map((e) => e.textContent ?? ''))
    expect((await shown()).map(squash)).toEqual(docText(1).map(squash))
    // the browser cannot draw a TIFF: text only, and it says so
    expect(await page.isVisible('#canvas')).toBe(false)
    expect(await page.isVisible('#doc-note')).toBe(true)
    await page.click('#pages-nav button:nth-child(3)')
    expect((await shown()).map(squash)).toEqual(docText(3).map(squash))
    expect(await page.getAttribute('#pages-nav button:nth-child(3)', 'aria-current')).toBe('true')
    expect(await page.textContent('#timing')).toMatch(/^page 3 \(3 pages\) · 2 lines/)
    await page.screenshot({ path: new URL('web-document.png', ARTIFACTS).pathname, fullPage: true })
  })

  it('the job result downloads in the formats the server offers', async () => {
    const offered = await page.$$eval('#downloads button', (els) => els.map((e) => e.textContent))
    expect(offered).toEqual(['json', 'jsonl', 'text', 'hocr', 'alto', 'pdf'])
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#downloads button[data-format="text"]')])
    expect(download.suggestedFilename()).toMatch(/^scan\.(txt|text)$/)
    const text = readFileSync(await download.path(), 'utf8')
    expect(text.trimEnd().split('\n\n').map((p) => p.split('\n').map(squash))).toEqual([1, 2, 3].map((i) => docText(i).map(squash)))
    // a binary format: the name comes from the server's Content-Disposition
    const [pdf] = await Promise.all([page.waitForEvent('download'), page.click('#downloads button[data-format="pdf"]')])
    expect(pdf.suggestedFilename()).toBe('scan.pdf')
    expect(readFileSync(await pdf.path()).subarray(0, 5).toString()).toBe('%PDF-')
  })

  it('a PDF over the sync page limit: a job, then its pages one by one, read from the text layer', async () => {
    await page.setInputFiles('#file', { name: 'report.pdf', mimeType: 'application/pdf', buffer: pdf4 })
    await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 })
    expect(await page.getAttribute('body', 'data-via')).toBe('job')
    expect(await page.textContent('#progress-text')).toBe('4 / 4 pages')
    expect(await page.$$eval('#pages-nav button', (els) => els.map((e) => e.textContent))).toEqual(['1', '2', '3', '4'])
    expect(await page.isVisible('#canvas')).toBe(false)
    for (const i of [1, 2, 3, 4]) {
      await page.click(`#pages-nav button:nth-child(${i})`)
      expect(await page.$$eval('#lines li .t', (els) => els.map((e) => e.textContent ?? ''))).toEqual(docText(i))
      expect(await page.textContent('#timing')).toMatch(new RegExp(`^page ${i} \\(4 pages\\) · 2 lines .* from the PDF text layer$`))
    }
    await page.screenshot({ path: new URL('web-pdf.png', ARTIFACTS).pathname, fullPage: true })
  })

  it('Cancel stops the running job on the server', async () => {
    await page.setInputFiles('#file', { name: 'long.tiff', mimeType: 'image/tiff', buffer: doc12 })
    await page.waitForSelector('#progress-box:not([hidden])', { timeout: 60_000 })
    const id = await page.getAttribute('body', 'data-job')
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    await page.click('#cancel')
    await page.waitForSelector('body[data-state="idle"]')
    expect(await page.textContent('#status')).toBe('Cancelled.')
    const job = (await (await fetch(`${svc.url}/v1/jobs/${id}`, { headers: { 'x-api-key': KEY } })).json()) as { status: string; pages_done: number }
    expect(job.status).toBe('cancelled')
    expect(job.pages_done).toBeLessThan(12)
  })

  it('a document within the limit is read in one call, pages selectable; the pages box selects pages', async () => {
    await page.setInputFiles('#file', { name: 'short.tiff', mimeType: 'image/tiff', buffer: doc2 })
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 })
    expect(await page.getAttribute('body', 'data-via')).toBe('sync')
    expect(await page.$$eval('#pages-nav button', (els) => els.map((e) => e.textContent))).toEqual(['1', '2'])

    await page.fill('#pages', '3')
    await page.setInputFiles('#file', { name: 'scan.tiff', mimeType: 'image/tiff', buffer: doc3 })
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 })
    expect(await page.getAttribute('body', 'data-via')).toBe('sync')
    expect(await page.isVisible('#pages-nav')).toBe(false)
    expect((await page.$$eval('#lines li .t', (els) => els.map((e) => e.textContent ?? ''))).map(squash)).toEqual(docText(3).map(squash))
    expect(await page.textContent('#timing')).toMatch(/^2 lines/)

    await page.fill('#pages', '9-')
    await page.setInputFiles('#file', { name: 'scan.tiff', mimeType: 'image/tiff', buffer: doc3 })
    await page.waitForSelector('body[data-state="error"]', { timeout: 60_000 })
    expect(await page.textContent('#status')).toContain('BAD_PAGE_RANGE')
    await page.fill('#pages', '')
  })

  it('Swagger UI at /docs renders the API offline (its assets come from the service)', async () => {
    const docs = await browser.newPage()
    watchCsp(docs)
    const outside: string[] = []
    await docs.route('**/*', (route) => {
      if (route.request().url().startsWith(svc.url)) return route.continue()
      outside.push(route.request().url())
      return route.abort()
    })
    expect((await docs.goto(`${svc.url}/docs`))?.status()).toBe(200)
    await docs.waitForSelector('.opblock-summary-path[data-path="/v1/ocr"]', { timeout: 30_000 })
    expect(await docs.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path')).sort())).toEqual(['/healthz', '/metrics', '/readyz', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}', '/v1/jobs/{id}/result', '/v1/ocr'])
    expect(outside).toEqual([])
    // Swagger UI runs under the same strict CSP without a violation
    expect(cspViolations).toEqual([])
    await docs.close()
  })
})
