// ocrserve web page: plain JS modules, no build step, no network beyond this server.
import { chooseRoute, isPdfBytes, isTiffBytes, selectPages, tiffPageCount } from './doc-info.js'
import { bitmapSource, createView, pdfSource, previewSource } from './view.js'

const $ = (id) => document.getElementById(id)
const fileInput = $('file')
const statusEl = $('status')
const noteEl = $('note')
const linesEl = $('lines')
const apiKey = $('apikey')
apiKey.value = localStorage.getItem('ocrserve.apikey') ?? ''
apiKey.addEventListener('change', () => localStorage.setItem('ocrserve.apikey', apiKey.value))

/** The server's limits (data attributes it puts on <body>): where each file is sent. */
const LIMITS = (() => {
  const d = document.body.dataset
  return {
    maxBodyBytes: Number(d.maxBodyBytes),
    jobsMaxBodyBytes: Number(d.jobsMaxBodyBytes),
    syncMaxPages: Number(d.syncMaxPages),
    previewMaxSide: Number(d.previewMaxSide),
    pdfjs: d.pdfjs,
    /** The model packs, the default first. */
    models: (d.models ?? '').split(',').filter(Boolean),
  }
})()

// a choice of model pack when the server has several (the default is the first)
if (LIMITS.models.length > 1) {
  const select = $('model')
  for (const name of LIMITS.models) select.append(new Option(name, name))
  $('model-choice').hidden = false
}

let doc = null // the OcrResult shown: every page read so far
let pageIndex = -1 // the entry of doc.pages on show
let active = -1
let source = null // { file, query, jobId }: where the downloads come from
let poller = null // the running job's { id, stop }
let run = 0 // bumped by every new file: work for an older one stops
let undrawable = null // why the browser cannot draw this document's pages (null: it can)

/** What to do about an error code (docs/ERRORS.md has them all). */
const HINTS = {
  UNAUTHORIZED: 'Enter a valid API key below.',
  PAYLOAD_TOO_LARGE: 'Try a smaller file.',
  IMAGE_TOO_LARGE: 'Scale the image down and try again.',
  UNSUPPORTED_MEDIA: 'Use JPEG, PNG, WebP, GIF, BMP, TIFF or PDF.',
  UNDECODABLE_IMAGE: 'The file looks damaged.',
  ENCRYPTED_DOCUMENT: 'Remove the password from the PDF and try again.',
  OVERLOADED: 'The server is busy; try again in a moment.',
  TOO_MANY_REQUESTS: 'The server is busy; try again in a moment.',
  NOT_READY: 'The models are still loading; try again in a moment.',
  TIMEOUT: 'The image took too long to read.',
  BAD_PAGE_RANGE: 'Fix the pages box (e.g. 1-3,7), or leave it empty for all pages.',
  TOO_MANY_PAGES: 'Select fewer pages.',
  JOB_EXPIRED: 'The result is gone; read the file again.',
}

/** Milliseconds between polls of a running job. */
const POLL_MS = 400

function authHeaders() {
  return apiKey.value ? { Authorization: `Bearer ${apiKey.value}` } : {}
}

async function errorOf(res) {
  const body = await res.json().catch(() => null)
  return body?.error ?? { code: `HTTP ${res.status}`, message: res.statusText || 'request failed' }
}

/** state: idle | busy | done | error (also on <body data-state> for scripts and tests). */
function setStatus(text, state) {
  statusEl.textContent = text
  statusEl.classList.toggle('error', state === 'error')
  document.body.dataset.state = state
}

function showError(code, message) {
  statusEl.replaceChildren()
  const b = Object.assign(document.createElement('b'), { textContent: code })
  const hint = HINTS[code] ? ` ${HINTS[code]}` : ''
  statusEl.append(b, document.createTextNode(` — ${message}.${hint}`))
  statusEl.classList.add('error')
  document.body.dataset.state = 'error'
}

