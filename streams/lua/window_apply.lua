-- Apply a batch of one account's events to its sliding windows, each event exactly once.
-- Mirrors detectors/windows.py (BucketedWindow) and streams/memory_store.py exactly.
--
-- Exactly once, with state that does not grow with the request rate: an event read from Kafka
-- carries its source (topic:partition) and offset, and the account keeps the highest offset
-- applied per source: a redelivery (a crash, a rebalance, a consumer-group reset) reads as a
-- duplicate at any distance. Event keys are kept only for the resend horizon, for upstream
-- re-sends (the same event produced twice, at two offsets) and for events without a source.
--
-- KEYS[1]      seen zset: event key -> event time, trimmed to the resend horizon
-- KEYS[2..1+W] one hash per window: h = head bucket, t<i> = running sum i, f<j> / q<j> =
--              filled bins / sum of squared bin counts of histogram j, b<key> = count of a bin
--              The window's buckets live beside it in hashes <window key>:<bucket> (fields
--              s<i> and b<key>); they share the account's hash tag, so one cluster slot.
-- KEYS[2+W]    offsets hash: source -> highest offset applied
-- ARGV[1] horizon seconds, ARGV[2] W, ARGV[3] S (sums), ARGV[4] B (histograms),
-- ARGV[5] TTL of the seen zset, ARGV[6] bin key stride (measure index = key // stride),
-- ARGV[7] resend horizon seconds
-- then per window: bucket_seconds, n_buckets, ttl
-- then per event: event key, source ('' if none), offset, event time, S sum values, K, then
-- K bin keys (each adds 1)
-- Returns per event: status (0 applied, 1 duplicate, 2 late), then W x (S + 2B) totals.
--
-- Everything is computed in Lua tables and written once at the end of the call (one HSET
-- per window, one HINCRBY per bucket field touched): a batch of an account's events costs a
-- few writes per window, not a few per event.
local horizon = tonumber(ARGV[1])
local W = tonumber(ARGV[2])
local S = tonumber(ARGV[3])
local B = tonumber(ARGV[4])
local seen_ttl = tonumber(ARGV[5])
local stride = tonumber(ARGV[6])
local resend = tonumber(ARGV[7])
local bucket_s, n_buckets, ttl = {}, {}, {}
local p = 8
for w = 1, W do
  bucket_s[w] = tonumber(ARGV[p]); n_buckets[w] = tonumber(ARGV[p + 1]); ttl[w] = tonumber(ARGV[p + 2])
  p = p + 3
end

local function int(v)
  return string.format('%d', v)
end

-- Every argument is checked before the first write: a value no count can be made of (past
-- 2^53, fractional, NaN) would otherwise fail a write half way through the batch, after the
-- seen set already recorded its events, and the retry would skip them as duplicates.
local MAX_EXACT = 9007199254740991
local function whole(v, low)
  return v ~= nil and v == v and v == math.floor(v) and v >= low and v <= MAX_EXACT
end
local function first_bad_argument()
  for k = 1, p - 1 do
    if not whole(tonumber(ARGV[k]), 0) then return 'header value ' .. k end
  end
  local q = p
  while q <= #ARGV do
    if ARGV[q] == '' then return 'empty event key' end
    if ARGV[q + 1] ~= '' and not whole(tonumber(ARGV[q + 2]), 0) then return 'offset' end
    local ts = tonumber(ARGV[q + 3])
    if not (ts ~= nil and ts == ts and ts >= 0 and ts <= MAX_EXACT) then return 'event time' end
    for i = 1, S do
      if not whole(tonumber(ARGV[q + 3 + i]), -MAX_EXACT) then return 'sum ' .. i end
    end
    local n_keys = tonumber(ARGV[q + 4 + S])
    if not whole(n_keys, 0) or q + 4 + S + n_keys > #ARGV then return 'bin key count' end
    for k = 1, n_keys do
      if not whole(tonumber(ARGV[q + 4 + S + k]), 0) then return 'bin key' end
    end
    q = q + 5 + S + n_keys
  end
  return nil
end
local bad = first_bad_argument()
if bad then return redis.error_reply('ERR distillwatch: bad argument: ' .. bad) end

local seen = KEYS[1]
local newest = redis.call('ZRANGE', seen, -1, -1, 'WITHSCORES')
local max_ts = nil
if #newest == 2 then max_ts = tonumber(newest[2]) end

-- Per window: running aggregates (sums, then filled, then sumsq), the head, bin counts read
-- so far (`bins`), bins changed (`dirty`), and bucket increments not yet written (`pending`).
local agg_fields = {}
for i = 1, S do agg_fields[#agg_fields + 1] = 't' .. i end
for j = 1, B do agg_fields[#agg_fields + 1] = 'f' .. j end
for j = 1, B do agg_fields[#agg_fields + 1] = 'q' .. j end
local head, agg, bins, dirty, pending, touched_window = {}, {}, {}, {}, {}, {}
local function load_window(w)
  local key = KEYS[1 + w]
  local h = redis.call('HGET', key, 'h')
  head[w] = h and tonumber(h) or nil
  agg[w] = {}
  if #agg_fields > 0 then
    local values = redis.call('HMGET', key, unpack(agg_fields))
    for k = 1, #agg_fields do agg[w][k] = tonumber(values[k]) or 0 end
  end
  bins[w], dirty[w], pending[w] = {}, {}, {}
end
for w = 1, W do load_window(w) end

local function bin_count(w, field)
  local count = bins[w][field]
  if count == nil then
    count = tonumber(redis.call('HGET', KEYS[1 + w], field)) or 0
    bins[w][field] = count
  end
  return count
end

-- Move `delta` into bin `field` of window w, keeping filled and sumsq of its histogram.
local function move_bin(w, key_num, field, delta)
  local count = bin_count(w, field)
  local left = count + delta
  local j = math.floor(key_num / stride) + 1
  local fk, qk = S + j, S + B + j
  agg[w][qk] = agg[w][qk] + left * left - count * count
  if left == 0 then agg[w][fk] = agg[w][fk] - 1 elseif count == 0 then agg[w][fk] = agg[w][fk] + 1 end
  bins[w][field] = left
  dirty[w][field] = true
end

local function drop_bucket(w, bucket)
  local bkey = KEYS[1 + w] .. ':' .. int(bucket)
  local fields = redis.call('HGETALL', bkey)
  local amounts = pending[w][bkey] or {}
  for k = 1, #fields, 2 do
    amounts[fields[k]] = (amounts[fields[k]] or 0) + tonumber(fields[k + 1])
  end
  for name, value in pairs(amounts) do
    if string.sub(name, 1, 1) == 's' then
      local i = tonumber(string.sub(name, 2))
      agg[w][i] = agg[w][i] - value
    else
      move_bin(w, tonumber(string.sub(name, 2)), name, -value)
    end
  end
  pending[w][bkey] = nil
  redis.call('DEL', bkey)
end

local function reset_window(w)
  for old = head[w] - n_buckets[w] + 1, head[w] do
    redis.call('DEL', KEYS[1 + w] .. ':' .. int(old))
  end
  redis.call('DEL', KEYS[1 + w])
  load_window(w)  -- everything reads as empty now
end

local function add_to_window(w, ts, base, n_keys)
  local b = math.floor(ts / bucket_s[w])
  local n = n_buckets[w]
  if head[w] == nil then
    head[w] = b
  elseif b > head[w] then
    if b - head[w] >= n then
      reset_window(w)
    else
      for old = head[w] - n + 1, b - n do drop_bucket(w, old) end
    end
    head[w] = b
  elseif b <= head[w] - n then
    return  -- late for this window
  end
  touched_window[w] = true
  local bkey = KEYS[1 + w] .. ':' .. int(b)
  local adds = pending[w][bkey]
  if adds == nil then adds = {}; pending[w][bkey] = adds end
  for i = 1, S do
    local v = tonumber(ARGV[base + 3 + i])
    if v ~= 0 then
      local f = 's' .. i
      adds[f] = (adds[f] or 0) + v
      agg[w][i] = agg[w][i] + v
    end
  end
  for k = 1, n_keys do
    local key_num = tonumber(ARGV[base + 4 + S + k])
    local field = 'b' .. int(key_num)
    adds[field] = (adds[field] or 0) + 1
    move_bin(w, key_num, field, 1)
  end
end

local out = {}
local touched = false
local base = p
local offsets_key = KEYS[2 + W]
local applied_offset = {}  -- source -> highest offset applied, as read or set in this call
local function offset_of(source)
  local known = applied_offset[source]
  if known == nil then
    known = tonumber(redis.call('HGET', offsets_key, source)) or -1
    applied_offset[source] = known
  end
  return known
end
while base <= #ARGV do
  local event_key = ARGV[base]
  local source = ARGV[base + 1]
  local offset = tonumber(ARGV[base + 2])
  local ts = tonumber(ARGV[base + 3])
  local n_keys = tonumber(ARGV[base + 4 + S])
  local status = 0
  if max_ts ~= nil and ts < max_ts - horizon then
    status = 2
  elseif source ~= '' and offset <= offset_of(source) then
    status = 1  -- redelivered from Kafka
  elseif redis.call('ZSCORE', seen, event_key) then
    status = 1  -- re-sent upstream within the resend horizon
    -- Its offset is handled too: a redelivery of it, once the key is forgotten, is one.
    if source ~= '' then applied_offset[source] = offset; touched = true end
  else
    redis.call('ZADD', seen, ARGV[base + 3], event_key)
    if max_ts == nil or ts > max_ts then
      max_ts = ts
      -- %.17g keeps the cutoff exact: Lua's default number format rounds to 14 digits.
      redis.call('ZREMRANGEBYSCORE', seen, '-inf', '(' .. string.format('%.17g', max_ts - resend))
    end
    if source ~= '' then applied_offset[source] = offset end
    touched = true
    for w = 1, W do add_to_window(w, ts, base, n_keys) end
  end
  out[#out + 1] = status
  for w = 1, W do
    for k = 1, #agg_fields do out[#out + 1] = agg[w][k] end
  end
  base = base + 5 + S + n_keys
end

-- Lua's unpack takes a few thousand values at most: long field lists go out in chunks.
local CHUNK = 1000
local function in_chunks(command, key, items)
  for first = 1, #items, CHUNK do
    redis.call(command, key, unpack(items, first, math.min(#items, first + CHUNK - 1)))
  end
end

-- Write what changed, once.
for w = 1, W do
  if touched_window[w] then
    local key = KEYS[1 + w]
    local fields = {'h', int(head[w])}
    for k = 1, #agg_fields do
      fields[#fields + 1] = agg_fields[k]; fields[#fields + 1] = int(agg[w][k])
    end
    local emptied = {}
    for field in pairs(dirty[w]) do
      local count = bins[w][field]
      if count == 0 then
        emptied[#emptied + 1] = field
      else
        fields[#fields + 1] = field; fields[#fields + 1] = int(count)
      end
    end
    in_chunks('HSET', key, fields)  -- pairs stay whole: CHUNK is even
    in_chunks('HDEL', key, emptied)
    for bkey, adds in pairs(pending[w]) do
      for field, v in pairs(adds) do redis.call('HINCRBY', bkey, field, int(v)) end
    end
    -- Every bucket still inside the window lives as long as the window's hash: a bucket
    -- written once must still be there to be subtracted when it falls out, however late.
    for bucket = head[w] - n_buckets[w] + 1, head[w] do
      redis.call('EXPIRE', key .. ':' .. int(bucket), ttl[w])
    end
  end
end

if touched then
  local written = {}
  for source, offset in pairs(applied_offset) do
    if offset >= 0 then written[#written + 1] = source; written[#written + 1] = int(offset) end
  end
  if #written > 0 then
    redis.call('HSET', offsets_key, unpack(written))
    redis.call('EXPIRE', offsets_key, seen_ttl)
  end
  redis.call('EXPIRE', seen, seen_ttl)
  for w = 1, W do redis.call('EXPIRE', KEYS[1 + w], ttl[w]) end
end
return out
