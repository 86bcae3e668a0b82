/**
 * Fetching an image from a URL (JSON {"url": ...}), off unless OCR_URL_ALLOWLIST names hosts.
 * Against SSRF: http(s) only, no credentials in the URL, the host must be on the allow-list, every
 * address it resolves to must be public (unless OCR_URL_ALLOW_PRIVATE), checked at connect time
 * (no DNS-rebinding window), redirects are followed by hand and each hop checked the same way,
 * and the whole fetch is bounded in bytes and time.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { OcrError } from '../errors.js'

export interface UrlFetchOptions {
  /** Hosts: `example.com` (exactly) or `*.example.com` (any subdomain). */
  allow: readonly string[]
  /** Allow-listed hosts may resolve to private/loopback/link-local addresses. */
  allowPrivate: boolean
  timeoutMs: number
  maxBytes: number
  /** Redirect hops followed (each checked against the allow-list). */
  maxRedirects?: number
}

const MAX_REDIRECTS = 3

/** Addresses no public image host has: private, loopback, link-local, CGNAT, multicast, reserved. */
const NON_PUBLIC = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv4')
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6')
}

/** True for an address on the public internet (an IPv4-mapped IPv6 address is judged as IPv4). */
export function isPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return isPublicAddress(mapped[1]!)
  const family = isIP(address)
  if (family === 0) return false
  return !NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/** `host` matches an allow-list entry: exactly, or as a subdomain of a `*.` entry. */
export function hostAllowed(host: string, allow: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '')
  return allow.some((entry) => {
    const e = entry.toLowerCase().replace(/^\[|\]$/g, '')
    return e.startsWith('*.') ? h.endsWith(e.slice(1)) && h.length > e.length - 1 : h === e
  })
}

/** A URL we may request: http(s), no credentials, allow-listed host, public if it is an IP literal. */
function checkUrl(raw: string, opts: UrlFetchOptions): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new OcrError('BAD_REQUEST', '"url" is not a valid absolute URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OcrError('URL_NOT_ALLOWED', `only http and https URLs are fetched, not ${url.protocol}`)
  if (url.username || url.password) throw new OcrError('URL_NOT_ALLOWED', 'URLs with credentials are not fetched')
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (!hostAllowed(host, opts.allow)) throw new OcrError('URL_NOT_ALLOWED', `host "${host}" is not on the allow-list (OCR_URL_ALLOWLIST)`)
  if (isIP(host) && !opts.allowPrivate && !isPublicAddress(host)) throw privateAddress(host, host)
  return url
}

function privateAddress(host: string, address: string): OcrError {
  return new OcrError('URL_NOT_ALLOWED', `host "${host}" resolves to a non-public address (${address}); set OCR_URL_ALLOW_PRIVATE to allow it`)
}

/** dns.lookup that refuses non-public answers: the check happens on the address actually used. */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0)
      const bad = allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address))
      if (bad) return callback(privateAddress(hostname, bad.address) as unknown as NodeJS.ErrnoException, '', 0)
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
      const first = addresses[0]
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0)
      callback(null, first.address, first.family)
    })
  }
}

function request(url: URL, opts: UrlFetchOptions, signal: AbortSignal): Promise<IncomingMessage> {
  const get = url.protocol === 'https:' ? https.get : http.get
  return new Promise((resolve, reject) => {
    const req = get(url, { lookup: guardedLookup(opts.allowPrivate), signal, headers: { accept: 'image/*', 'user-agent': 'ocrserve' } }, resolve)
    req.on('error', reject)
  })
}

/** Reads the body, at most maxBytes. */
async function readBody(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.destroy()
    throw new OcrError('PAYLOAD_TOO_LARGE', `the image at the URL is ${declared} bytes; the limit is ${maxBytes}`)
  }
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > maxBytes) {
      res.destroy()
      throw new OcrError('PAYLOAD_TOO_LARGE', `the image at the URL is larger than ${maxBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, total)
}

/** GET the image at `rawUrl` within the allow-list, byte and time limits. */
export async function fetchImageUrl(rawUrl: string, opts: UrlFetchOptions, clientSignal?: AbortSignal): Promise<Buffer> {
  const timeout = AbortSignal.timeout(opts.timeoutMs)
  const signal = clientSignal ? AbortSignal.any([timeout, clientSignal]) : timeout
  let url = checkUrl(rawUrl, opts)
  const maxRedirects = opts.maxRedirects ?? MAX_REDIRECTS
  try {
    for (let hop = 0; ; hop++) {
      const res = await request(url, opts, signal)
      const status = res.statusCode ?? 0
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume()
        if (hop >= maxRedirects) throw new OcrError('URL_FETCH_FAILED', `more than ${maxRedirects} redirects`)
        url = checkUrl(new URL(res.headers.location, url).href, opts)
        continue
      }
      if (status < 200 || status >= 300) {
        res.resume()
        throw new OcrError('URL_FETCH_FAILED', `the URL answered HTTP ${status}`)
      }
      return await readBody(res, opts.maxBytes)
    }
  } catch (err) {
    if (err instanceof OcrError) throw err
    // the guarded lookup's refusal arrives wrapped by the socket; keep its code
    const cause = (err as { cause?: unknown }).cause
    if (cause instanceof OcrError) throw cause
    if (timeout.aborted) throw new OcrError('URL_FETCH_FAILED', `fetching the URL took longer than ${opts.timeoutMs} ms`, { cause: err })
    if (clientSignal?.aborted) throw new OcrError('CANCELLED', 'the client went away while the URL was fetched', { cause: err })
    throw new OcrError('URL_FETCH_FAILED', `cannot fetch the URL: ${(err as Error).message}`, { cause: err })
  }
}
