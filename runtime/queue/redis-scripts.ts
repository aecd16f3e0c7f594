// Lua scripts for the Redis queue: each runs atomically in the server, which is what keeps "ack
// and count" exactly once and "claim or dead-letter" free of races between consumers.
import type { Effects } from './types.ts';

// Applies effects encoded after `base` in KEYS/ARGV: ARGV[a] = number of puts, then per put
// (KEYS[k], ARGV value, ARGV ttl ms or 0); then the number of incrs, then per incr (KEYS[k], ARGV
// by, ARGV ttl ms or 0).
const APPLY_EFFECTS = `
local function apply(k, a)
  local puts = tonumber(ARGV[a]); a = a + 1
  for _ = 1, puts do
    local ttl = tonumber(ARGV[a + 1])
    if ttl > 0 then redis.call('SET', KEYS[k], ARGV[a], 'PX', ttl) else redis.call('SET', KEYS[k], ARGV[a]) end
    k = k + 1; a = a + 2
  end
  local incrs = tonumber(ARGV[a]); a = a + 1
  for _ = 1, incrs do
    redis.call('INCRBY', KEYS[k], ARGV[a])
    local ttl = tonumber(ARGV[a + 1])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[k], ttl) end
    k = k + 1; a = a + 2
  end
end
`;

/**
 * KEYS: stream, dedup key, effect keys. ARGV: group, body, effects. Creates the group when
 * missing. The dedup key (a token made once per enqueue call) makes a re-sent enqueue (its reply
 * lost when Redis went down) return the first one's id instead of adding the message twice.
 */
export const ENQUEUE = `${APPLY_EFFECTS}
local prev = redis.call('GET', KEYS[2])
if prev then return prev end
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM') -- BUSYGROUP when it exists: fine
apply(3, 3)
local id = redis.call('XADD', KEYS[1], '*', 'body', ARGV[2])
redis.call('SET', KEYS[2], id, 'PX', 600000)
return id
`;

/** KEYS: stream, effect keys. ARGV: group, id, effects. Returns 1 when acked, 0 when not pending. */
export const ACK = `${APPLY_EFFECTS}
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
apply(2, 3)
return 1
`;

/**
 * KEYS: stream, dead-letter stream. ARGV: group, consumer, min idle ms, count, max deliveries.
 * Claims idle pending entries; those past max deliveries go to the dead-letter stream (with their
 * old id and count) and leave the queue. Returns {id, body, deliveries} triples, flattened.
 */
export const CLAIM = `
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', ARGV[4])
local out = {}
for _, e in ipairs(claimed[2]) do
  local id = e[1]
  local body = ''
  if e[2] then
    for i = 1, #e[2], 2 do if e[2][i] == 'body' then body = e[2][i + 1] end end
  end
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  local n = p[1] and p[1][4] or 1
  if n > tonumber(ARGV[5]) then
    redis.call('XADD', KEYS[2], '*', 'id', id, 'body', body, 'deliveries', n)
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
  else
    table.insert(out, id); table.insert(out, body); table.insert(out, n)
  end
end
return out
`;

/** KEYS: stream. ARGV: group, consumer, id. Resets the idle time if `consumer` still owns it. */
export const TOUCH = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
`;

/** Encodes effects as the KEYS tail and ARGV tail APPLY_EFFECTS reads. */
export function encodeEffects(effects: Effects | undefined): { keys: string[]; args: (string | number)[] } {
  const puts = effects?.put ?? [];
  const incrs = effects?.incr ?? [];
  const keys = [...puts.map((p) => p.key), ...incrs.map((i) => i.key)];
  const args: (string | number)[] = [puts.length];
  for (const p of puts) args.push(p.value, p.ttlMs ?? 0);
  args.push(incrs.length);
  for (const i of incrs) args.push(i.by ?? 1, i.ttlMs ?? 0);
  return { keys, args };
}
