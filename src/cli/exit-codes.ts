/** The CLI's exit statuses (README, "Exit codes"). */

/** Some input failed (each failure is on stderr; the others were read). */
export const EXIT_FAILED = 1
/** A usage error: a missing argument, an unknown option, a bad option value, nothing to read, a bad setting, a port in use. */
export const EXIT_USAGE = 2
/** Stopped by Ctrl-C (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130
