/**
 * `ocrserve read` as a user runs it: the built binary (bin/ocrserve.js → dist/) in a child process,
 * on files and directories made in the test.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildOnce } from '../helpers/build.js'
import { file, program, requireOrSkip } from '../helpers/requirements.js'
import { longPdf, longPdfLine, makePdf, textPage } from '../fixtures/pdfs.js'
import { renderPage, squash, type Page } from './support.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

/**
 * `ocrserve ARGS` on a pseudo-terminal `cols` wide (script(1)), so stderr is a TTY as for a user.
 * `watch` sees the output so far and may press Ctrl-C (^C through the terminal, as a user does).
 */
function onTerminal(args: string[], cols: number, watch?: (text: string, ctrlC: () => void) => void): Promise<{ code: number | null; text: string }> {
  const cmd = `stty cols ${cols}; exec ${[process.execPath, 'bin/ocrserve.js', ...args].map((a) => `'${a}'`).join(' ')}`
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let text = ''
  let pressed = false
  const ctrlC = (): void => {
    if (!pressed) child.stdin.write('\x03')
    pressed = true
  }
  const onData = (d: Buffer): void => {
    text += d.toString()
    watch?.(stripAnsi(text), ctrlC)
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, text })))
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g
const stripAnsi = (s: string): string => s.replace(ANSI, '')

/** The progress bar's frames in terminal output (each drawn after a cursor move or a carriage return). */
const barFrames = (text: string): string[] =>
  text
    .replace(ANSI, '\n')
    .split(/[\r\n]+/)
    .filter((l) => / files \| /.test(l))
    .map((l) => l.trimEnd())

/** Runs the CLI; resolves with its exit code and output whatever the code. */
function ocrserve(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bin/ocrserve.js', ...args], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err)
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr })
    })
  })
}

interface JsonLine {
  text: string
  score: number
  box: [number, number][]
  words?: { text: string; score: number; box: [number, number][] }[]
}
interface JsonPage {
  page: number
  width: number
  height: number
  dpi?: number
  source: string
  lines: JsonLine[]
}
interface JsonRecord {
  file: string
  width?: number
  height?: number
  lines?: JsonLine[]
  pages?: JsonPage[]
  error?: { code: string; message: string }
}

let dir: string
let pageA: Page
let pageB: Page
const files = { a: '', b: '', corrupt: '' }

beforeAll(async () => {
  await buildOnce()
  ;[pageA, pageB] = await Promise.all([renderPage(['HELLO WORLD 2024', 'Quick brown fox']), renderPage(['PAGE TWO 77'])])
  dir = mkdtempSync(join(tmpdir(), 'ocrserve-cli-'))
  const images = join(dir, 'images')
  mkdirSync(join(images, 'sub'), { recursive: true })
  files.a = join(images, 'a.png')
  files.b = join(images, 'sub', 'b.jpg')
  files.corrupt = join(images, 'c.png')
  writeFileSync(files.a, pageA.png)
  writeFileSync(files.b, await sharp(pageB.png).jpeg({ quality: 90 }).toBuffer())
  writeFileSync(files.corrupt, pageA.png.subarray(0, 300)) // a PNG cut short
  writeFileSync(join(images, 'notes.txt'), 'not an image; the directory walk skips it\n')
  mkdirSync(join(dir, 'empty'))
})

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const expectRecord = (rec: JsonRecord, page: Page) => {
  expect([rec.width, rec.height]).toEqual([page.width, page.height])
  expect(rec.lines!.map((l) => squash(l.text))).toEqual(page.lines.map(squash))
  for (const l of rec.lines!) {
    expect(typeof l.score).toBe('number')
    expect(l.score).toBeGreaterThan(0.5)
    expect(l.box).toHaveLength(4)
    for (const p of l.box) expect(p).toHaveLength(2)
  }
}

