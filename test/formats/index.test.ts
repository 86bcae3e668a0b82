import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { FORMATS, formatFromAccept, framedStream, isFormat, RENDERERS, renderResult, resultText } from '../../src/formats/index.js'
import { OcrError } from '../../src/errors.js'
import { jobResultQuerySchema, ocrQuerySchema } from '../../src/server/schemas.js'
import { page, rect, result, sampleResult } from './support.js'

describe('format table', () => {
  it('lists every format with a content type, an extension and whether it is binary', () => {
    expect([...FORMATS]).toEqual(['json', 'jsonl', 'text', 'hocr', 'alto', 'pdf'])
    expect(Object.keys(RENDERERS).sort()).toEqual([...FORMATS].sort())
    expect(FORMATS.filter((f) => RENDERERS[f].binary)).toEqual(['pdf'])
    expect(FORMATS.filter((f) => RENDERERS[f].needsSource)).toEqual(['pdf'])
    expect(FORMATS.filter((f) => RENDERERS[f].stream !== null)).toEqual(['json', 'jsonl', 'text'])
    expect(RENDERERS.hocr.contentType).toMatch(/^text\/vnd\.hocr\+html/)
    expect(RENDERERS.alto.contentType).toMatch(/^application\/alto\+xml/)
    expect(isFormat('alto')).toBe(true)
    expect(isFormat('yaml')).toBe(false)
  })
})

describe('formatFromAccept', () => {
  it.each([
    [undefined, 'json'],
    ['', 'json'],
    ['*/*', 'json'],
    ['application/pdf', 'pdf'],
    ['application/alto+xml', 'alto'],
    ['application/xml', 'alto'],
    ['text/vnd.hocr+html', 'hocr'],
    ['text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'hocr'],
    ['text/plain', 'text'],
    ['application/x-ndjson', 'jsonl'],
    ['APPLICATION/JSON; charset=utf-8', 'json'],
    ['application/json;q=0.5, application/pdf', 'pdf'],
    ['*/*, application/alto+xml', 'alto'],
    ['application/pdf;q=0, text/plain;q=0.1', 'text'],
    ['image/png', null],
    ['application/pdf;q=0', null],
  ] as const)('%s → %s', (accept, expected) => {
    expect(formatFromAccept(accept)).toBe(expected)
  })
})

describe('text', () => {
  it('puts the lines in reading order and a blank line between pages', () => {
    const r = sampleResult()
    expect(resultText(r)).toBe(`Tom & Jerry <say> "hi" 'there'\n你好，世界 OCR 2024\ntilted line\n\n𠀀 astral 😀`)
    expect(RENDERERS.text.stream!.item('a.png', r)).toBe(`==> a.png <==\n${resultText(r)}\n`)
    expect(resultText(result([page(1, 10, 10, [])]))).toBe('')
  })
})

describe('renderResult', () => {
  const r = sampleResult()

  it('renders each text format as one string document', async () => {
    expect(JSON.parse((await renderResult('json', r)) as string)).toEqual(r)
    const jsonl = (await renderResult('jsonl', r, { fileName: 'a.png' })) as string
    expect(jsonl.endsWith('\n') && jsonl.split('\n')).toHaveLength(2)
    expect(JSON.parse(jsonl)).toEqual({ file: 'a.png', ...r })
    expect(await renderResult('text', r)).toBe(resultText(r) + '\n')
    expect(await renderResult('hocr', r, { fileName: 'a.png' })).toMatch(/class="ocr_page"/)
    expect(await renderResult('alto', r, { fileName: 'a.png' })).toMatch(/<fileName>a\.png<\/fileName>/)
  })

  it('renders pdf as bytes from the source, embedding a plain JPEG unchanged', async () => {
    const jpeg = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#468' } }).jpeg().toBuffer()
    const pdf = await renderResult('pdf', result([page(1, 120, 80, [{ text: 'x', score: 1, box: rect(1, 1, 10, 10) }])]), { source: jpeg })
    expect(pdf).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(pdf as Uint8Array).subarray(0, 5).toString()).toBe('%PDF-')
    expect(Buffer.from(pdf as Uint8Array).includes(jpeg)).toBe(true)
    await expect(renderResult('pdf', r)).rejects.toThrow(OcrError)
  })
})

describe('every format the server accepts has a renderer', () => {
  const accepted = new Set([...ocrQuerySchema.properties.format.enum, ...jobResultQuerySchema.properties.format.enum])

  it.each([...accepted])('%s renders a document of its kind', async (format) => {
    expect(isFormat(format)).toBe(true)
    const renderer = RENDERERS[format as keyof typeof RENDERERS]
    expect(renderer, `RENDERERS has no entry for ${format}`).toBeDefined()
    expect(renderer.contentType).toMatch(/^[a-z]+\/[a-z+.-]+/)
    expect(renderer.extension).toMatch(/^\.[a-z]+$/)
    const jpeg = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#468' } }).jpeg().toBuffer()
    const r = result([page(1, 120, 80, [{ text: 'x', score: 1, box: rect(1, 1, 10, 10) }])])
    const doc = await renderer.render(r, { fileName: 'a.jpg', ...(renderer.needsSource ? { source: jpeg } : {}) })
    if (renderer.binary) expect(doc).toBeInstanceOf(Uint8Array)
    else expect(doc).toMatch(/x/)
  })
})

describe('several inputs in one stream', () => {
  const r = sampleResult()
  /** The whole stream for these pieces, as the CLI writes it. */
  const whole = (framing: Parameters<typeof framedStream>[0], pieces: string[]): string => {
    const stream = framedStream(framing)
    return stream.open + pieces.map((p) => stream.next(p)).join('') + stream.close
  }

  it('json: a JSON array of {"file", ...result} for 0, 1 and n results', () => {
    const json = RENDERERS.json.stream!
    expect(whole(json, [])).toBe('[\n\n]\n')
    expect(JSON.parse(whole(json, []))).toEqual([])
    const one = whole(json, [json.item('a.png', r)])
    expect(one).toBe(`[\n${JSON.stringify({ file: 'a.png', ...r })}\n]\n`)
    expect(JSON.parse(one)).toEqual([{ file: 'a.png', ...r }])
    const files = ['a.png', 'b.jpg', 'c.pdf']
    const many = whole(json, files.map((f) => json.item(f, r)))
    expect(many.split('\n')).toHaveLength(files.length + 3) // "[", one element a line, "]", and the final newline
    expect(JSON.parse(many)).toEqual(files.map((file) => ({ file, ...r })))
    expect(json.failure).toBeNull()
  })

  it('jsonl: one record a line, failures as {"file", "error"} records in their place', () => {
    const jsonl = RENDERERS.jsonl.stream!
    const error = { code: 'UNSUPPORTED_MEDIA', message: 'not an image' }
    const text = whole(jsonl, [jsonl.item('a.png', r), jsonl.failure!('b.png', error), jsonl.item('c.png', r)])
    expect(text.endsWith('\n')).toBe(true)
    expect(text.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ file: 'a.png', ...r }, { file: 'b.png', error }, { file: 'c.png', ...r }])
    expect(whole(jsonl, [])).toBe('')
  })

  it('text: each file under a "==> file <==" header', () => {
    const text = RENDERERS.text.stream!
    expect(whole(text, [text.item('a.png', r), text.item('b.png', result([page(1, 10, 10, [])]))])).toBe(`==> a.png <==\n${resultText(r)}\n==> b.png <==\n`)
  })
})
