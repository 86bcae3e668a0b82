/** XML text and attribute escaping; characters XML 1.0 cannot carry at all are dropped. */

// with the u flag a surrogate range matches only unpaired surrogates (a pair is one code point)
// eslint-disable-next-line no-control-regex
const INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/gu

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' }

/** Escapes text for an element body or a double-quoted attribute value. */
export function escapeXml(s: string): string {
  return s.replace(INVALID, '').replace(/[&<>"'\t\n\r]/g, (c) => ENTITIES[c]!)
}
