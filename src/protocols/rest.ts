/**
 * What KServe v2 REST and TensorFlow Serving REST share: JSON objects, and the error body
 * `{"error": "message"}` both specs answer failures with.
 */

/** A JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v)
}

/** The error body both REST protocols use. */
export function errorBody(message: string): { error: string } {
  return { error: message }
}

/** Short text of a server's error body: its JSON `error` field, or the (truncated) body. */
export function errorBodyText(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown
    if (isRecord(parsed) && typeof parsed.error === 'string') return parsed.error
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = body.trim()
  return text.length > 500 ? `${text.slice(0, 500)}…` : text || '(empty body)'
}
