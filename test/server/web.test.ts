/**
 * The web page in real headless Chromium against a real service: upload through the file input,
 * read the lines shown, check the boxes drawn over each page (an image, PDF pages drawn by pdf.js,
 * TIFF pages drawn from server previews) land on the page's ink, the line↔box linking, the page
 * selector, where each file is sent (once), job progress with pages drawn as they are read, the
 * number badges on a dense receipt, notes, favicon, API-key handling.
 * Screenshots of each state: test-artifacts/web/*.png.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { PDFDocument } from 'pdf-lib'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { loadServiceConfig, type ServiceConfig } from '../../src/config.js'
import { startService, type Service } from '../../src/server/index.js'
import { renderPage } from '../fixtures/generate.js'
import { cjkPdf, makePdf, textPage } from '../fixtures/pdfs.js'
import { squash, textImage, type TextImage } from '../helpers/images.js'
import { file, requireForEach } from '../helpers/requirements.js'

const KEY = 'web-test-key'
const CHROMIUM = '/usr/bin/chromium'
const chromiumNeeded = file('web page test', CHROMIUM, 'Chromium', 'apt-get install chromium')
requireForEach(chromiumNeeded)
const ARTIFACTS = new URL('../../test-artifacts/web/', import.meta.url)

let svc: Service
let config: ServiceConfig
let browser: Browser
let page: Page
let img: TextImage
/** Scans 1900 px wide (drawn from previews smaller than the page: the boxes must scale). */
let scans: Buffer[]
/** A 3-page TIFF (over the service's sync page limit of 2: read as an async job) and a 2-page one. */
let doc3: Buffer
let doc2: Buffer
/** A 4-page born-digital PDF: page i's text layer reads docText(i). */
let pdf4: Buffer
/** A 2-page PDF within the sync limit: a born-digital page, then a scan (an image page at 150 dpi). */
let pdf2: Buffer
/** 12 pages: long enough to see pages drawn while the job runs, and to cancel part-way. */
let doc12: Buffer
/** A dense receipt: short lines 1.3 em apart, a price on the right of some. */
let receipt: Buffer
/** pdf2 with a 1.5 MiB attachment (over one call's body limit of 1 MiB), and with a 5 MiB one (over the jobs limit of 4 MiB). */
let pdf2Heavy: Buffer
let pdf2Huge: Buffer
const MiB = 1024 * 1024
const docText = (i: number) => [`SCAN PAGE ${i}`, `ITEM ${i}${i} PAID`]

/** Every POST the page sent, by path (reset before each test). */
let posts: string[] = []
/** Uncaught exceptions and unhandled rejections in the page, and its assets (pdf.js's included) not served, over the whole run. */
const pageErrors: string[] = []
const assetFailures: string[] = []

beforeAll(async () => {
  if (chromiumNeeded.missing) return // every test skips (or fails, under CI) with the reason
  img = await textImage(['INVOICE 2024', 'TOTAL 42.50 EUR', 'THANK YOU'], 44)
  scans = await Promise.all([1, 2, 3].map(async (i) => sharp((await textImage(docText(i), 40)).png).resize({ width: 1900 }).png().toBuffer()))
  const tiff = (pages: Buffer[]) => sharp(pages, { join: { animated: true } }).tiff({ compression: 'lzw' }).toBuffer()
  doc3 = await tiff(scans)
  doc2 = await tiff(scans.slice(0, 2))
  doc12 = await tiff(Array.from({ length: 12 }, (_, i) => scans[i % 3]!))
  pdf4 = await makePdf([1, 2, 3, 4].map((i) => textPage(docText(i))))
  pdf2 = await makePdf([textPage(docText(1)), { image: (await textImage(docText(2), 40)).png, dpi: 150 }])
  receipt = await denseReceipt()
  pdf2Heavy = await withAttachment(pdf2, 1.5 * MiB)
  pdf2Huge = await withAttachment(pdf2, 5 * MiB)
  const limits = { OCR_API_KEYS: KEY, OCR_SYNC_MAX_PAGES: '2', OCR_MAX_BODY_BYTES: String(MiB), OCR_JOBS_MAX_BODY_BYTES: String(4 * MiB) }
  config = loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1', ...limits })
  svc = await startService(config)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  watchCsp(page)
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('response', (r) => {
    if (new URL(r.url()).pathname.startsWith('/static/') && !r.ok()) assetFailures.push(`${r.status()} ${r.url()}`)
  })
  page.on('requestfailed', (r) => {
    if (new URL(r.url()).pathname.startsWith('/static/')) assetFailures.push(`${r.failure()?.errorText} ${r.url()}`)
  })
  page.on('request', (r) => {
    if (r.method() === 'POST') posts.push(new URL(r.url()).pathname)
  })
  // the page must not reach anything but the service (works offline, no CDN)
  await page.route('**/*', (route) => (route.request().url().startsWith(svc.url) ? route.continue() : route.abort()))
  mkdirSync(ARTIFACTS, { recursive: true })
})

