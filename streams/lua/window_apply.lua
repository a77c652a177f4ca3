-- Apply a batch of one account's events to its sliding windows; idempotent by event key.
-- Mirrors detectors/windows.py (BucketedWindow) and streams/memory_store.py exactly.
--
-- KEYS[1]      seen zset: event key -> event time, trimmed to the dedupe horizon
-- KEYS[2..1+W] one hash per window: h = head bucket, t<i> = running sum i, f<j> / q<j> =
--              filled bins / sum of squared bin counts of histogram j, b<key> = count of a bin
--              The window's buckets live beside it in hashes <window key>:<bucket> (fields
--              s<i> and b<key>); they share the account's hash tag, so one cluster slot.
-- ARGV[1] horizon seconds, ARGV[2] W, ARGV[3] S (sums), ARGV[4] B (histograms),
-- ARGV[5] TTL of the seen zset, ARGV[6] bin key stride (measure index = key // stride)
-- then per window: bucket_seconds, n_buckets, ttl
-- then per event: event key, event time, S sum values, K, then K bin keys (each adds 1)
-- Returns per event: status (0 applied, 1 duplicate, 2 late), then W x (S + 2B) totals.
local horizon = tonumber(ARGV[1])
local W = tonumber(ARGV[2])
local S = tonumber(ARGV[3])
local B = tonumber(ARGV[4])
local seen_ttl = tonumber(ARGV[5])
local stride = tonumber(ARGV[6])
local bucket_s, n_buckets, ttl = {}, {}, {}
local p = 7
for w = 1, W do
  bucket_s[w] = tonumber(ARGV[p]); n_buckets[w] = tonumber(ARGV[p + 1]); ttl[w] = tonumber(ARGV[p + 2])
  p = p + 3
end

local function int(v)
  return string.format('%d', v)
end

local seen = KEYS[1]
local newest = redis.call('ZRANGE', seen, -1, -1, 'WITHSCORES')
local max_ts = nil
if #newest == 2 then max_ts = tonumber(newest[2]) end

-- Running aggregates per window: sums[w][i], filled[w][j], sumsq[w][j].
local agg_fields = {}
for i = 1, S do agg_fields[#agg_fields + 1] = 't' .. i end
for j = 1, B do agg_fields[#agg_fields + 1] = 'f' .. j end
for j = 1, B do agg_fields[#agg_fields + 1] = 'q' .. j end
local head, agg = {}, {}
for w = 1, W do
  local key = KEYS[1 + w]
  local h = redis.call('HGET', key, 'h')
  if h then head[w] = tonumber(h) end
  agg[w] = {}
  if #agg_fields > 0 then
    local values = redis.call('HMGET', key, unpack(agg_fields))
    for k = 1, #agg_fields do agg[w][k] = tonumber(values[k]) or 0 end
  end
end
local touched_buckets = {}

local function set_agg(w, k, v)
  agg[w][k] = v
  redis.call('HSET', KEYS[1 + w], agg_fields[k], int(v))
end

-- Move `delta` into bin `bin_field` of window w, keeping filled and sumsq of its histogram.
local function move_bin(w, key_num, bin_field, delta)
  local key = KEYS[1 + w]
  local count = tonumber(redis.call('HGET', key, bin_field)) or 0
  local left = count + delta
  local j = math.floor(key_num / stride) + 1
  local fk, qk = S + j, S + B + j
  set_agg(w, qk, agg[w][qk] + left * left - count * count)
  if left == 0 then
    redis.call('HDEL', key, bin_field)
    set_agg(w, fk, agg[w][fk] - 1)
  else
    redis.call('HSET', key, bin_field, int(left))
    if count == 0 then set_agg(w, fk, agg[w][fk] + 1) end
  end
end

local function drop_bucket(w, bucket)
  local bkey = KEYS[1 + w] .. ':' .. int(bucket)
  local fields = redis.call('HGETALL', bkey)
  for k = 1, #fields, 2 do
    local name, value = fields[k], tonumber(fields[k + 1])
    local kind = string.sub(name, 1, 1)
    if kind == 's' then
      local i = tonumber(string.sub(name, 2))
      set_agg(w, i, agg[w][i] - value)
    elseif kind == 'b' then
      move_bin(w, tonumber(string.sub(name, 2)), name, -value)
    end
  end
  redis.call('DEL', bkey)
end

local function reset_window(w)
  for old = head[w] - n_buckets[w] + 1, head[w] do
    redis.call('DEL', KEYS[1 + w] .. ':' .. int(old))
  end
  redis.call('DEL', KEYS[1 + w])
  for k = 1, #agg_fields do agg[w][k] = 0 end
end

local function add_to_window(w, ts, base, n_keys)
  local key = KEYS[1 + w]
  local b = math.floor(ts / bucket_s[w])
  local n = n_buckets[w]
  if head[w] == nil then
    head[w] = b
    redis.call('HSET', key, 'h', int(b))
  elseif b > head[w] then
    if b - head[w] >= n then
      reset_window(w)
    else
      for old = head[w] - n + 1, b - n do drop_bucket(w, old) end
    end
    head[w] = b
    redis.call('HSET', key, 'h', int(b))
  elseif b <= head[w] - n then
    return  -- late for this window
  end
  local bkey = key .. ':' .. int(b)
  touched_buckets[bkey] = ttl[w]
  for i = 1, S do
    local v = tonumber(ARGV[base + 1 + i])
    if v ~= 0 then
      redis.call('HINCRBY', bkey, 's' .. i, int(v))
      set_agg(w, i, agg[w][i] + v)
    end
  end
  for k = 1, n_keys do
    local key_num = tonumber(ARGV[base + 2 + S + k])
    local bin_field = 'b' .. int(key_num)
    redis.call('HINCRBY', bkey, bin_field, 1)
    move_bin(w, key_num, bin_field, 1)
  end
end

local out = {}
local touched = false
local base = p
while base <= #ARGV do
  local event_key = ARGV[base]
  local ts = tonumber(ARGV[base + 1])
  local n_keys = tonumber(ARGV[base + 2 + S])
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
    for w = 1, W do add_to_window(w, ts, base, n_keys) end
  end
  out[#out + 1] = status
  for w = 1, W do
    for k = 1, #agg_fields do out[#out + 1] = agg[w][k] end
  end
  base = base + 3 + S + n_keys
end

if touched then
  redis.call('EXPIRE', seen, seen_ttl)
  for w = 1, W do redis.call('EXPIRE', KEYS[1 + w], ttl[w]) end
  for bkey, bucket_ttl in pairs(touched_buckets) do redis.call('EXPIRE', bkey, bucket_ttl) end
end
return out
