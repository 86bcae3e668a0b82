/**
 * A parser for the protobuf text format, as far as Triton's config.pbtxt files use it:
 * `field: scalar`, `field { … }` / `field: { … }` / `field < … >`, lists `field: [ a, b ]` and
 * `field [ { … }, { … } ]`, repeated fields, strings in single or double quotes with C escapes,
 * numbers (signed, float, exponent, hex), identifiers (enum values, true/false) and `#` comments.
 * The result is schema-free: every field maps to the list of its values, in order.
 */

export type PbScalar =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number; text: string }
  | { kind: 'ident'; value: string }

export type PbValue = PbScalar | PbMessage

export interface PbMessage {
  kind: 'message'
  fields: Map<string, PbValue[]>
}

export class PbtxtError extends Error {
  constructor(message: string, readonly line: number, readonly column: number) {
    super(`${message} at line ${line}, column ${column}`)
    this.name = 'PbtxtError'
  }
}

type Token =
  | { t: 'punct'; v: string; line: number; col: number }
  | { t: 'string'; v: string; line: number; col: number }
  | { t: 'number'; v: number; text: string; line: number; col: number }
  | { t: 'ident'; v: string; line: number; col: number }
  | { t: 'eof'; line: number; col: number }

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '?': '?' }

function tokenize(src: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  let line = 1
  let lineStart = 0
  const col = (): number => i - lineStart + 1
  while (i < src.length) {
    const c = src[i]!
    if (c === '\n') {
      i++
      line++
      lineStart = i
      continue
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++
      continue
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++
      continue
    }
    if ('{}[]<>:,;'.includes(c)) {
      tokens.push({ t: 'punct', v: c, line, col: col() })
      i++
      continue
    }
    if (c === '"' || c === "'") {
      const startCol = col()
      let out = ''
      i++
      for (;;) {
        if (i >= src.length || src[i] === '\n') throw new PbtxtError('unterminated string', line, startCol)
        const ch = src[i]!
        if (ch === c) {
          i++
          break
        }
        if (ch === '\\') {
          const e = src[i + 1] ?? ''
          if (e in ESCAPES) {
            out += ESCAPES[e]
            i += 2
          } else if (/[0-7]/.test(e)) {
            const m = /^[0-7]{1,3}/.exec(src.slice(i + 1))![0]
            out += String.fromCharCode(parseInt(m, 8))
            i += 1 + m.length
          } else if (e === 'x') {
            const m = /^[0-9a-fA-F]{1,2}/.exec(src.slice(i + 2))
            if (!m) throw new PbtxtError('bad \\x escape', line, col())
            out += String.fromCharCode(parseInt(m[0], 16))
            i += 2 + m[0].length
          } else {
            throw new PbtxtError(`unknown escape \\${e}`, line, col())
          }
          continue
        }
        out += ch
        i++
      }
      // adjacent string literals concatenate
      const prev = tokens[tokens.length - 1]
      if (prev?.t === 'string' && prev.line === line) prev.v += out
      else tokens.push({ t: 'string', v: out, line, col: startCol })
      continue
    }
    const num = /^[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?/.exec(src.slice(i, i + 64))
    if (num && /[-+.\d]/.test(c)) {
      const text = num[0]
      const body = text.replace(/[fF]$/, '')
      const value = /^[-+]?0[xX]/.test(body) ? Number.parseInt(body, 16) : Number(body)
      tokens.push({ t: 'number', v: value, text, line, col: col() })
      i += text.length
      continue
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i, i + 256))
    if (ident) {
      tokens.push({ t: 'ident', v: ident[0], line, col: col() })
      i += ident[0].length
      continue
    }
    // signed identifiers: -inf, -nan
    const signed = /^-(inf|infinity|nan)\b/i.exec(src.slice(i, i + 16))
    if (signed) {
      tokens.push({ t: 'number', v: signed[1]!.toLowerCase() === 'nan' ? NaN : -Infinity, text: signed[0], line, col: col() })
      i += signed[0].length
      continue
    }
    throw new PbtxtError(`unexpected character ${JSON.stringify(c)}`, line, col())
  }
  tokens.push({ t: 'eof', line, col: col() })
  return tokens
}

