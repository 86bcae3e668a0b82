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

function setStatus(text, isError = false) {
  statusEl.textContent = text
  statusEl.classList.toggle('error', isError)
}

function draw() {
  if (!image) return
  canvas.width = image.width
  canvas.height = image.height
  ctx.drawImage(image, 0, 0)
  if (!result) return
  const scale = Math.max(1, image.width / 900)
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

// click on the canvas selects the line under the pointer
canvas.addEventListener('click', (ev) => {
  if (!result) return
  ev.preventDefault()
  const r = canvas.getBoundingClientRect()
  const x = ((ev.clientX - r.left) * canvas.width) / r.width
  const y = ((ev.clientY - r.top) * canvas.height) / r.height
  const i = result.lines.findIndex((l) => {
    ctx.beginPath()
    l.box.forEach(([px, py], j) => (j ? ctx.lineTo(px, py) : ctx.moveTo(px, py)))
    ctx.closePath()
    return ctx.isPointInPath(x, y)
  })
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
  setStatus(`Reading ${file.name || 'pasted image'} (${(file.size / 1024).toFixed(0)} KiB)…`)
  try {
    // EXIF orientation applied by the browser matches the server's coordinates
    image = await createImageBitmap(file, { imageOrientation: 'from-image' }).catch(() => null)
    if (image) {
      $('drop-hint').hidden = true
      canvas.hidden = false
      draw()
    }
    const headers = { 'Content-Type': file.type && file.type.startsWith('image/') ? file.type : 'application/octet-stream' }
    if (apiKey.value) headers.Authorization = `Bearer ${apiKey.value}`
    const res = await fetch(`/v1/ocr?cls=${$('cls').checked}`, { method: 'POST', headers, body: file })
    const body = await res.json().catch(() => null)
    if (!res.ok) {
      const err = body?.error ?? { code: String(res.status), message: res.statusText }
      setStatus(`${err.code}: ${err.message}`, true)
      return
    }
    result = body
    setStatus(result.lines.length ? 'Done. Click a line to find it in the image.' : 'No text found.')
    showLines()
    draw()
  } catch (err) {
    setStatus(`Request failed: ${err.message}`, true)
  }
}

fileInput.addEventListener('change', () => run(fileInput.files[0]))
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
$('copy').addEventListener('click', async () => {
  if (!result) return
  await navigator.clipboard.writeText(result.lines.map((l) => l.text).join('\n'))
  setStatus('Copied all text to the clipboard.')
})
