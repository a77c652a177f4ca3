-- Compare-and-set one alert ledger entry (streams/store.py, streams/alert_ledger.py).
-- KEYS[1] entry hash: v (version), doc (incident state), out (undelivered messages)
-- ARGV[1] expected version ('0': absent), ARGV[2] doc, ARGV[3] outbox ('' : none),
-- ARGV[4] TTL seconds. Returns 1 when written, 0 when another writer saved it since.
local version = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local expected, ttl = tonumber(ARGV[1]), tonumber(ARGV[4])
if not expected or not ttl or ttl <= 0 then
  return redis.error_reply('ERR distillwatch: bad alert ledger argument')
end
if version ~= expected then return 0 end
redis.call('HSET', KEYS[1], 'v', version + 1, 'doc', ARGV[2])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'out')
else
  redis.call('HSET', KEYS[1], 'out', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ttl)
return 1