/** Parses protobuf text format into a schema-free message tree. Throws PbtxtError on bad syntax. */
export function parsePbtxt(src: string): PbMessage {
  const tokens = tokenize(src)
  let p = 0
  const peek = (): Token => tokens[p]!
  const next = (): Token => tokens[p++]!
  const isPunct = (tok: Token, v: string): boolean => tok.t === 'punct' && tok.v === v
  const fail = (tok: Token, msg: string): never => {
    throw new PbtxtError(msg, tok.line, tok.col)
  }

  const parseMessageBody = (close: string | null): PbMessage => {
    const fields = new Map<string, PbValue[]>()
    for (;;) {
      const tok = peek()
      if (close === null && tok.t === 'eof') break
      if (close !== null && isPunct(tok, close)) {
        next()
        break
      }
      if (tok.t === 'eof') fail(tok, `missing "${close}"`)
      if (tok.t !== 'ident') fail(tok, 'expected a field name')
      const name = (next() as { v: string }).v
      const values = fields.get(name) ?? []
      fields.set(name, values)
      const hasColon = isPunct(peek(), ':')
      if (hasColon) next()
      const after = peek()
      if (isPunct(after, '[')) {
        next()
        if (isPunct(peek(), ']')) next()
        else {
          for (;;) {
            values.push(parseValue(hasColon))
            const sep = next()
            if (isPunct(sep, ']')) break
            if (!isPunct(sep, ',')) fail(sep, 'expected "," or "]" in list')
          }
        }
      } else {
        if (!hasColon && !isPunct(after, '{') && !isPunct(after, '<')) fail(after, `expected ":" after field "${name}"`)
        values.push(parseValue(hasColon))
      }
      if (isPunct(peek(), ',') || isPunct(peek(), ';')) next()
    }
    return { kind: 'message', fields }
  }

  const parseValue = (allowScalar: boolean): PbValue => {
    const tok = next()
    if (isPunct(tok, '{')) return parseMessageBody('}')
    if (isPunct(tok, '<')) return parseMessageBody('>')
    if (!allowScalar) fail(tok, 'expected "{"')
    if (tok.t === 'string') return { kind: 'string', value: tok.v }
    if (tok.t === 'number') return { kind: 'number', value: tok.v, text: tok.text }
    if (tok.t === 'ident') return { kind: 'ident', value: tok.v }
    return fail(tok, 'expected a value')
  }

  return parseMessageBody(null)
}

// ---- typed accessors used by the model-config reader

export function fieldValues(msg: PbMessage, name: string): PbValue[] {
  return msg.fields.get(name) ?? []
}

export function messages(msg: PbMessage, name: string, where: string): PbMessage[] {
  return fieldValues(msg, name).map((v) => {
    if (v.kind !== 'message') throw new Error(`${where}: "${name}" must be a message`)
    return v
  })
}

export function optionalMessage(msg: PbMessage, name: string, where: string): PbMessage | undefined {
  const all = messages(msg, name, where)
  return all[all.length - 1]
}

function lastScalar(msg: PbMessage, name: string, where: string): PbScalar | undefined {
  const all = fieldValues(msg, name)
  const v = all[all.length - 1]
  if (v && v.kind === 'message') throw new Error(`${where}: "${name}" must be a scalar`)
  return v
}

export function stringField(msg: PbMessage, name: string, where: string): string | undefined {
  const v = lastScalar(msg, name, where)
  if (v === undefined) return undefined
  if (v.kind !== 'string') throw new Error(`${where}: "${name}" must be a quoted string`)
  return v.value
}

export function enumField(msg: PbMessage, name: string, where: string): string | undefined {
  const v = lastScalar(msg, name, where)
  if (v === undefined) return undefined
  if (v.kind !== 'ident') throw new Error(`${where}: "${name}" must be an enum name`)
  return v.value
}

export function intField(msg: PbMessage, name: string, where: string): number | undefined {
  const v = lastScalar(msg, name, where)
  if (v === undefined) return undefined
  if (v.kind !== 'number' || !Number.isSafeInteger(v.value)) throw new Error(`${where}: "${name}" must be an integer`)
  return v.value
}

export function intList(msg: PbMessage, name: string, where: string): number[] {
  return fieldValues(msg, name).map((v) => {
    if (v.kind !== 'number' || !Number.isSafeInteger(v.value)) throw new Error(`${where}: "${name}" must hold integers`)
    return v.value
  })
}
