-- Apply a batch of one account's events to its sliding windows; idempotent by event key.
-- Mirrors detectors/windows.py (BucketedWindow) and streams/memory_store.py exactly.
--
-- KEYS[1]      seen zset: event key -> event time, trimmed to the dedupe horizon
-- KEYS[2..1+W] one hash per window: field h = head bucket, t<i> = running total of counter i,
--              <bucket>:<i> = counter i of that bucket
-- ARGV[1] horizon seconds, ARGV[2] W, ARGV[3] C (counters), ARGV[4] TTL of the seen zset
-- then per window: bucket_seconds, n_buckets, ttl
-- then per event: event key, event time, C counter values
-- Returns per event: status (0 applied, 1 duplicate, 2 late), then W x C totals.
local horizon = tonumber(ARGV[1])
local W = tonumber(ARGV[2])
local C = tonumber(ARGV[3])
local seen_ttl = tonumber(ARGV[4])
local bucket_s, n_buckets, ttl = {}, {}, {}
local p = 5
for w = 1, W do
  bucket_s[w] = tonumber(ARGV[p]); n_buckets[w] = tonumber(ARGV[p + 1]); ttl[w] = tonumber(ARGV[p + 2])
  p = p + 3
end

local seen = KEYS[1]
local newest = redis.call('ZRANGE', seen, -1, -1, 'WITHSCORES')
local max_ts = nil
if #newest == 2 then max_ts = tonumber(newest[2]) end

local total_fields = {}
for i = 1, C do total_fields[i] = 't' .. i end
local head, totals = {}, {}
for w = 1, W do
  local key = KEYS[1 + w]
  local h = redis.call('HGET', key, 'h')
  if h then head[w] = tonumber(h) end
  local values = redis.call('HMGET', key, unpack(total_fields))
  totals[w] = {}
  for i = 1, C do totals[w][i] = tonumber(values[i]) or 0 end
end

local function bucket_field(bucket, i)
  return string.format('%d:%d', bucket, i)
end

local function add_to_window(w, ts, base)
  local key = KEYS[1 + w]
  local b = math.floor(ts / bucket_s[w])
  local n = n_buckets[w]
  if head[w] == nil then
    head[w] = b
    redis.call('HSET', key, 'h', string.format('%d', b))
  elseif b > head[w] then
    if b - head[w] >= n then
      redis.call('DEL', key)
      for i = 1, C do totals[w][i] = 0 end
    else
      for old = head[w] - n + 1, b - n do
        for i = 1, C do
          local f = bucket_field(old, i)
          local v = redis.call('HGET', key, f)
          if v then
            totals[w][i] = totals[w][i] - tonumber(v)
            redis.call('HINCRBY', key, 't' .. i, -tonumber(v))
            redis.call('HDEL', key, f)
          end
        end
      end
    end
    head[w] = b
    redis.call('HSET', key, 'h', string.format('%d', b))
  elseif b <= head[w] - n then
    return  -- late for this window
  end
  for i = 1, C do
    local v = tonumber(ARGV[base + 1 + i])
    if v ~= 0 then
      redis.call('HINCRBY', key, bucket_field(b, i), v)
      redis.call('HINCRBY', key, 't' .. i, v)
      totals[w][i] = totals[w][i] + v
    end
  end
end

local out = {}
local touched = false
local stride = 2 + C
for base = p, #ARGV, stride do
  local event_key = ARGV[base]
  local ts = tonumber(ARGV[base + 1])
  local status = 0
  if max_ts ~= nil and ts < max_ts - horizon then
    status = 2
  elseif redis.call('ZSCORE', seen, event_key) then
    status = 1
  else
    redis.call('ZADD', seen, ARGV[base + 1], event_key)
    if max_ts == nil or ts > max_ts then
      max_ts = ts
      -- %.17g keeps the cutoff exact: Lua's default number format rounds to 14 digits.
      redis.call('ZREMRANGEBYSCORE', seen, '-inf', '(' .. string.format('%.17g', max_ts - horizon))
    end
    touched = true
    for w = 1, W do add_to_window(w, ts, base) end
  end
  out[#out + 1] = status
  for w = 1, W do
    for i = 1, C do out[#out + 1] = totals[w][i] end
  end
end

if touched then
  redis.call('EXPIRE', seen, seen_ttl)
  for w = 1, W do redis.call('EXPIRE', KEYS[1 + w], ttl[w]) end
end
return out
