/**
 * The Redis store's job records, changed only by these Lua scripts so that every change is atomic
 * whichever replica makes it. The tasks themselves (waiting, locks, stalls, retries) are BullMQ's;
 * these scripts keep what BullMQ does not model: a job's state and pages, its document, its
 * expiry, and the storage budget. KEYS[1] is the key prefix (`ocrserve:`); the keys are
 *
 *   job:<id>          hash   id owner state created started deadline finished expires file opts
 *                            total list (the page numbers, JSON) done error (JSON)
 *   job:<id>:doc      string the document
 *   job:<id>:pages    hash   page number → PageResult (JSON); a page is written once
 *   jobs:<state>      zset   the jobs in each state: queued by creation time, running by deadline,
 *                            succeeded/failed/cancelled by when their result expires, expired by
 *                            when the id is forgotten
 *   jobs:bytes        hash   id → bytes of the document a job holds
 *   jobs:stored       string the sum of jobs:bytes (OCR_JOBS_MAX_STORED_BYTES bounds it)
 *   jobs:stalled      string page tasks taken over from a stopped replica (counted by the replica that took them)
 *
 * Times are ms since the epoch, passed in by the caller (one clock per call, the caller's).
 */

/** Functions every script shares. */
const PRELUDE = `
local P = KEYS[1]
local function jobKey(id) return P .. 'job:' .. id end
local function stateSet(state) return P .. 'jobs:' .. state end
local BYTES = P .. 'jobs:bytes'
local STORED = P .. 'jobs:stored'
local FINISHED = {'succeeded', 'failed', 'cancelled'}

-- the job's document and pages are dropped and no longer count against the budget
local function release(id)
  local k = jobKey(id)
  local bytes = redis.call('HGET', BYTES, id)
  if bytes then
    redis.call('HDEL', BYTES, id)
    redis.call('DECRBY', STORED, bytes)
  end
  redis.call('DEL', k .. ':doc', k .. ':pages')
end

-- a queued or running job ends in 'state' (error: JSON or false); its result is kept for ttl
local function finish(id, state, now, ttl, err)
  local k = jobKey(id)
  redis.call('ZREM', stateSet(redis.call('HGET', k, 'state')), id)
  local expires = now + ttl
  redis.call('HSET', k, 'state', state, 'finished', now, 'expires', expires)
  if err then redis.call('HSET', k, 'error', err) end
  redis.call('ZADD', stateSet(state), expires, id)
  -- should no replica be left to sweep, Redis drops them itself
  redis.call('PEXPIREAT', k, expires + ttl)
  redis.call('PEXPIREAT', k .. ':doc', expires)
  redis.call('PEXPIREAT', k .. ':pages', expires)
end

-- a finished job (in 'state') expires at 'at': result and document dropped, the id reads
-- 'expired' until at + ttl, then Redis forgets it
local function expire(id, state, at, ttl)
  redis.call('ZREM', stateSet(state), id)
  release(id)
  local k = jobKey(id)
  if redis.call('EXISTS', k) == 1 then
    redis.call('HSET', k, 'state', 'expired', 'expires', at + ttl)
    redis.call('PEXPIREAT', k, at + ttl)
    redis.call('ZADD', stateSet('expired'), at + ttl, id)
  end
end

-- what is due: results expire, expired ids are forgotten, running jobs past their deadline fail
-- (TIMEOUT); returns the ids of those, whose pages must be told to stop
local function sweep(now, ttl, timeout)
  for _, state in ipairs(FINISHED) do
    local due = redis.call('ZRANGEBYSCORE', stateSet(state), '-inf', now, 'WITHSCORES')
    for i = 1, #due, 2 do expire(due[i], state, tonumber(due[i + 1]), ttl) end
  end
  local forgotten = redis.call('ZRANGEBYSCORE', stateSet('expired'), '-inf', now)
  for _, id in ipairs(forgotten) do redis.call('DEL', jobKey(id)) end
  redis.call('ZREMRANGEBYSCORE', stateSet('expired'), '-inf', now)
  local late = redis.call('ZRANGEBYSCORE', stateSet('running'), '-inf', now)
  for _, id in ipairs(late) do
    finish(id, 'failed', now, ttl, cjson.encode({code = 'TIMEOUT', message = 'the job took longer than OCR_JOBS_TIMEOUT_MS (' .. timeout .. ' ms)'}))
  end
  return late
end
`

