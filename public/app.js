// ocrserve web page: plain JS, no build step, no network beyond this server.
const $ = (id) => document.getElementById(id)
const drop = $('drop')
const fileInput = $('file')
const canvas = $('canvas')
const ctx = canvas.getContext('2d')
const statusEl = $('status')
const linesEl = $('lines')
const apiKey = $('apikey')
apiKey.value = localStorage.getItem('ocrserve.apikey') ?? ''
apiKey.addEventListener('change', () => localStorage.setItem('ocrserve.apikey', apiKey.value))

let image = null // ImageBitmap of the upright image (null: the browser cannot draw the file, e.g. TIFF, PDF)
let doc = null // the whole OcrResult: every page read
let result = null // the page on show (an entry of doc.pages)
let active = -1
let source = null // { file, query, jobId }: where the downloads come from
let poller = null // the running job's { id, stop }

/** What to do about an error code (docs/ERRORS.md has them all). */
const HINTS = {
  UNAUTHORIZED: 'Enter a valid API key below.',
  PAYLOAD_TOO_LARGE: 'Try a smaller file.',
  IMAGE_TOO_LARGE: 'Scale the image down and try again.',
  UNSUPPORTED_MEDIA: 'Use JPEG, PNG, WebP, GIF, BMP or TIFF.',
  UNDECODABLE_IMAGE: 'The file looks damaged.',
  OVERLOADED: 'The server is busy; try again in a moment.',
  TOO_MANY_REQUESTS: 'The server is busy; try again in a moment.',
  NOT_READY: 'The models are still loading; try again in a moment.',
  TIMEOUT: 'The image took too long to read.',
  BAD_PAGE_RANGE: 'Fix the pages box (e.g. 1-3,7), or leave it empty for all pages.',
  TOO_MANY_PAGES: 'Select fewer pages.',
  JOB_EXPIRED: 'The result is gone; read the file again.',
}

/** Seconds between polls of a running job. */
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

/** The browser's own picture of the file is page 1; other pages are shown as text only. */
const drawable = () => image && (!result || result.page === 1)

function draw() {
  canvas.hidden = !drawable()
  if (!drawable()) return
  canvas.width = image.width
  canvas.height = image.height
  ctx.drawImage(image, 0, 0)
  if (!result) return
  // line widths and labels keep their on-screen size however much the image is scaled down
  const scale = Math.max(1, image.width / Math.max(200, drop.clientWidth - 8))
  ctx.lineWidth = 2 * scale
  ctx.font = `${Math.round(13 * scale)}px system-ui, sans-serif`
  result.lines.forEach((line, i) => {
    const on = i === active
    ctx.strokeStyle = on ? '#1971c2' : '#d9480f'
    ctx.fillStyle = on ? 'rgba(25,113,194,.18)' : 'rgba(217,72,15,.08)'
    ctx.beginPath()
    line.box.forEach(([x, y], j) => (j ? ctx.lineTo(x, y) : ctx.moveTo(x, y)))
    ctx.closePath()
    ctx.fill()
    ctx.stroke()
    const [x, y] = line.box[0]
    const label = String(i + 1)
    const w = ctx.measureText(label).width + 6 * scale
    const h = 16 * scale
    ctx.fillStyle = on ? '#1971c2' : '#d9480f'
    ctx.fillRect(x, Math.max(0, y - h), w, h)
    ctx.fillStyle = '#fff'
    ctx.fillText(label, x + 3 * scale, Math.max(0, y - h) + 12.5 * scale)
  })
  canvas.dataset.boxes = String(result.lines.length)
}

function highlight(i) {
  active = i
  for (const li of linesEl.children) li.classList.toggle('active', Number(li.dataset.i) === i)
  draw()
}

function showLines() {
  linesEl.replaceChildren(
    ...result.lines.map((line, i) => {
      const li = document.createElement('li')
      li.dataset.i = String(i)
      const n = Object.assign(document.createElement('span'), { className: 'n', textContent: String(i + 1) })
      const t = Object.assign(document.createElement('span'), { className: 't', textContent: line.text })
      const s = Object.assign(document.createElement('span'), { className: 's', textContent: line.score.toFixed(2) })
      li.append(n, t, s)
      li.addEventListener('click', () => {
        highlight(i)
        canvas.scrollIntoView({ block: 'nearest' })
      })
      li.addEventListener('mouseenter', () => highlight(i))
      return li
    }),
  )
  $('toolbar').hidden = false
  const t = result.timing_ms
  const where = doc.pages.length > 1 ? `page ${result.page} (${doc.pages.length} pages) · ` : ''
  const how = result.source === 'embedded' ? ' · from the PDF text layer' : ''
  $('timing').textContent = `${where}${result.lines.length} lines · ${t.total.toFixed(0)} ms (decode ${t.decode.toFixed(0)}, det ${t.det.toFixed(0)}, cls ${t.cls.toFixed(0)}, rec ${t.rec.toFixed(0)})${result.rotation ? ` · page turned ${result.rotation}°` : ''}${how}`
}

/** Shows page i of the document: its lines, its boxes when the browser can draw it. */
function showPage(i) {
  result = doc.pages[i]
  active = -1
  for (const b of $('pages-nav').children) b.setAttribute('aria-current', String(Number(b.dataset.i) === i))
  $('doc-note').hidden = Boolean(drawable()) || !doc
  showLines()
  draw()
}

function showDocument(body) {
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
  nav.hidden = doc.pages.length < 2
  $('downloads').hidden = false
  const lines = doc.pages.reduce((n, p) => n + p.lines.length, 0)
  const pages = doc.pages.length > 1 ? ` ${doc.pages.length} pages, ${lines} lines: pick a page above the list.` : ''
  setStatus(lines ? `Done.${pages} Click a line to find it in the image, or a box to find its line.` : 'No text found.', 'done')
  showPage(0)
}