/** A note about the document on show (why it is read as a job, a page that cannot be drawn). */
function note(text) {
  noteEl.textContent = text
  noteEl.hidden = !text
}

const view = createView({
  frame: $('view'),
  canvas: $('canvas'),
  svg: $('boxes'),
  onPick: (i, how) => {
    highlight(i)
    if (how === 'click') linesEl.children[i]?.scrollIntoView({ block: 'nearest' })
  },
  // said once the page's lines are here (before, the reading's own error says more)
  onDrawError: (pageNumber, err, page) => {
    if (page) note(`Page ${pageNumber} cannot be drawn (${err.code ? `${err.code}: ` : ''}${err.message}); its lines are listed.`)
  },
})

function highlight(i) {
  active = i
  for (const li of linesEl.children) li.classList.toggle('active', Number(li.dataset.i) === i)
  view.highlight(i)
}

function showLines(page) {
  linesEl.replaceChildren(
    ...page.lines.map((line, i) => {
      const li = document.createElement('li')
      li.dataset.i = String(i)
      const n = Object.assign(document.createElement('span'), { className: 'n', textContent: String(i + 1) })
      const t = Object.assign(document.createElement('span'), { className: 't', textContent: line.text })
      const s = Object.assign(document.createElement('span'), { className: 's', textContent: line.score.toFixed(2) })
      li.append(n, t, s)
      li.addEventListener('click', () => {
        highlight(i)
        $('view').scrollIntoView({ block: 'nearest' })
      })
      li.addEventListener('mouseenter', () => highlight(i))
      return li
    }),
  )
  $('toolbar').hidden = false
  showTiming(page)
}

function showTiming(page) {
  const t = page.timing_ms
  const where = doc.pages.length > 1 ? `page ${page.page} (${doc.pages.length} pages) · ` : ''
  const how = page.source === 'embedded' ? ' · from the PDF text layer' : ''
  $('timing').textContent = `${where}${page.lines.length} lines · ${t.total.toFixed(0)} ms (decode ${t.decode.toFixed(0)}, det ${t.det.toFixed(0)}, cls ${t.cls.toFixed(0)}, rec ${t.rec.toFixed(0)})${page.rotation ? ` · page turned ${page.rotation}°` : ''}${how}`
}

/** Shows entry i of doc.pages: its picture with its boxes, and its lines. */
function showPage(i) {
  pageIndex = i
  active = -1
  const page = doc.pages[i]
  for (const b of $('pages-nav').children) b.setAttribute('aria-current', String(Number(b.dataset.i) === i))
  showLines(page)
  view.show(page.page, page)
}

/**
 * Shows the document read so far (a job's partial result, or the whole of it): the page selector
 * gets a button per page read, and the page on show stays on show.
 */
function showDocument(body, { final }) {
  const keep = doc && pageIndex >= 0 ? doc.pages[pageIndex].page : null
  doc = body
  const nav = $('pages-nav')
  nav.replaceChildren(
    ...doc.pages.map((p, i) => {
      const b = Object.assign(document.createElement('button'), { type: 'button', textContent: String(p.page), title: `page ${p.page}: ${p.lines.length} lines` })
      b.dataset.i = String(i)
      b.dataset.lines = String(p.lines.length)
      b.addEventListener('click', () => showPage(i))
      return b
    }),
  )
  nav.hidden = doc.pages.length < 2 && final
  if (final) {
    $('downloads').hidden = false
    const lines = doc.pages.reduce((n, p) => n + p.lines.length, 0)
    const pages = doc.pages.length > 1 ? ` ${doc.pages.length} pages, ${lines} lines: pick a page above the list.` : ''
    setStatus(lines ? `Done.${pages} Click a line to find it on the page, or a box to find its line.` : 'No text found.', 'done')
  }
  const again = doc.pages.findIndex((p) => p.page === keep)
  if (again >= 0) {
    // the page on show is unchanged: keep its picture, its list and the line picked
    pageIndex = again
    nav.children[again].setAttribute('aria-current', 'true')
    showTiming(doc.pages[again])
  } else if (doc.pages.length > 0) {
    showPage(0)
  }
  if (undrawable && doc.pages.length > 0) note(`The pages cannot be drawn here (${undrawable}); their lines are listed.`)
}