afterAll(async () => {
  await browser?.close()
  await svc?.close()
})

beforeEach(() => {
  posts = []
})

/** The PDF with an attached file of `bytes` random bytes: heavier, the same pages. */
async function withAttachment(pdf: Buffer, bytes: number): Promise<Buffer> {
  const doc = await PDFDocument.load(pdf, { updateMetadata: false })
  // random: incompressible, so the attachment keeps its size in the file
  await doc.attach(randomBytes(bytes), 'blob.bin', { mimeType: 'application/octet-stream' })
  return Buffer.from(await doc.save({ useObjectStreams: false }))
}

/**
 * A receipt set tight: lines of 17 px DejaVu Sans 22 px apart, prices right-aligned, and a
 * banner across the whole width at the top with the next line right under it (no free spot
 * around it for its number).
 */
async function denseReceipt(): Promise<Buffer> {
  const items = ['COFFEE BEANS 1KG', 'OAT MILK 1L', 'SOURDOUGH LOAF', 'BUTTER 250G', 'FREE RANGE EGGS', 'ORANGE JUICE', 'GREEK YOGURT', 'RED APPLES', 'CHEDDAR 400G', 'PASTA 500G']
  const font = { font: 'gen-dejavu-sans', size: 17, color: '#111' }
  const lines = [
    { text: 'CORNER MARKET FRESH FOOD', x: 2, y: 24, size: 28 },
    { text: '12 HIGH STREET', x: 3, y: 45 },
    ...items.flatMap((item, i) => [
      { text: item, x: 24, y: 106 + i * 44 },
      { text: `QTY ${i + 1}`, x: 24, y: 128 + i * 44 },
      { text: `${(3.1 * (i + 1)).toFixed(2)}`, x: 360, y: 106 + i * 44 },
    ]),
    { text: 'TOTAL 170.50', x: 24, y: 560 },
  ].map((l) => ({ ...font, ...l }))
  const page = await renderPage({ width: 440, height: 590, background: { kind: 'solid', color: '#fff' }, lines, tiltDeg: 0, rotation: 0, noise: { amplitude: 0, seed: 1 } })
  return page.png
}

/**
 * The few browser types the page functions below use (the project compiles without the DOM lib;
 * these functions run in Chromium, not in Node).
 */
interface Rect {
  left: number
  top: number
  width: number
  height: number
}
interface El {
  getAttribute(name: string): string | null
  getBoundingClientRect(): Rect
  textContent: string | null
}
interface CanvasEl extends El {
  width: number
  height: number
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null
}
interface BrowserGlobals {
  document: { getElementById(id: string): unknown; querySelectorAll(sel: string): Iterable<El> }
  localStorage: { getItem(key: string): string | null }
}

/** Console messages about the Content-Security-Policy, on every page of the test. */
const cspViolations: string[] = []
const watchCsp = (p: Page) =>
  p.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text())
  })