/** Index of the line whose box is under the pointer, or -1. */
function lineAt(ev) {
  if (!result) return -1
  const r = canvas.getBoundingClientRect()
  const x = ((ev.clientX - r.left) * canvas.width) / r.width
  const y = ((ev.clientY - r.top) * canvas.height) / r.height
  return result.lines.findIndex((l) => {
    ctx.beginPath()
    l.box.forEach(([px, py], j) => (j ? ctx.lineTo(px, py) : ctx.moveTo(px, py)))
    ctx.closePath()
    return ctx.isPointInPath(x, y)
  })
}

// hovering a box highlights its line; clicking it also scrolls the list to it
canvas.addEventListener('mousemove', (ev) => {
  const i = lineAt(ev)
  canvas.style.cursor = i >= 0 ? 'pointer' : ''
  if (i >= 0 && i !== active) highlight(i)
})
canvas.addEventListener('click', (ev) => {
  if (!result) return
  // the canvas sits inside the drop zone's <label>: don't open the file picker when a box is clicked
  ev.preventDefault()
  const i = lineAt(ev)
  if (i >= 0) {
    highlight(i)
    linesEl.children[i]?.scrollIntoView({ block: 'nearest' })
  }
})

function reset() {
  poller?.stop()
  doc = null
  result = null
  active = -1
  source = null
  linesEl.replaceChildren()
  $('toolbar').hidden = true
  $('downloads').hidden = true
  $('pages-nav').hidden = true
  $('pages-nav').replaceChildren()
  $('progress-box').hidden = true
  $('doc-note').hidden = true
  canvas.dataset.boxes = '0'
  delete document.body.dataset.via
  delete document.body.dataset.job
}

function readQuery() {
  const q = new URLSearchParams({ cls: String($('cls').checked) })
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

async function run(file) {
  if (!file) return
  reset()
  setStatus(`Reading ${file.name || 'pasted image'} (${(file.size / 1024).toFixed(0)} KiB)…`, 'busy')
  try {
    // EXIF orientation applied by the browser matches the server's coordinates
    image = await createImageBitmap(file, { imageOrientation: 'from-image' }).catch(() => null)
    $('drop-hint').hidden = true
    $('doc-note').hidden = Boolean(image)
    canvas.hidden = !image
    if (image) draw()
    const query = readQuery()
    source = { file, query, jobId: null }
    const headers = { 'Content-Type': contentType(file), ...authHeaders() }
    const res = await fetch(`/v1/ocr?${query}`, { method: 'POST', headers, body: file })
    if (res.ok) {
      document.body.dataset.via = 'sync'
      return showDocument(await res.json())
    }
    const err = await errorOf(res)
    // a document longer than one call reads: an async job, with progress page by page
    if (err.code === 'TOO_MANY_PAGES' && /\/v1\/jobs/.test(err.message)) return runJob(file, query, headers)
    showError(err.code, err.message)
  } catch (err) {
    showError('Network error', err.message)
  }
}

async function runJob(file, query, headers) {
  document.body.dataset.via = 'job'
  const res = await fetch(`/v1/jobs?${query}`, { method: 'POST', headers, body: file })
  if (res.status !== 202) {
    const err = await errorOf(res)
    return showError(err.code, err.message)
  }
  const job = await res.json()
  source.jobId = job.id
  document.body.dataset.job = job.id
  setStatus(`${file.name || 'The document'} is long: reading it as a background job…`, 'busy')
  $('progress-box').hidden = false
  let stopped = false
  let timer = null
  poller = { id: job.id, stop: () => { stopped = true; clearTimeout(timer) } }
  const tick = async () => {
    if (stopped) return
    try {
      const r = await fetch(job.status_url, { headers: authHeaders() })
      if (!r.ok) {
        const err = await errorOf(r)
        return showError(err.code, err.message)
      }
      const s = await r.json()
      if (stopped) return
      const progress = $('progress')
      progress.max = s.pages_total ?? 1
      progress.value = s.pages_done
      $('progress-text').textContent = s.pages_total === null ? `${s.status}…` : `${s.pages_done} / ${s.pages_total} pages`
      if (s.status === 'queued' || s.status === 'running') {
        timer = setTimeout(tick, POLL_MS)
        return
      }
      $('progress-box').hidden = true
      poller = null
      if (s.status !== 'succeeded') return showError(s.error?.code ?? s.status, s.error?.message ?? `the job is ${s.status}`)
      const out = await fetch(job.result_url, { headers: authHeaders() })
      if (!out.ok) {
        const err = await errorOf(out)
        return showError(err.code, err.message)
      }
      showDocument(await out.json())
    } catch (err) {
      showError('Network error', err.message)
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
  setStatus('Cancelled.', 'idle')
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

fileInput.addEventListener('change', () => {
  const file = fileInput.files[0]
  fileInput.value = '' // picking the same file again still fires 'change'
  run(file)
})
drop.addEventListener('dragover', (ev) => {
  ev.preventDefault()
  drop.classList.add('over')
})
drop.addEventListener('dragleave', () => drop.classList.remove('over'))
drop.addEventListener('drop', (ev) => {
  ev.preventDefault()
  drop.classList.remove('over')
  run(ev.dataTransfer.files[0])
})
drop.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' || ev.key === ' ') fileInput.click()
})
document.addEventListener('paste', (ev) => {
  const item = [...(ev.clipboardData?.items ?? [])].find((i) => i.type.startsWith('image/'))
  if (item) run(item.getAsFile())
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
