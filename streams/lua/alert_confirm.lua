-- The outbox of one alert ledger entry was delivered: clear it, unless saved again since.
-- KEYS[1] entry hash, ARGV[1] the version whose outbox was delivered
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'out')
  return 1
end
return 0
