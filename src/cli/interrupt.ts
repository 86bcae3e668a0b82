/** Ctrl-C during a CLI run that can stop gently. */
import { EXIT_INTERRUPTED } from './exit-codes.js'

/** What interruptOnCtrlC listens on and exits through: the process. */
export interface SigintTarget {
  on(event: 'SIGINT', listener: () => void): unknown
  off(event: 'SIGINT', listener: () => void): unknown
  exit(code: number): void
}

export interface Interrupt {
  /** Aborted by the first Ctrl-C: start no more work, cancel what is in flight, keep what is written complete. */
  signal: AbortSignal
  /** Stop listening (the run is over). */
  dispose(): void
}

/** The first Ctrl-C aborts `signal`; a second exits at once with 130. */
export function interruptOnCtrlC(target: SigintTarget = process): Interrupt {
  const controller = new AbortController()
  const onSigint = (): void => {
    if (controller.signal.aborted) target.exit(EXIT_INTERRUPTED)
    controller.abort()
  }
  target.on('SIGINT', onSigint)
  return { signal: controller.signal, dispose: () => target.off('SIGINT', onSigint) }
}
