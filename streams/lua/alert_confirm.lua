-- Mark a claim as sent, if it is still the claim for this alert id.
-- KEYS[1] claim hash, ARGV[1] alert id
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'sent', '1')
  return 1
end
return 0
