/** OCR_REMOTE_URL → what each transport connects to; a malformed URL is INVALID_CONFIG. */
import { OcrError } from '../errors.js'

/** `http://host:port` without a trailing slash; a bare `host:port` gets `http://`. */
export function normalizeHttpBase(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`
  let parsed: URL
  try {
    parsed = new URL(withScheme)
  } catch {
    throw new OcrError('INVALID_CONFIG', `invalid remote URL "${url}"`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new OcrError('INVALID_CONFIG', `invalid remote URL "${url}": the scheme must be http or https`)
  }
  return withScheme.replace(/\/+$/, '')
}

/** `host:port` and credentials for gRPC (`triton:8001`, `grpc://…`, `grpcs://…`, `http(s)://…`). */
export function grpcTarget(url: string): { target: string; secure: boolean } {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url.trim())
  const scheme = m ? m[1]!.toLowerCase() : ''
  const rest = (m ? m[2]! : url.trim()).replace(/\/+$/, '')
  if (m && !['grpc', 'grpcs', 'http', 'https'].includes(scheme)) {
    throw new OcrError('INVALID_CONFIG', `invalid remote URL "${url}" for kserve-grpc: use host:port, grpc://host:port or grpcs://host:port`)
  }
  if (!rest || rest.includes('/')) throw new OcrError('INVALID_CONFIG', `invalid remote URL "${url}" for kserve-grpc: expected host:port`)
  return { target: rest, secure: scheme === 'grpcs' || scheme === 'https' }
}