function reset() {
  run++
  poller?.stop()
  poller = null
  doc = null
  pageIndex = -1
  active = -1
  source = null
  undrawable = null
  view.clear()
  note('')
  linesEl.replaceChildren()
  $('toolbar').hidden = true
  $('downloads').hidden = true
  $('pages-nav').hidden = true
  $('pages-nav').replaceChildren()
  $('progress-box').hidden = true
  delete document.body.dataset.via
  delete document.body.dataset.job
}

function readQuery() {
  const q = new URLSearchParams({ cls: String($('cls').checked) })
  if (!$('model-choice').hidden) q.set('model', $('model').value)
  const pages = $('pages').value.trim()
  if (pages) q.set('pages', pages)
  return q
}

/** The Content-Type to send a file with: its own when the browser knows it, else by extension. */
function contentType(file) {
  if (file.type && (file.type.startsWith('image/') || file.type === 'application/pdf')) return file.type
  if (/\.pdf$/i.test(file.name || '')) return 'application/pdf'
  return 'application/octet-stream'
}

/** pdf.js, loaded from this server the first time a PDF is opened. */
let pdfjs = null
function loadPdfjs() {
  pdfjs ??= import(`${LIMITS.pdfjs}legacy/build/pdf.min.mjs`).then(
    (m) => {
      m.GlobalWorkerOptions.workerSrc = `${LIMITS.pdfjs}legacy/build/pdf.worker.min.mjs`
      return m
    },
    (err) => {
      pdfjs = null // the next PDF tries again
      throw err
    },
  )
  return pdfjs
}

/** How wide a page is drawn: the drop zone's width on this screen, at twice its pixel density. */
const drawWidth = () => Math.max(600, Math.round($('drop').clientWidth * (window.devicePixelRatio || 1) * 2))

/**
 * What the browser can tell about the file before sending it: its page count (pdf.js for a PDF,
 * the directory chain for a TIFF, 1 for an image the browser decodes; null when unknown) and where
 * its page pictures come from.
 */
async function inspect(file) {
  const head = new Uint8Array(await file.slice(0, 1024).arrayBuffer())
  if (isPdfBytes(head)) {
    try {
      const lib = await loadPdfjs()
      const pdf = await lib.getDocument({
        data: new Uint8Array(await file.arrayBuffer()),
        cMapUrl: `${LIMITS.pdfjs}cmaps/`,
        cMapPacked: true,
        standardFontDataUrl: `${LIMITS.pdfjs}standard_fonts/`,
        wasmUrl: `${LIMITS.pdfjs}wasm/`,
        // no eval, no wasm: the page's CSP allows neither (pdf.js has JS decoders for both)
        isEvalSupported: false,
        useWasm: false,
        enableXfa: false,
        verbosity: lib.VerbosityLevel.ERRORS,
      }).promise
      return { pageCount: pdf.numPages, source: pdfSource(pdf, drawWidth()) }
    } catch (err) {
      // the server reads it or says why (encrypted, damaged); the page just cannot draw it
      return { pageCount: null, source: null, why: err.message }
    }
  }
  // pictures the size they are drawn at
  const maxSide = Math.min(LIMITS.previewMaxSide, drawWidth())
  const preview = previewSource((pageNumber) =>
    fetch(`/v1/preview?page=${pageNumber}&max_side=${maxSide}`, { method: 'POST', headers: { 'Content-Type': contentType(file), ...authHeaders() }, body: file }),
  )
  if (isTiffBytes(head)) return { pageCount: tiffPageCount(new Uint8Array(await file.arrayBuffer())), source: preview }
  // EXIF orientation applied by the browser matches the server's coordinates
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' }).catch(() => null)
  return { pageCount: 1, source: bitmap ? bitmapSource(bitmap) : preview }
}

