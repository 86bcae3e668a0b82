/**
 * The web page in real headless Chromium against a real service: upload through the file input,
 * read the lines shown, check the boxes drawn on the canvas, highlight, API-key handling.
 * Screenshot: test-artifacts/web.png.
 */
import { mkdirSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import { startService, type Service } from '../../src/server/index.js'
import { squash, textImage, type TextImage } from '../helpers/images.js'

const KEY = 'web-test-key'
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)

let svc: Service
let browser: Browser
let page: Page
let img: TextImage

beforeAll(async () => {
  img = await textImage(['INVOICE 2024', 'TOTAL 42.50 EUR', 'THANK YOU'], 44)
  svc = await startService(
    loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1', OCR_API_KEYS: KEY }),
  )
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
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
    expect(await docs.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path')).sort())).toEqual(['/healthz', '/metrics', '/readyz', '/v1/ocr'])
    expect(outside).toEqual([])
    // Swagger UI runs under the same strict CSP without a violation
    expect(cspViolations).toEqual([])
    await docs.close()
  })
})
