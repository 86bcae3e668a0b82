// The page view: the page's picture on a canvas and its line boxes in an SVG laid over it.
//
// The SVG's viewBox is the page's pixel frame as the OCR result gives it (width × height at the
// dpi it was read at), stretched over the canvas, so a box lands on the right spot however large
// the picture was drawn (a PDF page rendered by pdf.js at screen size, a scaled-down preview of a
// TIFF page, a photo at full size). Line numbers go beside the boxes where there is free space
// (placeBadges): on a dense receipt a number on the box would cover the start of the line above.
import { placeBadges } from './doc-info.js'

const SVG = 'http://www.w3.org/2000/svg'
/** Badge text size and the space around it, in screen pixels. */
const BADGE_FONT_PX = 12
const BADGE_GAP_PX = 2
/**
 * Longest side of a picture on the canvas: a larger one is scaled down (browsers limit canvas
 * sizes, and a screen shows far fewer pixels). The boxes follow through the SVG's viewBox.
 */
const MAX_CANVAS_SIDE = 4800

/** A page picture from an ImageBitmap the browser decoded (a plain image: page 1 only). */
export function bitmapSource(bitmap) {
  return {
    async draw(pageNumber) {
      if (pageNumber !== 1) throw new Error('the picture has one page')
      return bitmap
    },
    close() {
      bitmap.close()
    },
  }
}

/** Page pictures rendered by pdf.js from a PDFDocumentProxy, at about `width` pixels wide. */
export function pdfSource(pdf, width) {
  return {
    async draw(pageNumber) {
      const page = await pdf.getPage(pageNumber)
      try {
        const unit = page.getViewport({ scale: 1 })
        const scale = Math.min(width / unit.width, MAX_CANVAS_SIDE / Math.max(unit.width, unit.height))
        const viewport = page.getViewport({ scale })
        const canvas = document.createElement('canvas')
        canvas.width = Math.max(1, Math.round(viewport.width))
        canvas.height = Math.max(1, Math.round(viewport.height))
        const ctx = canvas.getContext('2d')
        await page.render({ canvas, canvasContext: ctx, viewport, background: '#ffffff' }).promise
        return canvas
      } finally {
        page.cleanup()
      }
    },
    close() {
      pdf.destroy()
    },
  }
}

/**
 * Page pictures the server renders (POST /v1/preview: the browser cannot draw TIFF), one request
 * per page shown, kept for the next visit. `send(pageNumber)` makes the request.
 */
export function previewSource(send) {
  const cache = new Map()
  return {
    draw(pageNumber) {
      if (!cache.has(pageNumber)) {
        const p = send(pageNumber).then(async (res) => {
          if (!res.ok) {
            const body = await res.json().catch(() => null)
            const err = body?.error ?? { code: `HTTP ${res.status}`, message: res.statusText }
            throw Object.assign(new Error(err.message), { code: err.code })
          }
          return createImageBitmap(await res.blob())
        })
        // a failure is not kept: the next visit asks again
        p.catch(() => cache.delete(pageNumber))
        cache.set(pageNumber, p)
      }
      return cache.get(pageNumber)
    },
    close() {
      for (const p of cache.values()) p.then((b) => b.close()).catch(() => null)
      cache.clear()
    },
  }
}

/**
 * The view inside `frame` (the canvas and the SVG). `onPick(i, how)` is called when the pointer
 * enters line i's box ('hover') or clicks it ('click'). `onDrawError(pageNumber, err, page)` when
 * a page's picture cannot be drawn (page: its lines, or null while it is read).
 */