async function read(file) {
  if (!file) return
  reset()
  const mine = run
  const current = () => mine === run
  setStatus(`Reading ${file.name || 'pasted image'} (${(file.size / 1024).toFixed(0)} KiB)…`, 'busy')
  try {
    const info = await inspect(file)
    if (!current()) return info.source?.close()
    const query = readQuery()
    const pages = info.pageCount === null ? null : selectPages(query.get('pages'), info.pageCount)
    // the first page read is on show while it is read
    view.setSource(info.source)
    if (info.source) view.show(pages?.[0] ?? 1, null)
    else undrawable = info.why
    const route = chooseRoute({ size: file.size, pages: pages?.length ?? null }, LIMITS)
    if (route.via === 'none') return showError(route.code, route.message)
    source = { file, query, jobId: null }
    const headers = { 'Content-Type': contentType(file), ...authHeaders() }
    if (route.via === 'job') {
      note(`${route.why}: read as a background job; pages are shown as they are read.`)
      return await readAsJob(file, query, headers, current)
    }
    document.body.dataset.via = 'sync'
    const res = await fetch(`/v1/ocr?${query}`, { method: 'POST', headers, body: file })
    if (!current()) return
    if (!res.ok) {
      const err = await errorOf(res)
      return showError(err.code, err.message)
    }
    showDocument(await res.json(), { final: true })
  } catch (err) {
    if (current()) showError('Network error', err.message)
  }
}

/** Sends the file to POST /v1/jobs once, then polls: progress, and each page as it is read. */
async function readAsJob(file, query, headers, current) {
  document.body.dataset.via = 'job'
  const res = await fetch(`/v1/jobs?${query}`, { method: 'POST', headers, body: file })
  if (!current()) return
  if (res.status !== 202) {
    const err = await errorOf(res)
    return showError(err.code, err.message)
  }
  const job = await res.json()
  source.jobId = job.id
  document.body.dataset.job = job.id
  setStatus(`Reading ${file.name || 'the document'} as a background job…`, 'busy')
  $('progress-box').hidden = false
  let stopped = false
  let timer = null
  let pagesShown = 0
  poller = { id: job.id, stop: () => { stopped = true; clearTimeout(timer) } }
  const get = async (url) => {
    const r = await fetch(url, { headers: authHeaders() })
    if (!r.ok) throw Object.assign(new Error(), await errorOf(r))
    return r.json()
  }
  const tick = async () => {
    if (stopped || !current()) return
    try {
      const s = await get(job.status_url)
      if (stopped) return
      const progress = $('progress')
      progress.max = s.pages_total ?? 1
      progress.value = s.pages_done
      $('progress-text').textContent = s.pages_total === null ? `${s.status}…` : `${s.pages_done} / ${s.pages_total} pages`
      if (s.status === 'queued' || s.status === 'running') {
        // the pages read so far, drawn as they come
        if (s.pages_done > pagesShown) {
          const partial = await get(`${job.result_url}?partial=true`)
          if (stopped) return
          pagesShown = partial.pages.length
          showDocument(partial, { final: false })
        }
        timer = setTimeout(tick, POLL_MS)
        return
      }
      $('progress-box').hidden = true
      poller = null
      if (s.status !== 'succeeded') return showError(s.error?.code ?? s.status, s.error?.message ?? `the job is ${s.status}`)
      showDocument(await get(job.result_url), { final: true })
    } catch (err) {
      if (!stopped) showError(err.code ?? 'Network error', err.message)
    }
  }
  tick()
}

$('cancel').addEventListener('click', async () => {
  if (!poller) return
  const { id } = poller
  poller.stop()
  poller = null
  $('progress-box').hidden = true
  await fetch(`/v1/jobs/${id}`, { method: 'DELETE', headers: authHeaders() }).catch(() => null)
  const kept = doc ? (doc.pages.length === 1 ? ' The page read so far stays shown.' : ` The ${doc.pages.length} pages read so far stay shown.`) : ''
  setStatus(`Cancelled.${kept}`, 'idle')
})

