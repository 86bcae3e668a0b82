/**
 * A pipeline worker thread that dies mid-job (simulated: the thread the scheduler gave the job to
 * is terminated from outside). Its job fails with a clear 500 INTERNAL (no stack), the jobs queued
 * behind it still succeed, the worker is replaced, and the service keeps answering throughout.
 * The whole service with real pipeline threads: the engine's worker factory (EngineParts) is
 * wrapped so the test sees which thread gets each job.
 *
 * The victim's job message is held back from the thread, so the thread is idle when it is
 * terminated: terminating a thread while an ONNX Runtime run of its is in flight can abort the
 * whole process (onnxruntime-node calls back into the dead thread's environment and throws a C++
 * exception nobody catches), which would kill the test runner now and then. For the scheduler the
 * two cases are the same: a thread holding a job exits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../../src/config.js'
import type { WorkerInit } from '../../src/pipeline/messages.js'
import { pipelineThreads } from '../../src/pipeline/scheduler.js'
import { createLogger, startService, type Service } from '../../src/server/index.js'
import type { WorkerFactory, WorkerLike } from '../../src/workers/host.js'
import { squash, textImage, type TextImage } from '../helpers/images.js'

/** Every worker thread that has been handed a job, most recent last. */
const jobWorkers: WorkerLike[] = []
/** When set, the next job message is kept from its thread (see the file comment). */
let holdNextJob = false
let svc: Service
let img: TextImage

/** The real pipeline threads, each seen by the test as it is given a job. */
const watchedThreads: WorkerFactory<WorkerInit> = (init, index) => {
  const thread = pipelineThreads(init, index)
  return {
    postMessage(message, transfer) {
      if ((message as { type?: string }).type === 'job') {
        jobWorkers.push(thread)
        if (holdNextJob) {
          holdNextJob = false
          return
        }
      }
      thread.postMessage(message, transfer)
    },
    on: (event, listener) => thread.on(event, listener),
    terminate: () => thread.terminate(),
  }
}

beforeAll(async () => {
  img = await textImage(['WORKER DIED 404', 'AND CAME BACK'], 40)
  const config = loadServiceConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OCR_WORKERS: '1', OCR_MAX_QUEUE: '8' })
  svc = await startService(config, createLogger(config.logLevel), { workers: watchedThreads })
})
afterAll(async () => {
  await svc?.close()
})

const read = () => fetch(`${svc.url}/v1/ocr`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img.png })

async function until(what: string, test: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('a worker thread that dies', () => {
  it('fails only its own job with 500 INTERNAL; queued jobs finish; the worker is replaced', async () => {
    expect((await read()).status).toBe(200) // warm
    jobWorkers.length = 0
    holdNextJob = true
    const victim = read()
    await until('the job to reach a worker', () => jobWorkers.length === 1 && svc.ocr.stats().running === 1)
    const queued = [read(), read()]
    await until('two jobs queued', () => svc.ocr.stats().queued === 2)

    const [dying] = jobWorkers
    await dying!.terminate()
    // the service answers while the worker is being replaced
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200)

    const failed = await victim
    expect(failed.status).toBe(500)
    const body = (await failed.json()) as { error: { code: string; message: string; request_id: string } }
    expect(body.error.code).toBe('INTERNAL')
    expect(body.error.message).toMatch(/worker exited .* while running the job/)
    expect(body.error.request_id).toBe(failed.headers.get('x-request-id'))
    expect(JSON.stringify(body)).not.toMatch(/\n\s+at |\.[jt]s:\d+/)

    // the jobs queued behind it run on the replacement
    for (const res of await Promise.all(queued)) {
      expect(res.status).toBe(200)
      const result = (await res.json()) as { lines: { text: string }[] }
      expect(result.lines.map((l) => squash(l.text))).toEqual(img.lines.map(squash))
    }
    expect(jobWorkers.at(-1)).not.toBe(dying)
    expect(svc.ocr.stats().workers).toBe(1)
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200)
    expect((await read()).status).toBe(200)
  })
})
