/** A minimal HTTP/1.1 client over a raw socket: sends exactly the given bytes, reads until close. */
import { connect } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
  /** ms from connect to the end of the answer. */
  ms: number
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = []
  let i = 0
  for (;;) {
    const eol = b.indexOf('\r\n', i)
    if (eol < 0) break
    const size = parseInt(b.toString('latin1', i, eol), 16)
    if (!Number.isFinite(size) || size === 0) break
    out.push(b.subarray(eol + 2, eol + 2 + size))
    i = eol + 2 + size + 2
  }
  return Buffer.concat(out)
}

export function parseResponse(bytes: Buffer, ms: number): RawResponse | null {
  const end = bytes.indexOf('\r\n\r\n')
  if (end < 0) return null
  const [statusLine, ...lines] = bytes.toString('latin1', 0, end).split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')
  if (!m) return null
  const headers: Record<string, string> = {}
  for (const l of lines) {
    const c = l.indexOf(':')
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim()
  }
  let body = bytes.subarray(end + 4)
  if (headers['transfer-encoding']?.includes('chunked')) body = dechunk(body)
  else if (headers['content-length']) body = body.subarray(0, Number(headers['content-length']))
  return { status: Number(m[1]), headers, body, ms }
}

/**
 * Sends `request` (all at once, or through `write` for trickled uploads) and resolves with the
 * answer once the server closes the connection (requests say Connection: close). A server that
 * answers and closes before the whole body is sent is fine: its answer counts.
 */
export function rawRequest(
  port: number,
  request: Buffer,
  opts: { timeoutMs?: number; write?: (socket: import('node:net').Socket) => void } = {},
): Promise<RawResponse | null> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1')
    const finish = (): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(parseResponse(Buffer.concat(chunks), performance.now() - t0))
    }
    const timer = setTimeout(finish, opts.timeoutMs ?? 30_000)
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('close', finish)
    socket.on('error', () => {
      // EPIPE/ECONNRESET after the server answered and closed: 'close' follows
    })
    socket.on('connect', () => {
      if (opts.write) opts.write(socket)
      else socket.write(request)
    })
  })
}