describe('ocrserve read', () => {
  it('--format jsonl on a directory: one JSON object per image file, failures reported, exit 1', async () => {
    const r = await ocrserve(['read', '--format', 'jsonl', '--workers', '1', join(dir, 'images')])
    expect(r.code, r.stderr).toBe(1)
    const lines = r.stdout.split('\n').filter((l) => l !== '')
    expect(r.stdout.endsWith('\n')).toBe(true)
    expect(lines).toHaveLength(3)
    const recs = lines.map((l) => JSON.parse(l) as JsonRecord)
    // the walk is sorted and recursive; notes.txt is not an image
    expect(recs.map((x) => x.file)).toEqual([files.a, files.corrupt, files.b])
    expectRecord(recs[0]!, pageA)
    expectRecord(recs[2]!, pageB)
    expect(recs[1]!.error?.code).toBe('UNDECODABLE_IMAGE')
    expect(recs[1]!.lines).toBeUndefined()
    // stderr names the file and the reason
    expect(r.stderr).toContain(files.corrupt)
    expect(r.stderr).toContain('UNDECODABLE_IMAGE')
    expect(r.stderr).not.toContain(files.a)
  })

  it('--format json on two files → a JSON array; --out writes it to a file and nothing to stdout', async () => {
    const out = join(dir, 'out.json')
    const r = await ocrserve(['read', '--format', 'json', '--workers', '1', '--out', out, files.b, files.a])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('')
    const recs = JSON.parse(readFileSync(out, 'utf8')) as JsonRecord[]
    expect(Array.isArray(recs)).toBe(true)
    // in the order given
    expect(recs.map((x) => x.file)).toEqual([files.b, files.a])
    expectRecord(recs[0]!, pageB)
    expectRecord(recs[1]!, pageA)
  })

  it('--words gives every line its words (json and jsonl); without it there are none', async () => {
    for (const format of ['json', 'jsonl']) {
      const r = await ocrserve(['read', '--format', format, '--words', '--workers', '1', files.a])
      expect(r.code, r.stderr).toBe(0)
      const rec = JSON.parse(r.stdout.trim()) as JsonRecord
      expectRecord(rec, pageA)
      for (const line of rec.lines!) {
        expect(line.words!.map((w) => w.text).join(' ')).toBe(line.text)
        for (const w of line.words!) expect(w.box).toHaveLength(4)
      }
      expect(rec.lines![0]!.words!.map((w) => w.text)).toEqual(['HELLO', 'WORLD', '2024'])
    }
    const plain = await ocrserve(['read', '--workers', '1', files.a])
    expect((JSON.parse(plain.stdout) as JsonRecord).lines!.every((l) => l.words === undefined)).toBe(true)
  })

  it('--format text prints the lines in reading order; a missing file fails with its reason', async () => {
    const missing = join(dir, 'missing.png')
    const r = await ocrserve(['read', '--format', 'text', '--workers', '1', files.a, missing])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(missing)
    expect(r.stderr).toContain('NOT_FOUND')
    const body = r.stdout.split('\n').filter((l) => l !== '')
    // several files: each result under a header naming it
    expect(body[0]).toContain(files.a)
    expect(body.slice(1).map(squash)).toEqual(pageA.lines.map(squash))
  })

  it('no image files → exit 2 without starting the engine', async () => {
    const r = await ocrserve(['read', join(dir, 'empty')])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/no image or PDF files/)
  })

  it.each([
    ['no paths', ['read'], /missing required argument 'paths'/],
    ['an unknown option', ['read', '--bogus', 'a.png'], /unknown option '--bogus'/],
    ['a --format outside the choices', ['read', '--format', 'docx', 'a.png'], /'docx' is invalid.*json, jsonl, text, hocr, alto, pdf/],
    ['a --dpi out of range', ['read', '--dpi', '5', 'a.png'], /must be an integer from 36 to 1200/],
    ['a malformed --pages', ['read', '--pages', '3-1', 'a.png'], /--pages/],
    ['an unknown command', ['scan', 'a.png'], /unknown command 'scan'/],
    ['no command at all', [], /Usage: ocrserve/],
    ['serve with an unknown option', ['serve', '--bogus'], /unknown option '--bogus'/],
  ])('a usage error (%s) → exit 2, the reason on stderr, nothing on stdout', async (_, args, reason) => {
    const r = await ocrserve(args)
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(reason)
  })

  it('a one-file read loads what reading needs, not the HTTP server, the model server or the PDF writer', async () => {
    const trace = join(dir, 'modules.txt')
    const traced = (args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['--import', './test/fixtures/module-trace/register.mjs', 'bin/ocrserve.js', ...args], { env: { ...process.env, MODULE_TRACE: trace } }, (err) => {
          if (err) return reject(err)
          const loaded = readFileSync(trace, 'utf8')
          rmSync(trace)
          resolve(loaded)
        }),
      )
    const packages = (loaded: string) => new Set([...loaded.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]))
    const read = packages(await traced(['read', '--format', 'text', '--no-progress', files.a]))
    for (const pkg of ['onnxruntime-node', 'sharp', 'commander']) expect(read, pkg).toContain(pkg)
    for (const pkg of ['fastify', '@fastify/swagger', '@grpc/grpc-js', 'pdf-lib', 'pdfjs-dist', 'pino']) expect(read, pkg).not.toContain(pkg)
    const version = packages(await traced(['--version']))
    for (const pkg of ['onnxruntime-node', 'sharp', 'fastify', '@grpc/grpc-js', 'pdf-lib']) expect(version, pkg).not.toContain(pkg)
  })

  it('--help and --version exit 0', async () => {
    for (const args of [['--help'], ['read', '--help'], ['--version']]) {
      const r = await ocrserve(args)
      expect(r.code, args.join(' ')).toBe(0)
      expect(r.stdout.length).toBeGreaterThan(0)
    }
  })

  it('--out in a folder that does not exist → exit 2 with the reason, no crash', async () => {
    const out = join(dir, 'no-such-folder', 'out.json')
    const r = await ocrserve(['read', '--out', out, files.a])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`cannot write ${out}`)
    expect(r.stderr).toContain('ENOENT')
    expect(r.stderr).not.toMatch(/Unhandled|node:events/)
  })

  it('a failing output (disk full) → exit 1 with the reason, no crash', async (ctx) => {
    requireOrSkip(ctx, file('disk-full test', '/dev/full', 'full device', 'a Linux system has it'))
    const r = await ocrserve(['read', '--workers', '1', '--out', '/dev/full', files.a])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('cannot write /dev/full')
    expect(r.stderr).not.toMatch(/Unhandled|node:events/)
  })

  it('stdout closed early (as by `| head -1`) ends the run quietly', async () => {
    const child = spawn(process.execPath, ['bin/ocrserve.js', 'read', '--format', 'jsonl', '--workers', '1', files.a, files.corrupt, files.b], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    let first = ''
    child.stdout.once('data', (d: Buffer) => {
      first = d.toString()
      child.stdout.destroy() // the reader goes away after the first record
    })
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    expect(JSON.parse(first.split('\n')[0]!).file).toBe(files.a)
    expect(stderr).not.toMatch(/EPIPE|Unhandled|node:events/)
    // the corrupt file may or may not have been reached; either way no crash
    expect([0, 1]).toContain(code)
  })
})