/** The formats the server writes, from its own OpenAPI document (no list to keep in step here). */
async function loadFormats() {
  const spec = await fetch('/docs/json').then((r) => (r.ok ? r.json() : null)).catch(() => null)
  const param = spec?.paths?.['/v1/ocr']?.post?.parameters?.find((p) => p.name === 'format')
  const formats = param?.schema?.enum ?? ['json', 'text']
  $('downloads').append(
    ...formats.map((f) => {
      const b = Object.assign(document.createElement('button'), { type: 'button', textContent: f })
      b.dataset.format = f
      b.addEventListener('click', () => download(f))
      return b
    }),
  )
}

/** File extensions of the text formats (the server names only binary downloads). */
const EXTENSIONS = { text: 'txt', alto: 'xml' }

/** The upload's name with the extension the server gives the format (its Content-Disposition), else .format. */
function downloadName(res, format) {
  const served = /filename="?([^";]+)"?/i.exec(res.headers.get('content-disposition') ?? '')?.[1]
  const ext = served ? served.slice(served.lastIndexOf('.')) : `.${EXTENSIONS[format] ?? format}`
  const stem = (source.file.name || '').replace(/\.[^.]+$/, '')
  return stem ? stem + ext : served ?? `ocr${ext}`
}

/** A job's result is fetched in the format; a sync result is read again in it (small files). */
async function download(format) {
  if (!source) return
  try {
    const res = source.jobId
      ? await fetch(`/v1/jobs/${source.jobId}/result?format=${format}`, { headers: authHeaders() })
      : await fetch(`/v1/ocr?${source.query}&format=${format}`, {
          method: 'POST',
          headers: { 'Content-Type': contentType(source.file), ...authHeaders() },
          body: source.file,
        })
    if (!res.ok) {
      const err = await errorOf(res)
      return showError(err.code, err.message)
    }
    const url = URL.createObjectURL(await res.blob())
    const a = Object.assign(document.createElement('a'), { href: url, download: downloadName(res, format) })
    document.body.append(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  } catch (err) {
    showError('Download failed', err.message)
  }
}

loadFormats()

const drop = $('drop')
fileInput.addEventListener('change', () => {
  const file = fileInput.files[0]
  fileInput.value = '' // picking the same file again still fires 'change'
  read(file)
})
drop.addEventListener('dragover', (ev) => {
  ev.preventDefault()
  drop.classList.add('over')
})
drop.addEventListener('dragleave', () => drop.classList.remove('over'))
drop.addEventListener('drop', (ev) => {
  ev.preventDefault()
  drop.classList.remove('over')
  read(ev.dataTransfer.files[0])
})
drop.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' || ev.key === ' ') fileInput.click()
})
document.addEventListener('paste', (ev) => {
  const item = [...(ev.clipboardData?.items ?? [])].find((i) => i.type.startsWith('image/'))
  if (item) read(item.getAsFile())
})
/** navigator.clipboard exists only in secure contexts (https, localhost); fall back to a selection. */
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text)
  const ta = Object.assign(document.createElement('textarea'), { value: text })
  ta.style.position = 'fixed'
  ta.style.opacity = '0'
  document.body.append(ta)
  ta.select()
  const ok = document.execCommand('copy')
  ta.remove()
  if (!ok) throw new Error('the browser refused to copy')
}

$('copy').addEventListener('click', async () => {
  if (!doc) return
  try {
    const lines = doc.pages.flatMap((p) => p.lines.map((l) => l.text))
    await copyText(doc.pages.map((p) => p.lines.map((l) => l.text).join('\n')).join('\n\n'))
    setStatus(`Copied ${lines.length} lines to the clipboard.`, 'done')
  } catch (err) {
    showError('Copy failed', err.message)
  }
})
