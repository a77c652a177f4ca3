-- The model registry: the earliest event time each model was seen at (one hash, all workers).
-- KEYS[1] hash: model -> earliest event time; ARGV: model, time, model, time, ...
-- The registry's own start is kept under the empty model name (the earliest of all times).
-- Returns the earliest known time of each model given, then of the start, as strings; a model
-- not registered because the registry is full (ARGV holds no limit: MAX_MODELS below) returns
-- the start, so it never counts as newly released.
-- Model names come from the gateway; the registry stops growing at this many (with the start).
local MAX_MODELS = 10000
local key = KEYS[1]
local function note(model, ts)
  local known = redis.call('HGET', key, model)
  if not known and model ~= '' and redis.call('HLEN', key) >= MAX_MODELS then
    return redis.call('HGET', key, '') or ts
  end
  if not known or tonumber(ts) < tonumber(known) then
    redis.call('HSET', key, model, ts)
    return ts
  end
  return known
end
local out = {}
for i = 1, #ARGV, 2 do
  note('', ARGV[i + 1])
  out[#out + 1] = note(ARGV[i], ARGV[i + 1])
end
out[#out + 1] = redis.call('HGET', key, '') or ''
return out
