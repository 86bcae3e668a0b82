/** Worker and thread defaults (resolveParallelism): in-process vs remote models, explicit settings. */
import { describe, expect, it } from 'vitest'
import { resolveParallelism } from '../../src/config.js'

const auto = { workers: 0, threadsPerWorker: 0 }

describe('resolveParallelism', () => {
  it('in-process models: one worker per core (up to 8), the cores shared out as ONNX Runtime threads', () => {
    expect(resolveParallelism(auto, 2)).toEqual({ workers: 2, threadsPerWorker: 1 })
    expect(resolveParallelism(auto, 1)).toEqual({ workers: 1, threadsPerWorker: 1 })
    expect(resolveParallelism(auto, 16)).toEqual({ workers: 8, threadsPerWorker: 2 })
  })
  it('remote models: two workers per core (up to 16), since each waits for the model server', () => {
    expect(resolveParallelism({ ...auto, remote: {} }, 2)).toEqual({ workers: 4, threadsPerWorker: 1 })
    expect(resolveParallelism({ ...auto, remote: {} }, 12)).toEqual({ workers: 16, threadsPerWorker: 1 })
  })
  it('explicit settings win', () => {
    expect(resolveParallelism({ workers: 3, threadsPerWorker: 0, remote: {} }, 2)).toEqual({ workers: 3, threadsPerWorker: 1 })
    expect(resolveParallelism({ workers: 1, threadsPerWorker: 4 }, 2)).toEqual({ workers: 1, threadsPerWorker: 4 })
  })
})
