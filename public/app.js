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

let image = null // ImageBitmap of the upright image
let result = null
let active = -1

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

function draw() {
  if (!image) return
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
  $('timing').textContent = `${result.lines.length} lines · ${t.total.toFixed(0)} ms (decode ${t.decode.toFixed(0)}, det ${t.det.toFixed(0)}, cls ${t.cls.toFixed(0)}, rec ${t.rec.toFixed(0)})${result.rotation ? ` · page turned ${result.rotation}°` : ''}`
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

async function run(file) {
  if (!file) return
  result = null
  active = -1
  linesEl.replaceChildren()
  $('toolbar').hidden = true
  canvas.dataset.boxes = '0'
  setStatus(`Reading ${file.name || 'pasted image'} (${(file.size / 1024).toFixed(0)} KiB)…`, 'busy')
  try {
    // EXIF orientation applied by the browser matches the server's coordinates
    image = await createImageBitmap(file, { imageOrientation: 'from-image' }).catch(() => null)
    $('drop-hint').hidden = Boolean(image)
    canvas.hidden = !image
    if (image) draw()
    const headers = { 'Content-Type': file.type && file.type.startsWith('image/') ? file.type : 'application/octet-stream' }
    if (apiKey.value) headers.Authorization = `Bearer ${apiKey.value}`
    const res = await fetch(`/v1/ocr?cls=${$('cls').checked}`, { method: 'POST', headers, body: file })
    const body = await res.json().catch(() => null)
    if (!res.ok) {
      const err = body?.error ?? { code: `HTTP ${res.status}`, message: res.statusText || 'request failed' }
      showError(err.code, err.message)
      return
    }
    result = body
    setStatus(result.lines.length ? 'Done. Click a line to find it in the image, or a box to find its line.' : 'No text found.', 'done')
    showLines()
    draw()
  } catch (err) {
    showError('Network error', err.message)
  }
}

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
  if (!result) return
  try {
    await copyText(result.lines.map((l) => l.text).join('\n'))
    setStatus(`Copied ${result.lines.length} lines to the clipboard.`, 'done')
  } catch (err) {
    showError('Copy failed', err.message)
  }
})
