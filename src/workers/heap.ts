/**
 * The initial size of V8's old generation, for the threads that pass model calls over the wire.
 *
 * V8 starts a full, incremental mark as soon as the room left under an isolate's old-generation
 * limit is smaller than its young generation, and after each full collection it sets that limit
 * to a few times what survived. A thread that holds ~15 MB and turns over megabytes of message
 * buffers per model call (HTTP/2 frames, protobuf encoding, the tensors' copies) meets that on
 * nearly every call. Measured here (a worker thread making 20 detector calls to the model server
 * over gRPC, 960×640 inputs): 9–13 full collections and 20–28 ms of the caller's CPU per call with
 * V8's defaults; 3 collections and 12 ms with a 64 MB initial old generation (over HTTP, 13–15 →
 * 4–5 ms). The price is memory: an isolate may hold up to that much garbage before it collects.
 *
 * Where it is used: remote-mode `ocrserve serve` (its workers make the model calls) and `ocrserve
 * model-server`. Single mode's workers, which call ONNX Runtime in-process, gained nothing
 * measurable (bench --quick --sections floor,sat, three runs each: 5.43 against 5.51 images/s), so
 * they keep V8's defaults.
 *
 * Node accepts the flag for the main thread only on its own command line (not in NODE_OPTIONS):
 * compose.model-server.yml passes it to the model server, whose main thread decodes and encodes
 * the messages. Worker threads are created later, so setting it before the first one gives it to
 * them; a library host in remote mode may call widenWorkerHeaps() before createOcr().
 */
import v8 from 'node:v8'

export const INITIAL_OLD_SPACE_MB = 64

/** Node's flag that sets it, as compose.model-server.yml and the bench pass it on the model server's command line. */
export const INITIAL_OLD_SPACE_FLAG = `--initial-old-space-size=${INITIAL_OLD_SPACE_MB}`

/** True when Node's command line chose the initial old-generation size itself (its choice stands). */
export function initialOldSpaceOnCommandLine(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some((a) => /^--initial[-_]old[-_]space[-_]size(=|$)/.test(a))
}

/**
 * Gives the worker threads started from now on a `mb` MB initial old generation, unless Node's
 * command line set one. Process-wide: V8 flags are. Returns whether it set it.
 */
export function widenWorkerHeaps(mb: number = INITIAL_OLD_SPACE_MB): boolean {
  if (!Number.isInteger(mb) || mb < 0) throw new RangeError(`initial old space: ${mb} MB is not a whole number ≥ 0`)
  if (initialOldSpaceOnCommandLine()) return false
  v8.setFlagsFromString(`--initial-old-space-size=${mb}`)
  return true
}
