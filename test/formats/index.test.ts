import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { FORMAT_INFO, FORMATS, formatFromAccept, formatResult, isFormat, renderResult, resultText } from '../../src/formats/index.js'
import { OcrError } from '../../src/errors.js'
import { page, rect, result, sampleResult } from './support.js'

describe('format table', () => {
  it('lists every format with a content type, an extension and whether it is binary', () => {
    expect([...FORMATS]).toEqual(['json', 'jsonl', 'text', 'hocr', 'alto', 'pdf'])
    expect(Object.keys(FORMAT_INFO).sort()).toEqual([...FORMATS].sort())
    expect(FORMATS.filter((f) => FORMAT_INFO[f].binary)).toEqual(['pdf'])
    expect(FORMAT_INFO.hocr.contentType).toMatch(/^text\/vnd\.hocr\+html/)
    expect(FORMAT_INFO.alto.contentType).toMatch(/^application\/alto\+xml/)
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
    expect(formatResult('text', 'a.png', r, true)).toBe(`==> a.png <==\n${resultText(r)}\n`)
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
    expect(formatResult('alto', 'a.png', r, false)).toBe(await renderResult('alto', r, { fileName: 'a.png' }))
  })

  it('renders pdf as bytes from the source, embedding a plain JPEG unchanged', async () => {
    const jpeg = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#468' } }).jpeg().toBuffer()
    const pdf = await renderResult('pdf', result([page(1, 120, 80, [{ text: 'x', score: 1, box: rect(1, 1, 10, 10) }])]), { source: jpeg })
    expect(pdf).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(pdf as Uint8Array).subarray(0, 5).toString()).toBe('%PDF-')
    expect(Buffer.from(pdf as Uint8Array).includes(jpeg)).toBe(true)
    expect(() => formatResult('pdf', 'a.png', r, false)).toThrow(OcrError)
  })
})
