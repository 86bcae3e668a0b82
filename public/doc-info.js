// What the web page works out from a file before it sends it, and where the line numbers go.
// Pure functions (no DOM): the tests run them in Node as well as in the browser.

/** Whether the bytes are a PDF as the server reads them: `%PDF-` within the first KiB. */
export function isPdfBytes(head) {
  const n = Math.min(head.length, 1024) - 5
  for (let i = 0; i <= n; i++) {
    if (head[i] === 0x25 && head[i + 1] === 0x50 && head[i + 2] === 0x44 && head[i + 3] === 0x46 && head[i + 4] === 0x2d) return true
  }
  return false
}

/** Whether the bytes start with a TIFF header (little- or big-endian, classic or BigTIFF). */
export function isTiffBytes(head) {
  const le = head[0] === 0x49 && head[1] === 0x49 && (head[2] === 42 || head[2] === 43) && head[3] === 0
  const be = head[0] === 0x4d && head[1] === 0x4d && head[2] === 0 && (head[3] === 42 || head[3] === 43)
  return le || be
}

/**
 * Pages of a TIFF: the length of its chain of image directories (IFDs), as libvips counts them.
 * null when the chain is damaged (a directory outside the file): the server will say why.
 */
export function tiffPageCount(bytes) {
  if (bytes.length < 16 || !isTiffBytes(bytes)) return null
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const le = bytes[0] === 0x49
  const big = view.getUint16(2, le) === 43
  // classic: 2-byte entry count, 12-byte entries, 4-byte offsets; BigTIFF: 8, 20, 8
  const offsetAt = (at) => (big ? Number(view.getBigUint64(at, le)) : view.getUint32(at, le))
  const [countSize, entrySize, offsetSize] = big ? [8, 20, 8] : [2, 12, 4]
  const seen = new Set()
  let ifd = offsetAt(big ? 8 : 4)
  while (ifd !== 0) {
    if (seen.has(ifd) || ifd + countSize > bytes.length) return null
    seen.add(ifd)
    const entries = big ? Number(view.getBigUint64(ifd, le)) : view.getUint16(ifd, le)
    const next = ifd + countSize + entries * entrySize
    if (next + offsetSize > bytes.length) return null
    ifd = offsetAt(next)
  }
  return seen.size || null
}

/**
 * The 1-based page numbers `spec` selects from a document of `total` pages ("1-3,7", "5-", "-2"),
 * in order, each once; every page for an empty spec. null when the spec is malformed or starts
 * past the last page: the server answers BAD_PAGE_RANGE with the reason, so the page does not
 * repeat it. The same rules as src/document/pages.ts.
 */
export function selectPages(spec, total) {
  const all = () => Array.from({ length: total }, (_, i) => i + 1)
  const text = (spec ?? '').trim()
  if (!text) return all()
  const picked = new Set()
  for (const part of text.split(',').map((s) => s.trim())) {
    const m = /^(\d+)?\s*(-)?\s*(\d+)?$/.exec(part)
    if (!part || !m || (m[1] === undefined && m[3] === undefined)) return null
    const from = m[1] === undefined ? 1 : Number(m[1])
    const to = m[2] === undefined ? from : m[3] === undefined ? total : Number(m[3])
    if (from < 1 || to < from || from > total) return null
    for (let p = from; p <= Math.min(to, total); p++) picked.add(p)
  }
  return [...picked].sort((a, b) => a - b)
}

const MB = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

/**
 * Where a file goes, decided before it is sent so it is sent once: POST /v1/ocr when one call
 * takes it, POST /v1/jobs when it has more (selected) pages than one call reads or is larger than
 * one call's body limit, nowhere when even a job could not take it. `pages` is the number of
 * selected pages, null when unknown (the server decides). `limits` come from the page's <body>.
 */
export function chooseRoute({ size, pages }, limits) {
  if (size > limits.jobsMaxBodyBytes) {
    return {
      via: 'none',
      code: 'PAYLOAD_TOO_LARGE',
      message: `the file is ${MB(size)}; this server takes files up to ${MB(limits.jobsMaxBodyBytes)} (OCR_JOBS_MAX_BODY_BYTES)`,
    }
  }
  if (size > limits.maxBodyBytes) return { via: 'job', why: `${MB(size)}, more than one call takes (${MB(limits.maxBodyBytes)})` }
  if (pages !== null && pages > limits.syncMaxPages) return { via: 'job', why: `${pages} pages, more than one call reads (${limits.syncMaxPages})` }
  return { via: 'sync' }
}

/** The axis-aligned bounds of a quad: [x0, y0, x1, y1]. */
export function bounds(box) {
  const xs = box.map((p) => p[0])
  const ys = box.map((p) => p[1])
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]
}

const overlaps = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]

/**
 * Where each line's number badge goes so that it covers no text: outside its own box (to the
 * left, above, to the right, below, in that order; beside it centred on its height), clear of every other box and of the badges
 * placed before it, inside the page. null where no spot is free (dense pages): that line's number
 * shows only while the line is active. `size(i)` is badge i's [width, height], `gap` the space
 * between a badge and its box, all in page pixels.
 */
export function placeBadges(boxes, page, size, gap) {
  const rects = boxes.map(bounds)
  const placed = []
  return rects.map((r, i) => {
    const [w, h] = size(i)
    // beside the box: centred on its height, so a badge does not reach up into a line that
    // nearly touches this one
    const middle = (r[1] + r[3] - h) / 2
    const candidates = [
      [r[0] - gap - w, middle],
      [r[0], r[1] - gap - h],
      [r[2] + gap, middle],
      [r[0], r[3] + gap],
    ]
    for (const [x, y] of candidates) {
      const c = [x, y, x + w, y + h]
      if (c[0] < 0 || c[1] < 0 || c[2] > page.width || c[3] > page.height) continue
      if (rects.some((o) => overlaps(c, o)) || placed.some((o) => overlaps(c, o))) continue
      placed.push(c)
      return c
    }
    return null
  })
}
