/**
 * Inputs over HTTP beyond PNG: every image format the engine reads, and broken bodies of every
 * kind (cut-off multipart, truncated JPEG, base64 of a non-image) that must be 4xx, never 500.
 */
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import { startService, type Service } from '../../src/server/index.js'
import { squash, textImage, toBmp, type TextImage } from '../helpers/images.js'

let svc: Service
let img: TextImage

beforeAll(async () => {
  img = await textImage(['FORMAT CHECK 77'])
  svc = await startService(loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1' }))
})
afterAll(async () => svc?.close())

const post = (body: Uint8Array | string, type: string) => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': type }, body })

async function errorCode(res: Response): Promise<string> {
  expect(res.headers.get('content-type')).toMatch(/application\/json/)
  return ((await res.json()) as { error: { code: string } }).error.code
}

describe('every readable format, as the raw body', () => {
  const formats: [string, string, () => Promise<Buffer>][] = [
    ['JPEG', 'image/jpeg', () => sharp(img.png).jpeg({ quality: 90 }).toBuffer()],
    ['WebP', 'image/webp', () => sharp(img.png).webp({ quality: 90 }).toBuffer()],
    ['GIF', 'image/gif', () => sharp(img.png).gif().toBuffer()],
    ['TIFF', 'image/tiff', () => sharp(img.png).tiff().toBuffer()],
    ['BMP', 'image/bmp', () => toBmp(img.png)],
  ]
  it.each(formats)('%s', async (_, type, encode) => {
    const res = await post(await encode(), type)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { width: number; height: number; lines: { text: string }[] }
    expect([body.width, body.height]).toEqual([img.width, img.height])
    expect(body.lines.map((l) => squash(l.text))).toEqual(img.lines.map(squash))
  })
})

describe('broken input is a 4xx with the catalogue code, never a 500', () => {
  const boundary = 'XyZboundary'
  const partHead = `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`
  const cases: [string, number, string, () => Promise<Response>][] = [
    [
      'a JPEG cut short after its header',
      422,
      'UNDECODABLE_IMAGE',
      async () => {
        const jpeg = await sharp(img.png).jpeg().toBuffer()
        return post(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), 'image/jpeg')
      },
    ],
    ['a multipart body cut off before its closing boundary', 400, 'BAD_REQUEST', () => post(Buffer.concat([Buffer.from(partHead), img.png]), `multipart/form-data; boundary=${boundary}`)],
    ['multipart without a boundary', 400, 'BAD_REQUEST', () => post(Buffer.concat([Buffer.from(partHead), img.png]), 'multipart/form-data')],
    [
      'two files in "image"',
      400,
      'BAD_REQUEST',
      () => {
        const f = new FormData()
        f.append('image', new Blob([img.png]), 'a.png')
        f.append('image', new Blob([img.png]), 'b.png')
        return fetch(`${svc.url}/v1/ocr`, { method: 'POST', body: f })
      },
    ],
    [
      'a bad multipart option',
      400,
      'BAD_REQUEST',
      () => {
        const f = new FormData()
        f.append('image', new Blob([img.png]), 'a.png')
        f.append('cls', 'maybe')
        return fetch(`${svc.url}/v1/ocr`, { method: 'POST', body: f })
      },
    ],
    ['base64 of something that is not an image', 415, 'UNSUPPORTED_MEDIA', () => post(JSON.stringify({ image: Buffer.from('just some words, not an image').toString('base64') }), 'application/json')],
    ['base64 of a PDF header and nothing else', 422, 'UNDECODABLE_IMAGE', () => post(JSON.stringify({ image: Buffer.from('%PDF-1.7 not a document').toString('base64') }), 'application/json')],
    ['an unknown JSON field', 400, 'BAD_REQUEST', () => post(JSON.stringify({ image: img.png.toString('base64'), lang: 'en' }), 'application/json')],
    ['a JSON option of the wrong type', 400, 'BAD_REQUEST', () => post(JSON.stringify({ image: img.png.toString('base64'), format: 'xml' }), 'application/json')],
    ['an XML body', 415, 'UNSUPPORTED_MEDIA', () => post('<image/>', 'application/xml')],
  ]
  it.each(cases)('%s → %i %s', async (_, status, code, send) => {
    const res = await send()
    expect(res.status).toBe(status)
    expect(await errorCode(res)).toBe(code)
  })

  it('random bytes under every accepted content type never give a 5xx', async () => {
    // deterministic noise (no Math.random: a failure must reproduce)
    let x = 0x12345678
    const noise = Buffer.alloc(4096, 0).map(() => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24))
    for (const type of ['image/png', 'image/jpeg', 'application/octet-stream', 'application/json', 'multipart/form-data; boundary=zz']) {
      const res = await post(noise, type)
      expect(res.status, type).toBeGreaterThanOrEqual(400)
      expect(res.status, type).toBeLessThan(500)
    }
  })
})
