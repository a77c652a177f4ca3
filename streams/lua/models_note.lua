-- The model registry: the earliest event time each model was seen at (one hash, all workers).
-- KEYS[1] hash: model -> earliest event time; ARGV: model, time, model, time, ...
-- The registry's own start is kept under the empty model name (the earliest of all times).
-- Returns the earliest known time of each model given, then of the start, as strings.
local key = KEYS[1]
local function note(model, ts)
  local known = redis.call('HGET', key, model)
  if not known or tonumber(ts) < tonumber(known) then
    redis.call('HSET', key, model, ts)
    return ts
  end
  return known
end
local out = {}
for i = 1, #ARGV, 2 do
  out[#out + 1] = note(ARGV[i], ARGV[i + 1])
  note('', ARGV[i + 1])
end
out[#out + 1] = redis.call('HGET', key, '') or ''
return out