const shot = (name: string) => page.screenshot({ path: fileURLToPath(new URL(`${name}.png`, ARTIFACTS)), fullPage: true })
const shownLines = () => page.$$eval('#lines li .t', (els) => els.map((e) => e.textContent ?? ''))

type Point = [number, number]
interface OcrPage {
  page: number
  width: number
  height: number
  lines: { text: string; box: Point[] }[]
}

/**
 * The boxes drawn over the page, in line order: their points (page pixels), where they are on
 * screen and where they should be (the canvas's place scaled by the page frame), and the share of
 * dark pixels of the drawn picture inside each box's bounds and outside every box. Boxes that sit
 * on the page's text have ink under them, and the page around them is nearly blank.
 */
function drawnBoxes(p: Page) {
  return p.evaluate(() => {
    const doc = (globalThis as unknown as BrowserGlobals).document
    const canvas = doc.getElementById('canvas') as CanvasEl
    const svg = doc.getElementById('boxes') as El
    const [, , w, h] = (svg.getAttribute('viewBox') ?? '0 0 0 0').split(' ').map(Number) as [number, number, number, number]
    const c = canvas.getBoundingClientRect()
    const sx = canvas.width / w
    const sy = canvas.height / h
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data
    const dark = (x: number, y: number) => {
      const i = (y * canvas.width + x) * 4
      return data[i]! + data[i + 1]! + data[i + 2]! < 3 * 110
    }
    const inside = new Uint8Array(canvas.width * canvas.height)
    // in line order (the active box is moved on top of the others)
    const polys = [...doc.querySelectorAll('#boxes .box')].sort((a, b) => Number(a.getAttribute('data-i')) - Number(b.getAttribute('data-i')))
    const boxes = polys.map((poly) => {
      const points = (poly.getAttribute('points') ?? '').split(' ').map((s) => s.split(',').map(Number) as [number, number])
      const [x0, y0, x1, y1] = [Math.min(...points.map((q) => q[0])), Math.min(...points.map((q) => q[1])), Math.max(...points.map((q) => q[0])), Math.max(...points.map((q) => q[1]))]
      const r = poly.getBoundingClientRect()
      const [cx0, cy0] = [Math.max(0, Math.floor(x0 * sx)), Math.max(0, Math.floor(y0 * sy))]
      const [cx1, cy1] = [Math.min(canvas.width, Math.ceil(x1 * sx)), Math.min(canvas.height, Math.ceil(y1 * sy))]
      let ink = 0
      for (let y = cy0; y < cy1; y++) {
        for (let x = cx0; x < cx1; x++) {
          inside[y * canvas.width + x] = 1
          if (dark(x, y)) ink++
        }
      }
      return {
        points,
        screen: [r.left, r.top, r.left + r.width, r.top + r.height],
        expected: [c.left + (x0 * c.width) / w, c.top + (y0 * c.height) / h, c.left + (x1 * c.width) / w, c.top + (y1 * c.height) / h],
        ink: ink / Math.max(1, (cx1 - cx0) * (cy1 - cy0)),
      }
    })
    let outside = 0
    let area = 0
    for (let i = 0; i < inside.length; i++) {
      if (inside[i]) continue
      area++
      if (dark(i % canvas.width, Math.floor(i / canvas.width))) outside++
    }
    return { boxes, outside: outside / Math.max(1, area), canvas: [canvas.width, canvas.height] }
  })
}

/** The OCR page's boxes are the ones drawn, over the page's ink, where the canvas shows them. */
async function expectBoxesOnPage(ocr: OcrPage) {
  const drawn = await drawnBoxes(page)
  expect(drawn.boxes.map((b) => b.points)).toEqual(ocr.lines.map((l) => l.box))
  for (const b of drawn.boxes) {
    for (let k = 0; k < 4; k++) expect(Math.abs(b.screen[k]! - b.expected[k]!)).toBeLessThan(1.5)
    expect(b.ink).toBeGreaterThan(0.05)
  }
  expect(drawn.outside).toBeLessThan(0.002)
  return drawn
}

