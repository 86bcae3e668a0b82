/**
 * `words` on the HTTP API, against a real listening server: absent by default, every line's
 * words with `words=true` (query, multipart field, JSON field), a job keeps them for any later
 * format and shows them in JSON when the job or the result request asks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/index.js'
import { startService, type Service } from '../../src/server/index.js'
import { textImage, type TextImage } from '../helpers/images.js'

interface Word {
  text: string
  score: number
  box: [number, number][]
}
interface Line {
  text: string
  score: number
  box: [number, number][]
  words?: Word[]
}
interface Result {
  lines: Line[]
  pages: { lines: Line[] }[]
}

let svc: Service
let img: TextImage

beforeAll(async () => {
  img = await textImage(['HELLO WORLD 2024', 'QUICK BROWN FOX'])
  svc = await startService(loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1' }))
})
afterAll(async () => svc?.close())

const post = (path: string, init: RequestInit & { body: NonNullable<RequestInit['body']> }) => fetch(`${svc.url}${path}`, { method: 'POST', ...init })
const postPng = (query: string) => post(`/v1/ocr${query}`, { headers: { 'content-type': 'image/png' }, body: img.png })

async function result(res: Response): Promise<Result> {
  expect(res.status).toBe(200)
  return (await res.json()) as Result
}

/** Every line has its words: texts joined give the line, boxes lie within the line's box, scores in 0..1. */
function expectWords(body: Result): void {
  expect(body.lines.map((l) => l.text)).toEqual(img.lines)
  for (const line of [...body.lines, ...body.pages.flatMap((p) => p.lines)]) {
    expect(line.words, line.text).toBeDefined()
    expect(line.words!.map((w) => w.text).join(' ')).toBe(line.text)
    const xs = line.box.map((p) => p[0])
    const ys = line.box.map((p) => p[1])
    let right = -Infinity
    for (const w of line.words!) {
      expect(w.box).toHaveLength(4)
      expect(w.score).toBeGreaterThan(0.5)
      expect(w.score).toBeLessThanOrEqual(1)
      for (const [x, y] of w.box) {
        expect(x).toBeGreaterThanOrEqual(Math.min(...xs) - 1)
        expect(x).toBeLessThanOrEqual(Math.max(...xs) + 1)
        expect(y).toBeGreaterThanOrEqual(Math.min(...ys) - 1)
        expect(y).toBeLessThanOrEqual(Math.max(...ys) + 1)
      }
      // words in reading order, apart
      expect(w.box[0]![0]).toBeGreaterThan(right)
      right = w.box[1]![0]
    }
  }
}

describe('words on POST /v1/ocr', () => {
  it('absent by default', async () => {
    const body = await result(await postPng(''))
    expect(body.lines.map((l) => l.text)).toEqual(img.lines)
    for (const line of [...body.lines, ...body.pages.flatMap((p) => p.lines)]) expect(line).not.toHaveProperty('words')
  })
  it('words=true in the query, a multipart field or a JSON field', async () => {
    expectWords(await result(await postPng('?words=true')))
    const form = new FormData()
    form.append('words', 'true')
    form.append('image', new Blob([img.png], { type: 'image/png' }), 'page.png')
    expectWords(await result(await post('/v1/ocr', { body: form })))
    expectWords(await result(await post('/v1/ocr', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: img.png.toString('base64'), words: true }) })))
    const off = await result(await post('/v1/ocr', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: img.png.toString('base64'), words: false }) }))
    expect(off.lines[0]).not.toHaveProperty('words')
  })
  it('the words of a line are where its letters are: HELLO left of WORLD left of 2024', async () => {
    const body = await result(await postPng('?words=true'))
    const [hello, world, year] = body.lines[0]!.words!
    expect([hello!.text, world!.text, year!.text]).toEqual(['HELLO', 'WORLD', '2024'])
    // 40 px DejaVu Sans: a 5-letter word is ~150 px wide, the gaps ~15 px
    expect(hello!.box[1]![0] - hello!.box[0]![0]).toBeGreaterThan(100)
    expect(world!.box[0]![0] - hello!.box[1]![0]).toBeGreaterThan(5)
    expect(world!.box[0]![0] - hello!.box[1]![0]).toBeLessThan(40)
  })
  it('a bad value is a 400 naming the field and its values', async () => {
    for (const res of [
      await postPng('?words=maybe'),
      await post('/v1/ocr', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: img.png.toString('base64'), words: 'yes' }) }),
    ]) {
      expect(res.status).toBe(400)
      const { error } = (await res.json()) as { error: { code: string; message: string } }
      expect(error.code).toBe('BAD_REQUEST')
      expect(error.message).toMatch(/words/)
    }
  })
})

describe('words on /v1/jobs', () => {
  async function finishedJob(query: string): Promise<string> {
    const res = await post(`/v1/jobs${query}`, { headers: { 'content-type': 'image/png' }, body: img.png })
    expect(res.status).toBe(202)
    const { id } = (await res.json()) as { id: string }
    for (let i = 0; i < 600; i++) {
      const s = (await (await fetch(`${svc.url}/v1/jobs/${id}`)).json()) as { status: string; options: Record<string, unknown> }
      if (s.status === 'succeeded') {
        expect(s.options.words).toBe(query.includes('words=true') ? true : undefined)
        return id
      }
      expect(['queued', 'running']).toContain(s.status)
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error('job did not finish')
  }
  it('a job without words answers JSON without them, unless the result request asks', async () => {
    const id = await finishedJob('')
    const plain = await result(await fetch(`${svc.url}/v1/jobs/${id}/result`))
    expect(plain.lines[0]).not.toHaveProperty('words')
    expectWords(await result(await fetch(`${svc.url}/v1/jobs/${id}/result?words=true`)))
  })
  it('a job submitted with words=true answers with them', async () => {
    const id = await finishedJob('?words=true')
    expectWords(await result(await fetch(`${svc.url}/v1/jobs/${id}/result`)))
  })
})