/** Each script: what it does, its ARGV, its answer. */
const SCRIPTS = {
  /**
   * ARGV now ttl timeout maxQueued budget id owner file opts doc. Makes room in the budget by
   * expiring the finished jobs whose results go soonest, then stores the job as queued.
   * → {'ok' | 'queue_full' | 'storage_full', n (queued jobs or stored bytes), jobs expired early, jobs timed out}
   */
  submit: `
local now, ttl, timeout = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local maxQueued, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
local id, owner, file, opts, doc = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local late = sweep(now, ttl, timeout)
local early = {}
local queued = redis.call('ZCARD', stateSet('queued'))
if queued >= maxQueued then return {'queue_full', queued, early, late} end
local bytes = #doc
local stored = tonumber(redis.call('GET', STORED) or '0')
while stored + bytes > budget do
  local oldest, oldestState, oldestAt = nil, nil, nil
  for _, state in ipairs(FINISHED) do
    local first = redis.call('ZRANGE', stateSet(state), 0, 0, 'WITHSCORES')
    if first[1] and (oldestAt == nil or tonumber(first[2]) < oldestAt) then
      oldest, oldestState, oldestAt = first[1], state, tonumber(first[2])
    end
  end
  if not oldest then return {'storage_full', stored, early, late} end
  expire(oldest, oldestState, now, ttl)
  table.insert(early, oldest)
  stored = tonumber(redis.call('GET', STORED) or '0')
end
local k = jobKey(id)
redis.call('HSET', k, 'id', id, 'state', 'queued', 'created', now, 'opts', opts, 'done', 0)
if owner ~= '' then redis.call('HSET', k, 'owner', owner) end
if file ~= '' then redis.call('HSET', k, 'file', file) end
redis.call('SET', k .. ':doc', doc)
redis.call('HSET', BYTES, id, bytes)
redis.call('INCRBY', STORED, bytes)
redis.call('ZADD', stateSet('queued'), now, id)
return {'ok', queued + 1, early, late}
`,
  /** ARGV now timeout id: the job's first task begins (queued → running). → the job's state ('gone' if none) */
  start: `
local now, timeout, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local k = jobKey(id)
local state = redis.call('HGET', k, 'state')
if state ~= 'queued' then return state or 'gone' end
redis.call('ZREM', stateSet('queued'), id)
redis.call('ZADD', stateSet('running'), now + timeout, id)
redis.call('HSET', k, 'state', 'running', 'started', now, 'deadline', now + timeout)
return 'running'
`,
  /** ARGV id total list: a running job's pages are known. → the job's state */
  planned: `
local id, total, list = ARGV[1], ARGV[2], ARGV[3]
local k = jobKey(id)
local state = redis.call('HGET', k, 'state')
if state ~= 'running' then return state or 'gone' end
redis.call('HSET', k, 'total', total, 'list', list)
return 'running'
`,
  /**
   * ARGV now ttl id page json: a page of a running job was read (a page read twice is kept once);
   * the last one finishes the job. → {the job's state, pages done}
   */
  page: `
local now, ttl, id, page, json = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local k = jobKey(id)
local state = redis.call('HGET', k, 'state')
if state ~= 'running' then return {state or 'gone', 0} end
if redis.call('HSETNX', k .. ':pages', page, json) == 1 then redis.call('HINCRBY', k, 'done', 1) end
local done, total = unpack(redis.call('HMGET', k, 'done', 'total'))
if total and tonumber(done) >= tonumber(total) then
  finish(id, 'succeeded', now, ttl, false)
  return {'succeeded', tonumber(done)}
end
return {'running', tonumber(done)}
`,
  /** ARGV now ttl id state error: a queued or running job ends failed or cancelled. → its state before */
  end: `
local now, ttl, id, state, err = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local before = redis.call('HGET', jobKey(id), 'state')
if before == 'queued' or before == 'running' then finish(id, state, now, ttl, err) end
return before or 'gone'
`,
  /** ARGV id: a finished or expired job is forgotten at once. → its state before */
  remove: `
local id = ARGV[1]
local k = jobKey(id)
local state = redis.call('HGET', k, 'state')
if state == 'queued' or state == 'running' then return state end
if state then redis.call('ZREM', stateSet(state), id) end
release(id)
redis.call('DEL', k)
return state or 'gone'
`,
  /** ARGV now ttl timeout: what is due (see sweep). → the ids of jobs that timed out */
  sweep: `
return sweep(tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
`,
  /**
   * ARGV now ttl timeout: sweeps, then counts. → {queued, running, succeeded, failed, cancelled,
   * expired, stored bytes, creation time of the oldest queued job or -1, stalled-task recoveries, timed-out ids}
   */
  stats: `
local late = sweep(tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
local out = {}
for _, state in ipairs({'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired'}) do
  table.insert(out, redis.call('ZCARD', stateSet(state)))
end
table.insert(out, tonumber(redis.call('GET', STORED) or '0'))
local oldest = redis.call('ZRANGE', stateSet('queued'), 0, 0, 'WITHSCORES')
table.insert(out, oldest[2] and tonumber(oldest[2]) or -1)
table.insert(out, tonumber(redis.call('GET', P .. 'jobs:stalled') or '0'))
table.insert(out, late)
return out
`,
} as const

export type ScriptName = keyof typeof SCRIPTS

/** The scripts with the shared functions prepended, for ioredis defineCommand (one key: the prefix). */
export const JOB_SCRIPTS: Record<ScriptName, string> = Object.fromEntries(Object.entries(SCRIPTS).map(([name, body]) => [name, PRELUDE + body])) as Record<ScriptName, string>
