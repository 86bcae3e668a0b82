/**
 * The initial size of V8's old generation for ocrserve's worker threads.
 *
 * V8 starts a full, incremental mark as soon as the room left under an isolate's old-generation
 * limit is smaller than its young generation, and after each full collection it sets that limit
 * to a few times what survived. A thread that holds ~15 MB and turns over megabytes of buffers per
 * image or per model call meets that nearly all the time:
 * - single mode's pipeline workers (tensors, crops, the detector's output map): 228 full
 *   collections per 144 images read all at once on 2 workers with V8's defaults, 64–69 with a
 *   64 MB initial old generation; the share of CPU outside ONNX Runtime fell from 14.3 % to
 *   12.6 % (`perf`, the full bench set), and `bench/ab-builds.ts` read saturated images/s +6.7 %
 *   (+3.1 … +8.2 %) and CPU per image −6.1 % over 8 rounds against the build before (which also
 *   lacked two loop rewrites worth under 1 %);
 * - remote mode's workers and the model server's (message buffers, HTTP/2 frames, protobuf): a
 *   worker making 20 detector calls over gRPC ran 9–13 full collections and 20–28 ms of CPU per
 *   call with the defaults, 3 and 12 ms with it (over HTTP, 13–15 → 4–5 ms).
 * The price is memory: an isolate may hold up to that much garbage before it collects (measured:
 * +25–90 MiB peak RSS for single mode's two workers, +89–162 MiB for a remote service's four).
 *
 * The real-thread factory (threadsRunning in ./host.ts) calls widenWorkerHeaps() before it starts
 * a thread, so every pool (the engine's scheduler, the model server's) gets it. The flag is
 * process-wide: worker threads a library host starts later get it too. Node accepts it for the
 * main thread only on its own command line (not in NODE_OPTIONS): compose.model-server.yml passes
 * it to the model server, whose main thread decodes and encodes the messages. A command line that
 * sets it itself (`node --initial-old-space-size=0 …` keeps V8's default) wins.
 */
import v8 from 'node:v8'

export const INITIAL_OLD_SPACE_MB = 64

/** Node's flag that sets it, as compose.model-server.yml and the bench pass it on the model server's command line. */
export const INITIAL_OLD_SPACE_FLAG = `--initial-old-space-size=${INITIAL_OLD_SPACE_MB}`

/** True when Node's command line chose the initial old-generation size itself (its choice stands). */
export function initialOldSpaceOnCommandLine(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some((a) => /^--initial[-_]old[-_]space[-_]size(=|$)/.test(a))
}

let widenedTo: number | null = null

/** The size widenWorkerHeaps last set in this process, in MB; null when it has set none. */
export function workerHeapsWidenedTo(): number | null {
  return widenedTo
}

/**
 * Gives the worker threads started from now on a `mb` MB initial old generation, unless Node's
 * command line set one. Process-wide: V8 flags are. Returns whether it set it.
 */
export function widenWorkerHeaps(mb: number = INITIAL_OLD_SPACE_MB): boolean {
  if (!Number.isInteger(mb) || mb < 0) throw new RangeError(`initial old space: ${mb} MB is not a whole number ≥ 0`)
  if (initialOldSpaceOnCommandLine()) return false
  v8.setFlagsFromString(`--initial-old-space-size=${mb}`)
  widenedTo = mb
  return true
}