export function createView({ frame, canvas, svg, onPick, onDrawError }) {
  const ctx = canvas.getContext('2d')
  let source = null
  let drawn = null // the page number whose picture is on the canvas
  let shown = null // { pageNumber, page } being shown (page: an OcrResult page, or null before it is read)
  let active = -1
  let token = 0

  const el = (name, attrs) => {
    const e = document.createElementNS(SVG, name)
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
    return e
  }

  function paint(picture) {
    const scale = Math.min(1, MAX_CANVAS_SIDE / Math.max(picture.width, picture.height))
    canvas.width = Math.max(1, Math.round(picture.width * scale))
    canvas.height = Math.max(1, Math.round(picture.height * scale))
    ctx.drawImage(picture, 0, 0, canvas.width, canvas.height)
  }

  /** Boxes and badges of the page shown, in its pixel frame. */
  function drawBoxes() {
    const page = shown?.page
    svg.replaceChildren()
    frame.dataset.boxes = '0'
    if (!page || drawn !== shown.pageNumber) return
    svg.setAttribute('viewBox', `0 0 ${page.width} ${page.height}`)
    page.lines.forEach((line, i) => {
      const box = el('polygon', { class: 'box', points: line.box.map((p) => p.join(',')).join(' ') })
      box.dataset.i = String(i)
      svg.append(box)
    })
    frame.dataset.boxes = String(page.lines.length)
    drawBadges()
  }

  /** Number badges sized for the screen: placed again when the picture's displayed size changes. */
  function drawBadges() {
    const page = shown?.page
    for (const b of svg.querySelectorAll('.badge')) b.remove()
    const shownWidth = canvas.getBoundingClientRect().width
    if (!page || !shownWidth || drawn !== shown.pageNumber) return
    const k = page.width / shownWidth // page pixels per screen pixel
    const font = BADGE_FONT_PX * k
    const size = (i) => [(String(i + 1).length * 0.62 + 0.6) * font, font * 1.35]
    const spots = placeBadges(page.lines.map((l) => l.box), page, size, BADGE_GAP_PX * k)
    page.lines.forEach((line, i) => {
      // a line without a free spot shows its number at its top-left corner, only while active
      const [w, h] = size(i)
      const [x, y] = spots[i] ?? [line.box[0][0], Math.max(0, line.box[0][1] - h)]
      const g = el('g', { class: spots[i] ? 'badge' : 'badge hover-only' })
      g.dataset.i = String(i)
      g.append(el('rect', { x, y, width: w, height: h, rx: 2 * k }), el('text', { x: x + w / 2, y: y + h * 0.74, 'font-size': font, 'text-anchor': 'middle' }))
      g.lastChild.textContent = String(i + 1)
      svg.append(g)
    })
    frame.dataset.badges = String(spots.filter(Boolean).length)
    highlight(active)
  }

  function highlight(i) {
    active = i
    for (const e of svg.querySelectorAll('[data-i]')) e.classList.toggle('active', Number(e.dataset.i) === i)
    // the active box and its badge on top of their neighbours
    const box = svg.querySelector(`.box[data-i="${i}"]`)
    const badge = svg.querySelector(`.badge[data-i="${i}"]`)
    if (box) svg.insertBefore(box, svg.querySelector('.badge'))
    if (badge) svg.append(badge)
  }

  /** Shows `pageNumber` with the lines of `page` (null: the picture alone, while it is read). */
  async function show(pageNumber, page) {
    const mine = ++token
    shown = { pageNumber, page }
    active = -1
    frame.dataset.page = String(pageNumber)
    if (drawn !== pageNumber) {
      svg.replaceChildren()
      frame.dataset.boxes = '0'
      if (!source) return
      let picture
      try {
        picture = await source.draw(pageNumber)
      } catch (err) {
        if (mine !== token) return
        // not the previous page's picture under this page's lines
        drawn = null
        frame.hidden = true
        delete frame.dataset.drawn
        onDrawError(pageNumber, err, page)
        return
      }
      if (mine !== token) return
      paint(picture)
      drawn = pageNumber
      frame.hidden = false
      frame.dataset.drawn = String(pageNumber)
    }
    drawBoxes()
  }

  svg.addEventListener('mouseover', (ev) => {
    const i = Number(ev.target.closest?.('[data-i]')?.dataset.i ?? -1)
    if (i >= 0 && i !== active) onPick(i, 'hover')
  })
  // the view sits inside the drop zone's <label>: a click on the page must not open the file picker
  frame.addEventListener('click', (ev) => {
    if (!shown) return
    ev.preventDefault()
    const i = Number(ev.target.closest?.('[data-i]')?.dataset.i ?? -1)
    if (i >= 0) onPick(i, 'click')
  })
  new ResizeObserver(() => drawBadges()).observe(canvas)

  return {
    /** A new document: its page pictures come from `s` (bitmapSource, pdfSource, previewSource). */
    setSource(s) {
      source?.close()
      source = s
      drawn = null
    },
    show,
    highlight,
    clear() {
      token++
      source?.close()
      source = null
      drawn = null
      shown = null
      active = -1
      svg.replaceChildren()
      frame.hidden = true
      for (const k of ['page', 'drawn', 'boxes', 'badges']) delete frame.dataset[k]
    },
  }
}