describe('ocrserve read: PDFs, --out-dir, --pages/--dpi/--pdf-text, Ctrl-C', () => {
  let docs: string
  const pdf = { mixed: '', long: '' }
  beforeAll(async () => {
    docs = join(dir, 'docs')
    mkdirSync(join(docs, 'sub'), { recursive: true })
    pdf.mixed = join(docs, 'mixed.pdf')
    pdf.long = join(docs, 'sub', 'long.pdf')
    // page 1: a text layer; page 2: a scan of pageB at 200 dpi
    writeFileSync(pdf.mixed, await makePdf([textPage(['FIRST PAGE TEXT'], { height: 200 }), { image: pageB.png, dpi: 200 }]))
    writeFileSync(pdf.long, await longPdf(3))
    writeFileSync(join(docs, 'sub', 'a.png'), pageA.png)
  })

  it('--out-dir: one output file per input (PDFs found in directories), sub-directories mirrored, nothing on stdout', async () => {
    const outDir = join(dir, 'out-json')
    const r = await ocrserve(['read', '--workers', '1', '--out-dir', outDir, docs])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('')
    expect(readdirSync(outDir).sort()).toEqual(['mixed.json', 'sub'])
    expect(readdirSync(join(outDir, 'sub')).sort()).toEqual(['a.json', 'long.json'])
    const mixed = JSON.parse(readFileSync(join(outDir, 'mixed.json'), 'utf8')) as JsonRecord
    expect(mixed.pages!.map((p) => [p.page, p.source, p.dpi])).toEqual([
      [1, 'embedded', 200],
      [2, 'ocr', 200],
    ])
    expect(mixed.pages![0]!.lines.map((l) => l.text)).toEqual(['FIRST PAGE TEXT'])
    expect(mixed.pages![1]!.lines.map((l) => squash(l.text))).toEqual(pageB.lines.map(squash))
    const long = JSON.parse(readFileSync(join(outDir, 'sub', 'long.json'), 'utf8')) as JsonRecord
    expect(long.pages!.map((p) => p.lines.map((l) => l.text))).toEqual([[longPdfLine(1)], [longPdfLine(2)], [longPdfLine(3)]])
    expectRecord(JSON.parse(readFileSync(join(outDir, 'sub', 'a.json'), 'utf8')) as JsonRecord, pageA)
  })

  it('--out-dir --format text: .txt files; a failed input gets no file, the others are written, exit 1', async () => {
    const outDir = join(dir, 'out-text')
    const r = await ocrserve(['read', '--workers', '1', '--format', 'text', '--out-dir', outDir, files.corrupt, pdf.long, files.b])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(files.corrupt)
    expect(r.stderr).toContain('UNDECODABLE_IMAGE')
    // files given by name: their own names; no temporary files left
    expect(readdirSync(outDir).sort()).toEqual(['b.txt', 'long.txt'])
    // pages separated by a blank line
    expect(readFileSync(join(outDir, 'long.txt'), 'utf8').split('\n\n').map((t) => t.trim())).toEqual([longPdfLine(1), longPdfLine(2), longPdfLine(3)])
    expect(squash(readFileSync(join(outDir, 'b.txt'), 'utf8'))).toBe(pageB.lines.map(squash).join(''))
  })

  it('--pages, --dpi, --pdf-text reach the engine', async () => {
    const r = await ocrserve(['read', '--workers', '1', '--pages', '2-', '--dpi', '100', '--pdf-text', 'embedded', pdf.long])
    expect(r.code, r.stderr).toBe(0)
    const rec = JSON.parse(r.stdout) as JsonRecord
    // 612 × 200 pt at 100 dpi
    expect(rec.pages!.map((p) => [p.page, p.source, p.dpi, p.width, p.height])).toEqual([
      [2, 'embedded', 100, 850, 278],
      [3, 'embedded', 100, 850, 278],
    ])
    const ocr = await ocrserve(['read', '--workers', '1', '--pages', '1', '--pdf-text', 'ocr', pdf.long])
    const page = (JSON.parse(ocr.stdout) as JsonRecord).pages!
    expect(page.map((p) => [p.page, p.source])).toEqual([[1, 'ocr']])
    expect(squash(page[0]!.lines.map((l) => l.text).join(''))).toBe(squash(longPdfLine(1)))
  })

  it.each([
    [['--pages', '3-1'], /--pages.*runs backwards/],
    [['--pages', 'x'], /--pages.*not a page or a range/],
    [['--dpi', '20'], /--dpi.*36 to 1200/],
    [['--dpi', '1.5'], /--dpi/],
    [['--pdf-text', 'never'], /--pdf-text.*never/],
    [['--out', 'x.json', '--out-dir', 'y'], /cannot be used with/],
  ])('%j → usage error naming the option, exit 2, nothing read', async (args, msg) => {
    const r = await ocrserve(['read', ...args, pdf.long])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(msg)
  })

  it('a page range past the end of one document fails that file only', async () => {
    const r = await ocrserve(['read', '--workers', '1', '--format', 'jsonl', '--pages', '3', pdf.long, pdf.mixed])
    expect(r.code).toBe(1)
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as JsonRecord)
    expect(recs[0]!.pages!.map((p) => p.page)).toEqual([3])
    expect(recs[1]!.error!.code).toBe('BAD_PAGE_RANGE')
    expect(recs[1]!.error!.message).toContain('2 pages')
  })

  it('--out-dir with hocr, alto and pdf: one document per input with the format\'s extension; the PDF keeps its pages and gains a text layer where OCR read it', async () => {
    const outDir = join(dir, 'out-formats')
    for (const format of ['hocr', 'alto', 'pdf']) {
      const r = await ocrserve(['read', '--workers', '1', '--format', format, '--out-dir', outDir, pdf.mixed, files.a])
      expect(r.code, r.stderr).toBe(0)
    }
    expect(readdirSync(outDir).sort()).toEqual(['a.hocr', 'a.pdf', 'a.xml', 'mixed.hocr', 'mixed.pdf', 'mixed.xml'])
    const hocr = readFileSync(join(outDir, 'mixed.hocr'), 'utf8')
    expect(hocr.match(/class=.ocr_page/g)).toHaveLength(2)
    // the text-layer page's line comes with its words, each its own ocrx_word
    const hocrWords = [...hocr.matchAll(/class=.ocrx_word[^>]*>([^<]*)</g)].map((m) => m[1])
    expect(hocrWords.slice(0, 3)).toEqual(['FIRST', 'PAGE', 'TEXT'])
    const alto = readFileSync(join(outDir, 'a.xml'), 'utf8')
    expect(alto).toContain('<alto')
    const words = [...alto.matchAll(/<String [^>]*CONTENT="([^"]*)"/g)].map((m) => m[1]!)
    expect(squash(words.join(''))).toBe(pageA.lines.map(squash).join(''))
    // the searchable PDFs, read back with pdf.js: every page's text is there
    const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs')
    const pageTexts = async (path: string): Promise<string[]> => {
      const doc = await pdfjs.getDocument({ data: new Uint8Array(readFileSync(path)), verbosity: 0 }).promise
      try {
        const out: string[] = []
        for (let n = 1; n <= doc.numPages; n++) {
          const content = await (await doc.getPage(n)).getTextContent()
          out.push(squash(content.items.map((i) => ('str' in i ? i.str : '')).join('')))
        }
        return out
      } finally {
        await doc.destroy()
      }
    }
    expect(await pageTexts(join(outDir, 'mixed.pdf'))).toEqual([squash('FIRST PAGE TEXT'), pageB.lines.map(squash).join('')])
    expect(await pageTexts(join(outDir, 'a.pdf'))).toEqual([pageA.lines.map(squash).join('')])
  })

  it('hocr/alto/pdf to stdout with several inputs → exit 2 (one document per input: use --out-dir)', async () => {
    const r = await ocrserve(['read', '--format', 'alto', files.a, files.b])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--format alto writes one document per input.*--out-dir/)
  })

  it('--format pdf with --out-dir next to the input PDF would overwrite it → exit 2, input untouched', async () => {
    const before = readFileSync(pdf.mixed)
    const r = await ocrserve(['read', '--format', 'pdf', '--out-dir', docs, pdf.mixed])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/is an input; it would be overwritten/)
    expect(readFileSync(pdf.mixed).equals(before)).toBe(true)
  })

  it('two inputs that would write the same output file → exit 2 before any work', async () => {
    const twin = join(dir, 'twin')
    mkdirSync(twin, { recursive: true })
    writeFileSync(join(twin, 'a.png'), pageA.png)
    writeFileSync(join(twin, 'a.pdf'), await makePdf([textPage(['TWIN'])]))
    const r = await ocrserve(['read', '--out-dir', join(dir, 'out-twin'), twin])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/a\.pdf and .*a\.png would both be written to .*a\.json/)
  })

  it('on a terminal: one progress bar counting pages across files, its total growing as documents open', async (ctx) => {
    requireOrSkip(ctx, program('terminal progress-bar test', 'script', 'apt-get install bsdutils'))
    const outDir = join(dir, 'out-tty')
    // script(1) gives the child a pseudo-terminal, so stderr.isTTY is true as for a user
    const cmd = [process.execPath, 'bin/ocrserve.js', 'read', '--workers', '1', '--out-dir', outDir, pdf.long, files.a].map((a) => `'${a}'`).join(' ')
    const r = await new Promise<Run>((resolve, reject) =>
      execFile('script', ['-qec', cmd, '/dev/null'], { timeout: 120_000, env: { ...process.env, COLUMNS: '200' } }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err)
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr })
      }),
    )
    expect(r.code, r.stdout).toBe(0)
    // 3 pages of the PDF + 1 image; before the PDF was opened the total counted it as 1 page
    expect(r.stdout).toMatch(/4\/4 pages \| 2\/2 files/)
    expect(r.stdout).toMatch(/\b\d\/2 pages/)
  })

  it.skipIf(!existsSync('/usr/bin/script'))('on a terminal: a path too long for the line shows its end, the file name', async () => {
    const deep = join(dir, 'a-folder-with-a-rather-long-name', 'and-another-level-below-it', 'scans-of-2024')
    mkdirSync(deep, { recursive: true })
    const file = join(deep, 'page-0017-of-the-annual-report.png')
    writeFileSync(file, pageA.png)
    expect(file.length).toBeGreaterThan(100)
    const cols = 140
    const out = await onTerminal(['read', '--workers', '1', '--out-dir', join(dir, 'out-long'), file], cols)
    expect(out.code, out.text).toBe(0)
    const last = barFrames(out.text).at(-1)!
    expect(last).toMatch(/1\/1 files/)
    expect(last.endsWith('page-0017-of-the-annual-report.png'), last).toBe(true)
    expect(last).toContain('…')
    expect([...last].length).toBeLessThan(cols)
  })

  it.skipIf(!existsSync('/usr/bin/script'))('Ctrl-C on a terminal while two files are read: the bar and the message count the same files done (none)', async () => {
    const slow = [join(dir, 'slow-1.pdf'), join(dir, 'slow-2.pdf')]
    for (const f of slow) writeFileSync(f, await longPdf(30))
    const run = onTerminal(['read', '--workers', '2', '--pdf-text', 'ocr', '--out-dir', join(dir, 'out-sigint-tty'), ...slow, files.a, files.b], 200, (text, ctrlC) => {
      // both documents opened (the total grows from 4 to 62 pages) and a page read: press Ctrl-C
      if (/[1-9]\d*\/62 pages/.test(text)) ctrlC()
    })
    const out = await run
    expect(out.code, out.text).toBe(130)
    expect(stripAnsi(out.text)).toMatch(/interrupted: 0 of 4 files done/)
    expect(barFrames(out.text).at(-1)).toMatch(/\| 0\/4 files \|/)
  })

  it('Ctrl-C (SIGINT): stops starting files, cancels the one in flight, keeps finished files complete, exit 130', async () => {
    const outDir = join(dir, 'out-sigint')
    const slow = join(dir, 'slow.pdf')
    writeFileSync(slow, await longPdf(30))
    // a.png and b.jpg first; then 30 pages OCRed one by one (many seconds); then a.png again under another name
    const last = join(dir, 'last.png')
    writeFileSync(last, pageA.png)
    const child = spawn(process.execPath, ['bin/ocrserve.js', 'read', '--workers', '1', '--pdf-text', 'ocr', '--out-dir', outDir, files.a, files.b, slow, last], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    // wait until the two images are written and the PDF is being read
    const deadline = Date.now() + 90_000
    while (!existsSync(join(outDir, 'b.json')) && Date.now() < deadline) await sleep(100)
    expect(existsSync(join(outDir, 'b.json'))).toBe(true)
    await sleep(1500)
    const t0 = Date.now()
    child.kill('SIGINT')
    const code = await closed
    expect(code, stderr).toBe(130)
    // it stopped within the page being read, not after the 30 pages
    expect(Date.now() - t0).toBeLessThan(30_000)
    expect(stderr).toMatch(/interrupted: 2 of 4 files done/)
    expect(readdirSync(outDir).sort()).toEqual(['a.json', 'b.json'])
    expectRecord(JSON.parse(readFileSync(join(outDir, 'a.json'), 'utf8')) as JsonRecord, pageA)
    expectRecord(JSON.parse(readFileSync(join(outDir, 'b.json'), 'utf8')) as JsonRecord, pageB)
  })
})
