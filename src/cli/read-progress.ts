/** `ocrserve read`'s progress bar: pages read across all files, on stderr when it is a terminal. */
import cliProgress, { type GenericFormatter, type MultiBar, type SingleBar } from 'cli-progress'

/** The bar's line without the file name, which takes the rest of the terminal's width. */
const BAR_LINE = '{bar} {value}/{total} pages | {files}/{fileCount} files | {eta_formatted} left | '

/**
 * The end of `path` that fits in `width` columns ("…/scans/2024/page-17.png"): where a long path
 * is cut, its file name is the part worth showing. Cut after a "/" when the file name still fits.
 */
export function fitPath(path: string, width: number): string {
  const chars = [...path]
  if (chars.length <= width) return path
  if (width < 2) return ''
  let tail = chars.slice(chars.length - (width - 1)).join('')
  const name = path.slice(path.lastIndexOf('/') + 1)
  const slash = tail.indexOf('/')
  if (slash > 0 && tail.length - slash > name.length) tail = tail.slice(slash)
  return '…' + tail
}

/** cli-progress's line with the current file fitted into the columns left (the terminal cuts longer lines). */
const barLine: GenericFormatter = (options, params, payload: { file?: string }) => {
  const line = cliProgress.Format.Formatter({ ...options, format: BAR_LINE }, params, payload)
  return line + fitPath(payload.file ?? '', params.maxWidth - line.length - 1)
}

/**
 * Page progress across all files on stderr (a TTY only). Each file counts as one page until its
 * first page reports the document's page count, so the total grows as documents are opened. A file
 * stopped by Ctrl-C is not counted as done.
 */
export class PageProgress {
  private readonly multi: MultiBar | null
  private readonly bar: SingleBar | null
  private readonly expected: number[]
  private readonly done: number[]
  private filesDone = 0

  constructor(
    private readonly fileCount: number,
    enabled: boolean,
  ) {
    this.expected = new Array<number>(fileCount).fill(1)
    this.done = new Array<number>(fileCount).fill(0)
    this.multi = enabled
      ? new cliProgress.MultiBar(
          { stream: process.stderr, format: barLine, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        )
      : null
    this.bar = this.multi?.create(fileCount, 0, { files: 0, fileCount, file: '' }) ?? null
  }

  page(index: number, file: string, total: number): void {
    if (this.done[index] === 0 && total !== this.expected[index]) this.grow(index, total)
    this.done[index]!++
    this.bar?.increment(1, { file })
  }

  /** A file finished (read or failed): its uncounted pages leave the total. */
  fileDone(index: number, pagesRead: number): void {
    this.grow(index, this.done[index]! + Math.max(0, pagesRead - this.done[index]!))
    if (pagesRead > this.done[index]!) this.bar?.increment(pagesRead - this.done[index]!)
    this.done[index] = pagesRead
    this.filesDone++
    this.bar?.update({ files: this.filesDone })
  }

  /** A message above the bar (or on stderr when there is none). */
  log(msg: string): void {
    if (this.multi) this.multi.log(msg)
    else process.stderr.write(msg)
  }

  stop(): void {
    this.multi?.stop()
  }

  private grow(index: number, total: number): void {
    if (this.bar) this.bar.setTotal(this.bar.getTotal() + total - this.expected[index]!)
    this.expected[index] = total
  }
}
