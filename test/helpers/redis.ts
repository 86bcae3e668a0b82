/**
 * describe() for the tests that need a real Redis (redis-server.ts starts one): where the binary is
 * missing their tests are skipped and the reason printed once; under CI=true they fail instead.
 * `redisSkipReason` is the one place that decides.
 */
import { describe, it } from 'vitest'
import { redisSkipReason } from './redis-server.js'

export { startRedis, type RedisServer, type RedisServerOptions } from './redis-server.js'

export function describeWithRedis(name: string, body: () => void): void {
  const reason = redisSkipReason()
  if (reason === null) {
    describe(name, body)
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs redis-server', () => {
        throw new Error(`CI=true and ${reason}`)
      })
    })
  } else {
    process.stdout.write(`skipping "${name}": ${reason}\n`)
    describe.skip(name, body)
  }
}