/** Hovers the middle of box i on screen. */
async function hoverBox(i: number) {
  const b = (await drawnBoxes(page)).boxes[i]!
  await page.mouse.move((b.screen[0]! + b.screen[2]!) / 2, (b.screen[1]! + b.screen[3]!) / 2)
}

const ocrResponse = (path: string) =>
  page.waitForResponse((r) => r.request().method() === (path === '/v1/ocr' ? 'POST' : 'GET') && new URL(r.url()).pathname.startsWith(path) && r.ok(), { timeout: 120_000 })

describe('web page (headless Chromium)', () => {
  it('loads with its assets and no console errors, under its strict CSP; its favicon and the pages placeholder show', async () => {
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
    // the page knows where to send what: the service's limits on <body>
    expect(await page.getAttribute('body', 'data-sync-max-pages')).toBe('2')
    expect(Number(await page.getAttribute('body', 'data-max-body-bytes'))).toBe(config.maxBodyBytes)
    // the page names its icon, which needs no API key (browsers send none) and is an icon (an
    // ICO directory of PNGs); fetched from Node: Playwright's routing fails a page's own fetch of /favicon.ico
    expect(await page.getAttribute('link[rel="icon"]', 'href')).toBe('/favicon.ico')
    const icon = await fetch(`${svc.url}/favicon.ico`)
    expect(icon.status).toBe(200)
    expect(icon.headers.get('content-type')).toBe('image/x-icon')
    const ico = Buffer.from(await icon.arrayBuffer())
    expect([ico.readUInt16LE(0), ico.readUInt16LE(2)]).toEqual([0, 1])
    expect(ico.readUInt16LE(4)).toBeGreaterThan(0)
    // the pages field is wide enough for its whole placeholder
    const fits = await page.$eval('#pages', (e) => {
      const input = e as unknown as { value: string; placeholder: string; scrollWidth: number; clientWidth: number }
      input.value = input.placeholder
      const ok = input.scrollWidth <= input.clientWidth
      input.value = ''
      return ok
    })
    expect(fits).toBe(true)
    expect(errors).toEqual([])
    await shot('01-empty')
  })

  it('shows the error nicely when the server wants an API key', async () => {
    await page.setInputFiles('#file', { name: 'invoice.png', mimeType: 'image/png', buffer: img.png })
    await page.waitForSelector('body[data-state="error"]', { timeout: 60_000 })
    const status = await page.textContent('#status')
    expect(status).toContain('UNAUTHORIZED')
    expect(status).toMatch(/API key/)
    expect(await page.$$eval('#lines li', (li) => li.length)).toBe(0)
  })

  it('with the key: the lines are listed and their boxes drawn over the image, numbered beside them', async () => {
    await page.fill('#apikey', KEY)
    await page.dispatchEvent('#apikey', 'change')
    const response = ocrResponse('/v1/ocr')
    await page.setInputFiles('#file', { name: 'invoice.png', mimeType: 'image/png', buffer: img.png })
    const body = (await (await response).json()) as OcrPage & { pages: OcrPage[] }
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 })
    expect(posts).toEqual(['/v1/ocr'])

    expect((await shownLines()).map(squash)).toEqual(img.lines.map(squash))
    expect(await page.$$eval('#lines li .n', (els) => els.map((e) => e.textContent))).toEqual(['1', '2', '3'])
    expect(await page.$eval('#canvas', (c) => [(c as unknown as CanvasEl).width, (c as unknown as CanvasEl).height])).toEqual([img.width, img.height])
    await expectBoxesOnPage(body.pages[0]!)
    // every number shows, beside its box (this page has room)
    expect(await page.getAttribute('#view', 'data-badges')).toBe('3')
    expect(await page.textContent('#timing')).toMatch(/3 lines · \d+ ms/)
    // drawing, fetching and the bitmap stayed within the CSP (violations are console errors)
    expect(cspViolations).toEqual([])
    // the key is remembered for the next visit
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).localStorage.getItem('ocrserve.apikey'))).toBe(KEY)
  })

  it('clicking a line highlights its box; hovering a box highlights its line', async () => {
    await page.click('#lines li:nth-child(2)')
    expect(await page.getAttribute('#lines li:nth-child(2)', 'class')).toContain('active')
    expect(await page.$$eval('#boxes .box.active', (els) => els.map((e) => e.getAttribute('data-i')))).toEqual(['1'])
    expect(await page.$$eval('#boxes .badge.active', (els) => els.map((e) => e.textContent))).toEqual(['2'])

    await hoverBox(2)
    await page.waitForSelector('#lines li:nth-child(3).active')
    expect(await page.getAttribute('#lines li:nth-child(2)', 'class')).not.toContain('active')
    expect(await page.$$eval('#boxes .box.active', (els) => els.map((e) => e.getAttribute('data-i')))).toEqual(['2'])
    await shot('02-image-linked')
  })

  it('a TIFF over the sync page limit: sent once, to /v1/jobs; its pages drawn from server previews with their boxes', async () => {
    const response = ocrResponse('/v1/jobs/')
    await page.setInputFiles('#file', { name: 'scan.tiff', mimeType: 'image/tiff', buffer: doc3 })
    await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 })
    expect(await page.getAttribute('body', 'data-via')).toBe('job')
    // one upload of the document (the browser counted its pages), and previews of the pages shown
    expect(posts.filter((p) => p !== '/v1/preview')).toEqual(['/v1/jobs'])
    expect(await page.textContent('#note')).toMatch(/^3 pages, more than one call reads \(2\): read as a background job/)
    expect(await page.textContent('#progress-text')).toBe('3 / 3 pages')
    expect(await page.$$eval('#pages-nav button', (els) => els.map((e) => e.textContent))).toEqual(['1', '2', '3'])
    expect((await shownLines()).map(squash)).toEqual(docText(1).map(squash))
    await response
    const result = (await (await fetch(`${svc.url}/v1/jobs/${await page.getAttribute('body', 'data-job')}/result`, { headers: { 'x-api-key': KEY } })).json()) as { pages: OcrPage[] }
    await page.waitForSelector('#view[data-drawn="1"]')
    const drawn = await expectBoxesOnPage(result.pages[0]!)
    // the preview is smaller than the 1900 px page: the boxes were scaled onto it
    expect(drawn.canvas[0]).toBeLessThan(1900)

    await page.click('#pages-nav button:nth-child(3)')
    await page.waitForSelector('#view[data-drawn="3"]')
    expect((await shownLines()).map(squash)).toEqual(docText(3).map(squash))
    expect(await page.getAttribute('#pages-nav button:nth-child(3)', 'aria-current')).toBe('true')
    expect(await page.textContent('#timing')).toMatch(/^page 3 \(3 pages\) · 2 lines/)
    await expectBoxesOnPage(result.pages[2]!)
    await hoverBox(1)
    await page.waitForSelector('#lines li:nth-child(2).active')
    await shot('03-tiff-job-page3')
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

  it('a PDF over the sync page limit: sent once, to /v1/jobs; its pages drawn by pdf.js with the text-layer boxes', async () => {
    await page.setInputFiles('#file', { name: 'report.pdf', mimeType: 'application/pdf', buffer: pdf4 })
    await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 })
    expect(await page.getAttribute('body', 'data-via')).toBe('job')
    expect(posts).toEqual(['/v1/jobs'])
    expect(await page.textContent('#note')).toMatch(/^4 pages, more than one call reads \(2\)/)
    expect(await page.textContent('#progress-text')).toBe('4 / 4 pages')
    expect(await page.$$eval('#pages-nav button', (els) => els.map((e) => e.textContent))).toEqual(['1', '2', '3', '4'])
    const result = (await (await fetch(`${svc.url}/v1/jobs/${await page.getAttribute('body', 'data-job')}/result`, { headers: { 'x-api-key': KEY } })).json()) as { pages: OcrPage[] }
    for (const i of [1, 2, 3, 4]) {
      await page.click(`#pages-nav button:nth-child(${i})`)
      await page.waitForSelector(`#view[data-drawn="${i}"][data-boxes="2"]`)
      expect(await shownLines()).toEqual(docText(i))
      expect(await page.textContent('#timing')).toMatch(new RegExp(`^page ${i} \\(4 pages\\) · 2 lines .* from the PDF text layer$`))
      await expectBoxesOnPage(result.pages[i - 1]!)
    }
    // pdf.js ran under the page's CSP: module worker, no eval, no wasm
    expect(cspViolations).toEqual([])
    await shot('04-pdf-job-page4')
  })

  it('a new file clears the previous document: its note, its pages, its progress', async () => {
    expect(await page.isVisible('#note')).toBe(true)
    await page.setInputFiles('#file', { name: 'invoice.png', mimeType: 'image/png', buffer: img.png })
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 })
    expect(await page.isVisible('#note')).toBe(false)
    expect(await page.isVisible('#pages-nav')).toBe(false)
    expect(await page.isVisible('#progress-box')).toBe(false)
    expect(await page.getAttribute('#view', 'data-boxes')).toBe('3')
  })

  it('a PDF within the limit: one call; a text page and a scan page at another dpi, each drawn with its boxes', async () => {
    const response = ocrResponse('/v1/ocr')
    await page.setInputFiles('#file', { name: 'mixed.pdf', mimeType: 'application/pdf', buffer: pdf2 })
    const body = (await (await response).json()) as { pages: OcrPage[] }
    await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 })
    expect(posts).toEqual(['/v1/ocr'])
    expect(await page.getAttribute('body', 'data-via')).toBe('sync')
    await page.waitForSelector('#view[data-drawn="1"][data-boxes="2"]')
    await expectBoxesOnPage(body.pages[0]!)
    await page.click('#pages-nav button:nth-child(2)')
    await page.waitForSelector('#view[data-drawn="2"][data-boxes="2"]')
    expect((await shownLines()).map(squash)).toEqual(docText(2).map(squash))
    // the scan page was read at 200 dpi from a 150 dpi image: its frame is 4/3 of the image's pixels
    expect(body.pages[1]!.width).toBe(Math.round((760 * 200) / 150))
    await expectBoxesOnPage(body.pages[1]!)
    await page.click('#lines li:nth-child(2)')
    expect(await page.$$eval('#boxes .box.active', (els) => els.map((e) => e.getAttribute('data-i')))).toEqual(['1'])
    await hoverBox(0)
    await page.waitForSelector('#lines li:nth-child(1).active')
    await shot('05-pdf-sync-scan-page')
  })

  it('a PDF with embedded CJK fonts: its glyphs drawn by pdf.js under the CSP, under their boxes', async () => {
    const response = ocrResponse('/v1/ocr')
    await page.setInputFiles('#file', { name: 'cjk.pdf', mimeType: 'application/pdf', buffer: cjkPdf() })
    const body = (await (await response).json()) as { pages: OcrPage[] }
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 })
    await page.waitForSelector('#view[data-drawn="1"][data-boxes="2"]')
    expect(await shownLines()).toEqual(['你好世界 光学字符识别', 'Hello second line'])
    await expectBoxesOnPage(body.pages[0]!)
    expect(cspViolations).toEqual([])
    await shot('05b-pdf-cjk')
  })

  it('a PDF of two pages but over one call\'s body limit: sent once, to /v1/jobs, drawn by pdf.js', async () => {
    expect(pdf2Heavy.length).toBeGreaterThan(MiB)
    await page.setInputFiles('#file', { name: 'heavy.pdf', mimeType: 'application/pdf', buffer: pdf2Heavy })
    await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 })
    expect(posts).toEqual(['/v1/jobs'])
    expect(await page.getAttribute('body', 'data-via')).toBe('job')
    expect(await page.textContent('#note')).toMatch(/^1\.5 MB, more than one call takes \(1\.0 MB\): read as a background job/)
    const result = (await (await fetch(`${svc.url}/v1/jobs/${await page.getAttribute('body', 'data-job')}/result`, { headers: { 'x-api-key': KEY } })).json()) as { pages: OcrPage[] }
    await page.waitForSelector('#view[data-drawn="1"][data-boxes="2"]')
    await expectBoxesOnPage(result.pages[0]!)
  })

  it('a file over the jobs body limit is not sent at all: the page says the limit', async () => {
    await page.setInputFiles('#file', { name: 'huge.pdf', mimeType: 'application/pdf', buffer: pdf2Huge })
    await page.waitForSelector('body[data-state="error"]', { timeout: 60_000 })
    expect(posts).toEqual([])
    expect(await page.textContent('#status')).toMatch(/^PAYLOAD_TOO_LARGE — the file is 5\.0 MB; this server takes files up to 4\.0 MB \(OCR_JOBS_MAX_BODY_BYTES\)\./)
    // its first page is still drawn (the page could read it)
    await page.waitForSelector('#view[data-drawn="1"]')
    expect(await page.isVisible('#drop-hint')).toBe(false)
    await shot('06-over-jobs-limit')
  })

  it('a long job: its pages are drawn as they are read; Cancel stops it on the server and keeps them', async () => {
    await page.setInputFiles('#file', { name: 'long.tiff', mimeType: 'image/tiff', buffer: doc12 })
    // page 1 drawn with its boxes while the job still runs
    await page.waitForSelector('#view[data-drawn="1"][data-boxes="2"]', { timeout: 120_000 })
    expect(await page.isVisible('#progress-box')).toBe(true)
    expect(await page.getAttribute('body', 'data-state')).toBe('busy')
    expect((await shownLines()).map(squash)).toEqual(docText(1).map(squash))
    await shot('07-job-running')
    const id = await page.getAttribute('body', 'data-job')
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    await page.click('#cancel')
    await page.waitForSelector('body[data-state="idle"]')
    expect(await page.textContent('#status')).toMatch(/^Cancelled\. The (page read so far stays|\d+ pages read so far stay) shown\.$/)
    const job = (await (await fetch(`${svc.url}/v1/jobs/${id}`, { headers: { 'x-api-key': KEY } })).json()) as { status: string; pages_done: number }
    expect(job.status).toBe('cancelled')
    expect(job.pages_done).toBeLessThan(12)
    expect(posts.filter((p) => p !== '/v1/preview')).toEqual(['/v1/jobs'])
    expect(await page.isVisible('#canvas')).toBe(true)
  })

  it('a document within the limit is read in one call, pages selectable; the pages box selects pages', async () => {
    await page.setInputFiles('#file', { name: 'short.tiff', mimeType: 'image/tiff', buffer: doc2 })
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 })
    expect(await page.getAttribute('body', 'data-via')).toBe('sync')
    expect(posts.filter((p) => p !== '/v1/preview')).toEqual(['/v1/ocr'])
    expect(await page.$$eval('#pages-nav button', (els) => els.map((e) => e.textContent))).toEqual(['1', '2'])
    await page.waitForSelector('#view[data-drawn="1"][data-boxes="2"]')

    // one page of three selected: one call, and that page is drawn first
    posts = []
    await page.fill('#pages', '3')
    await page.setInputFiles('#file', { name: 'scan.tiff', mimeType: 'image/tiff', buffer: doc3 })
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 })
    expect(await page.getAttribute('body', 'data-via')).toBe('sync')
    expect(posts.filter((p) => p !== '/v1/preview')).toEqual(['/v1/ocr'])
    expect(await page.isVisible('#pages-nav')).toBe(false)
    expect((await shownLines()).map(squash)).toEqual(docText(3).map(squash))
    expect(await page.textContent('#timing')).toMatch(/^2 lines/)
    await page.waitForSelector('#view[data-drawn="3"][data-boxes="2"]')

    await page.fill('#pages', '9-')
    await page.setInputFiles('#file', { name: 'scan.tiff', mimeType: 'image/tiff', buffer: doc3 })
    await page.waitForSelector('body[data-state="error"]', { timeout: 60_000 })
    expect(await page.textContent('#status')).toContain('BAD_PAGE_RANGE')
    await page.fill('#pages', '')
  })

  it('a file of no supported format: the message lists the formats, PDF among them', async () => {
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just some text, not an image\n'.repeat(20)) })
    await page.waitForSelector('body[data-state="error"]', { timeout: 60_000 })
    const status = await page.textContent('#status')
    expect(status).toContain('UNSUPPORTED_MEDIA')
    expect(status).toContain('Use JPEG, PNG, WebP, GIF, BMP, TIFF or PDF.')
    expect(await page.isVisible('#view')).toBe(false)
    // one message, and the drop zone says again what it takes
    expect(await page.isVisible('#note')).toBe(false)
    expect(await page.isVisible('#drop-hint')).toBe(true)
    await shot('08-unsupported')
  })

  it('a dense receipt: the line numbers cover no text; a line without room shows its number while active', async () => {
    const response = ocrResponse('/v1/ocr')
    await page.setInputFiles('#file', { name: 'receipt.png', mimeType: 'image/png', buffer: receipt })
    const body = (await (await response).json()) as { pages: OcrPage[] }
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 })
    const ocr = body.pages[0]!
    expect(ocr.lines.length).toBeGreaterThanOrEqual(30)
    await expectBoxesOnPage(ocr)
    // every visible badge lies clear of every box (its own included) and of the other badges
    const layout = await page.evaluate(() => {
      const doc = (globalThis as unknown as BrowserGlobals).document
      const rect = (e: El) => {
        const r = e.getBoundingClientRect()
        return [r.left, r.top, r.left + r.width, r.top + r.height]
      }
      const visible = (e: El) => e.getBoundingClientRect().width > 0
      return {
        boxes: [...doc.querySelectorAll('#boxes .box')].map(rect),
        badges: [...doc.querySelectorAll('#boxes .badge')].filter(visible).map((e) => ({ n: Number(e.textContent), rect: rect(e) })),
        hidden: [...doc.querySelectorAll('#boxes .badge.hover-only')].map((e) => Number(e.textContent)),
      }
    })
    const overlap = (a: number[], b: number[]) => a[0]! < b[2]! - 0.5 && b[0]! < a[2]! - 0.5 && a[1]! < b[3]! - 0.5 && b[1]! < a[3]! - 0.5
    for (const badge of layout.badges) {
      for (const box of layout.boxes) expect(overlap(badge.rect, box)).toBe(false)
      for (const other of layout.badges) if (other !== badge) expect(overlap(badge.rect, other.rect)).toBe(false)
    }
    // most lines keep a visible number (the receipt has a margin on the left)
    expect(layout.badges.length).toBeGreaterThan(ocr.lines.length / 2)
    expect(layout.badges.length + layout.hidden.length).toBe(ocr.lines.length)
    await shot('09-receipt')
    // the banner has no free spot: its number appears only while it is picked
    expect(squash(ocr.lines[0]!.text)).toBe(squash('CORNER MARKET FRESH FOOD'))
    expect(layout.hidden).toContain(1)
    expect(await page.isVisible('#boxes .badge[data-i="0"]')).toBe(false)
    await page.click('#lines li:nth-child(1)')
    expect(await page.isVisible('#boxes .badge[data-i="0"]')).toBe(true)
    expect(await page.textContent('#boxes .badge.active')).toBe('1')
    await shot('10-receipt-active')
  })

  it('no script error in the page and no asset missing over all of the above', () => {
    expect(pageErrors).toEqual([])
    expect(assetFailures).toEqual([])
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
    expect(await docs.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path')).sort())).toEqual(['/healthz', '/metrics', '/readyz', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}', '/v1/jobs/{id}/result', '/v1/models', '/v1/ocr', '/v1/preview'])
    expect(outside).toEqual([])
    // Swagger UI runs under the same strict CSP without a violation
    expect(cspViolations).toEqual([])
    await docs.close()
  })
})

