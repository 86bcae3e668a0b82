/**
 * Sending an OcrResult in the format the client asked for (`format=` wins over `Accept`), with
 * the format's Content-Type, and a Content-Disposition naming the file for binary formats (pdf).
 * The renderers and the format table are src/formats/'s; this file only maps them onto HTTP.
 */
import type { FastifyReply } from 'fastify'
import { formatFromAccept, RENDERERS, type Format } from '../formats/index.js'
import type { OcrResult } from '../types.js'

/** The format to answer in: `format=` when given, else the Accept header's choice, else json. */
export function chooseFormat(format: Format | undefined, accept: string | undefined): Format {
  return format ?? formatFromAccept(accept) ?? 'json'
}

export interface ResultContext {
  /** The document the result was read from (searchable PDF output is built on it). */
  source: Buffer
  /** The uploaded file's name, if known: downloads are named after it. */
  fileName: string | null
}

/** `attachment; filename="scan.pdf"; filename*=UTF-8''…` for the upload's name with the format's extension. */
export function contentDisposition(fileName: string | null, format: Format): string {
  const stem = (fileName ?? 'ocr').replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '') || 'ocr'
  const name = stem + RENDERERS[format].extension
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}

export async function sendResult(reply: FastifyReply, format: Format, result: OcrResult, ctx: ResultContext): Promise<FastifyReply> {
  const renderer = RENDERERS[format]
  reply.type(renderer.contentType)
  // json through the route's response schema (validated shape, fast serialiser)
  if (format === 'json') return reply.send(result)
  const body = await renderer.render(result, { source: ctx.source, ...(ctx.fileName !== null ? { fileName: ctx.fileName } : {}) })
  if (renderer.binary) reply.header('content-disposition', contentDisposition(ctx.fileName, format))
  return reply.send(typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength))
}
