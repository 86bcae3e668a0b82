/**
 * Sending an OcrResult in the format the client asked for (`format=` wins over `Accept`), with
 * the format's Content-Type, and a Content-Disposition for binary formats. The renderers are
 * src/formats/'s; this file only maps them onto HTTP.
 */
import type { FastifyReply } from 'fastify'
import { formatResult, resultText, type Format } from '../formats/index.js'
import type { OcrResult } from '../types.js'

const CONTENT_TYPES: Record<Format, string> = {
  json: 'application/json; charset=utf-8',
  jsonl: 'application/x-ndjson; charset=utf-8',
  text: 'text/plain; charset=utf-8',
}

/** The format to answer in: `format=` when given, else json. */
export function chooseFormat(format: Format | undefined, _accept: string | undefined): Format {
  return format ?? 'json'
}

export interface ResultContext {
  /** The document the result was read from (searchable PDF output embeds it). */
  source: Buffer
  /** The uploaded file's name, if known: downloads are named after it. */
  fileName: string | null
}

export function sendResult(reply: FastifyReply, format: Format, result: OcrResult, ctx: ResultContext): FastifyReply {
  if (format === 'json') return reply.type(CONTENT_TYPES.json).send(result)
  if (format === 'text') return reply.type(CONTENT_TYPES.text).send(resultText(result))
  return reply.type(CONTENT_TYPES[format]).send(formatResult(format, ctx.fileName ?? 'document', result, false))
}
