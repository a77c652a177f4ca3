-- Check-and-set one alert claim (see streams/store.py for the rules).
-- KEYS[1] claim hash: id, ts (event time, '%.6f'), sent ('0' or '1')
-- ARGV[1] alert id, ARGV[2] fired_at, ARGV[3] cooldown seconds, ARGV[4] key TTL seconds
-- Returns {outcome, alert_id, fired_at}.
local cur = redis.call('HMGET', KEYS[1], 'id', 'ts', 'sent')
if cur[1] and cur[3] ~= '1' then
  return {'pending', cur[1], cur[2]}
end
if cur[2] and tonumber(ARGV[2]) - tonumber(cur[2]) < tonumber(ARGV[3]) then
  return {'cooldown', '', ''}
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'ts', ARGV[2], 'sent', '0')
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {'granted', ARGV[1], ARGV[2]}
