/**
 * describe() for the tests that need a real Redis (redis-server.ts starts one). Where the binary is
 * missing, the block's set-up (which starts Redis) does not run: it holds one test that is skipped
 * with the reason (test/helpers/requirements.ts, listed under the run's summary), or, under
 * CI=true, fails. `redisSkipReason` is the one place that decides.
 */
import { describe, it } from 'vitest'
import { requireOrSkip } from './requirements.js'
import { redisSkipReason } from './redis-server.js'

export { startRedis, type RedisServer, type RedisServerOptions } from './redis-server.js'

export function describeWithRedis(name: string, body: () => void): void {
  const reason = redisSkipReason()
  if (reason === null) {
    describe(name, body)
    return
  }
  describe(name, () => {
    it('needs redis-server', (ctx) => requireOrSkip(ctx, { missing: `${name} skipped: ${reason}`, requiredInCi: true }))
  })
}
