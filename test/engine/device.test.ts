import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createOcr } from '../../src/index.js'
import { createLocalBackend } from '../../src/inference/local.js'
import { resolveModelPaths } from '../../src/models/assets.js'
import { requireOrSkip, unless } from '../helpers/requirements.js'

const ortDir = join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64')
const hasCuda = existsSync(join(ortDir, 'libonnxruntime_providers_cuda.so'))

describe('devices', () => {
  it('an unknown device is rejected with the list of valid ones', async () => {
    await expect(createLocalBackend(resolveModelPaths().cls, { device: 'tpu' as never, threads: 1 })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('cpu, cuda'),
    })
    await expect(createOcr({ device: 'tpu' as never })).rejects.toMatchObject({ code: 'INVALID_CONFIG' })
  })

  it('cuda without the CUDA provider falls back to CPU with a warning, and still reads', async (ctx) => {
    requireOrSkip(ctx, unless('CUDA fallback test', hasCuda, 'onnxruntime-node has its CUDA provider here, so cuda does not fall back'))
    const warnings: string[] = []
    const noop = (): void => {}
    const ocr = await createOcr({
      workers: 1,
      device: 'cuda',
      logger: { debug: noop, info: noop, error: noop, warn: (_o, m) => warnings.push(String(m)) },
    })
    try {
      expect(warnings.some((w) => /falling back to CPU/.test(w))).toBe(true)
      expect(await ocr.ready()).toBe(true)
    } finally {
      await ocr.close()
    }
  })
})
