/**
 * Several model packs in one service, over a real listening server: GET /v1/models, `model=` in
 * the query, a multipart field, a JSON field and on /v1/jobs, requests for each pack at the same
 * time reading as the single-pack service does, an unknown model → 400 UNKNOWN_MODEL listing the
 * packs, and the web page told the packs to offer.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/index.js'
import { startService, type Service } from '../../src/server/index.js'
import { textImage, type TextImage } from '../helpers/images.js'
import { tempDir, writePack } from '../helpers/packs.js'

let two: Service
let single: Service
let img: TextImage
let cleanup: () => Promise<void>

const config = (env: Record<string, string> = {}) => loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '2', OCR_REQUEST_TIMEOUT_MS: '300000', ...env })

interface Reply {
  model: string
  rotation: number
  lines: Array<{ text: string; score: number; box: number[][] }>
  error?: { code: string; message: string }
}

beforeAll(async () => {
  const t = await tempDir()
  cleanup = t.cleanup
  img = await textImage(['INVOICE 2024-117', 'TOTAL 42.50 EUR'])
  const dir = await writePack(join(t.dir, 'paddlex'))
  two = await startService(config({ OCR_MODELS: `paddlex=${dir},builtin` }))
  single = await startService(config())
}, 300_000)
afterAll(async () => {
  await two?.close()
  await single?.close()
  await cleanup?.()
})

const post = (svc: Service, query: string, init: RequestInit = { headers: { 'content-type': 'image/png' }, body: img.png }): Promise<Response> => fetch(`${svc.url}/v1/ocr${query}`, { method: 'POST', ...init })
const reading = (r: Reply) => ({ rotation: r.rotation, lines: r.lines })

describe('GET /v1/models', () => {
  it('lists every pack, the default first, with each role’s model, input shape and characters', async () => {
    const res = await fetch(`${two.url}/v1/models`)
    expect(res.status).toBe(200)
    const { models } = (await res.json()) as { models: Array<{ name: string; default: boolean; roles: Record<string, { model_name: string; input_shape: Array<number | null>; characters?: number }> }> }
    expect(models.map((m) => [m.name, m.default])).toEqual([
      ['paddlex', true],
      ['builtin', false],
    ])
    expect(models[0]!.roles).toEqual({
      det: { model_name: 'PP-OCRv4_mobile_det', input_shape: [null, 3, null, null] },
      cls: { model_name: 'ch_ppocr_mobile_v2.0_cls', input_shape: [null, 3, null, null] },
      rec: { model_name: 'PP-OCRv4_mobile_rec', input_shape: [null, 3, 48, null], characters: 6624 },
    })
    expect(models[1]!.roles.rec!.model_name).toBe('ch_PP-OCRv4_rec')
  })

  it('is in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${two.url}/docs/json`)).json()) as { paths: Record<string, { get?: unknown; post?: { parameters?: Array<{ name: string }> } }> }
    expect(doc.paths['/v1/models']?.get).toBeDefined()
    expect(doc.paths['/v1/ocr']!.post!.parameters!.map((p) => p.name)).toContain('model')
  })
})

describe('model= chooses the pack', () => {
  it('requests for each pack at the same time read as the single-pack service does, and say which pack read them', async () => {
    const want = reading((await (await post(single, '')).json()) as Reply)
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => post(two, i % 2 === 0 ? '?model=paddlex' : '?model=builtin')))
    for (const [i, res] of replies.entries()) {
      expect(res.status).toBe(200)
      const body = (await res.json()) as Reply
      expect(body.model).toBe(i % 2 === 0 ? 'paddlex' : 'builtin')
      expect(reading(body)).toEqual(want)
    }
    // no model: the default pack
    expect(((await (await post(two, '')).json()) as Reply).model).toBe('paddlex')
  })

  it('as a multipart field and a JSON field; the body wins over the query', async () => {
    const form = new FormData()
    form.append('model', 'builtin')
    form.append('image', new Blob([img.png], { type: 'image/png' }), 'page.png')
    expect(((await (await post(two, '?model=paddlex', { body: form })).json()) as Reply).model).toBe('builtin')
    const json = JSON.stringify({ model: 'builtin', image: img.png.toString('base64') })
    expect(((await (await post(two, '', { headers: { 'content-type': 'application/json' }, body: json })).json()) as Reply).model).toBe('builtin')
  })

  it('an unknown model is 400 UNKNOWN_MODEL listing the packs, on /v1/ocr and /v1/jobs alike', async () => {
    for (const path of ['/v1/ocr', '/v1/jobs']) {
      const res = await fetch(`${two.url}${path}?model=latin`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
      expect(res.status).toBe(400)
      const body = (await res.json()) as Reply
      expect(body.error).toMatchObject({ code: 'UNKNOWN_MODEL', message: 'unknown model "latin"; this service has paddlex, builtin' })
    }
    const json = await post(two, '', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 7, image: img.png.toString('base64') }) })
    expect(json.status).toBe(400)
    expect(((await json.json()) as Reply).error).toMatchObject({ code: 'BAD_REQUEST', message: '"model" must be a string, not number' })
  })

  it('an async job reads with its model, and its status and result say it', async () => {
    const res = await fetch(`${two.url}/v1/jobs?model=builtin`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })
    expect(res.status).toBe(202)
    const { status_url, result_url } = (await res.json()) as { status_url: string; result_url: string }
    let status = ''
    for (let i = 0; i < 600 && !['succeeded', 'failed'].includes(status); i++) {
      const s = (await (await fetch(`${two.url}${status_url}`)).json()) as { status: string; options: { model?: string } }
      status = s.status
      expect(s.options.model).toBe('builtin')
      if (status !== 'succeeded') await new Promise((r) => setTimeout(r, 200))
    }
    expect(status).toBe('succeeded')
    expect(((await (await fetch(`${two.url}${result_url}`)).json()) as Reply).model).toBe('builtin')
  })
})

describe('the web page', () => {
  it('is told the packs (the default first), and offers a choice when there are several', async () => {
    const html = await (await fetch(`${two.url}/`)).text()
    expect(html).toContain('data-models="paddlex,builtin"')
    expect(html).toContain('<select id="model">')
    expect(await (await fetch(`${single.url}/`)).text()).toContain('data-models="builtin"')
  })
})
