-- Apply a batch of one account's events to its sliding windows, each event exactly once.
-- Mirrors detectors/windows.py (BucketedWindow) and streams/memory_store.py exactly.
--
-- An account's whole state is one string: a MessagePack document (streams/account_state.py
-- reads it in Python). One key per account instead of one per window and bucket: a typical
-- account costs a few hundred bytes instead of tens of kilobytes of per-key overhead and
-- hash encodings, and a call costs two commands (GET, SET) whatever the batch holds.
--
--   m  newest event time applied (the account's clock; events older than m - horizon are late)
--   s  event keys applied within the resend horizon: a binary min-heap on event time, stored
--      flat as ts1, key1, ts2, key2, ... (trimmed as m advances, exactly as memory_store.py)
--   o  source ("topic:partition") -> highest offset applied
--   w  per window: {head bucket, totals, buckets}; totals = S sums, B filled, B sumsq;
--      buckets = bucket number -> {{sum index -> value}, {bin key -> count}}, non-zero only.
--      A window's bin counts are not stored: they are the buckets' sums, read when needed.
--
-- Exactly once, with state that does not grow with the request rate: an event read from Kafka
-- carries its source and offset, and a redelivery (a crash, a rebalance, a consumer-group
-- reset) reads as a duplicate at any distance. Event keys are kept only for the resend
-- horizon, for upstream re-sends (the same event produced twice, at two offsets) and for
-- events without a source.
--
-- A call is undone when its batch comes again before the worker reported it judged: the rules
-- judge each event on the totals right after it, and a batch interrupted between this write
-- and the alert ledger (a worker killed, Redis gone a moment) would otherwise come back as
-- duplicates, its alerts moved to later events or lost. So a call that applies events keeps
-- the state it started from under KEYS[2] ("pending judgement": first applied event's key,
-- source, offset, and the previous document), and the worker deletes it once what the batch
-- produced (alerts, link records) was delivered (RedisWindowStore.judged). A later call that
-- holds that same first event is its redelivery: it starts again from the kept state, so
-- every event is applied and judged exactly as the first time. A kept state costs a copy of the previous string, no
-- encoding, and lives from this call to the delivery (or its TTL, after a crash).
--
-- KEYS[1] the account's state string, KEYS[2] its pending judgement
-- ARGV[1] horizon seconds, ARGV[2] W, ARGV[3] S (sums), ARGV[4] B (histograms),
-- ARGV[5] TTL of the state, ARGV[6] bin key stride (measure index = key // stride),
-- ARGV[7] resend horizon seconds, then per window: bucket_seconds, n_buckets,
-- then last the events, one MessagePack array: per event {event key, source ('' if none),
-- offset, event time, {S sum values}, {bin keys, each adds 1}}. One packed argument instead
-- of ~45 per event: building and parsing the command costs the worker far less.
-- Returns one MessagePack array: per event, status (0 applied, 1 duplicate, 2 late), then
-- W x (S + 2B) totals.
local horizon = tonumber(ARGV[1])
local W = tonumber(ARGV[2])
local S = tonumber(ARGV[3])
local B = tonumber(ARGV[4])
local state_ttl = tonumber(ARGV[5])
local stride = tonumber(ARGV[6])
local resend = tonumber(ARGV[7])
local bucket_s, n_buckets = {}, {}
local p = 8
for w = 1, W do
  bucket_s[w] = tonumber(ARGV[p]); n_buckets[w] = tonumber(ARGV[p + 1])
  p = p + 2
end

-- Every argument is checked before any work: a value no count can be made of (past 2^53,
-- fractional, NaN) would otherwise fail half way through the batch.
local MAX_EXACT = 9007199254740991
local function whole(v, low)
  return type(v) == 'number' and v == v and v == math.floor(v) and v >= low and v <= MAX_EXACT
end
local function first_bad_argument()
  for k = 1, p - 1 do
    if not whole(tonumber(ARGV[k]), 0) then return 'header value ' .. k, nil end
  end
  if #ARGV ~= p then return 'argument count', nil end
  local ok, events = pcall(cmsgpack.unpack, ARGV[p])
  if not ok or type(events) ~= 'table' then return 'events are not a MessagePack array', nil end
  for n = 1, #events do
    local e = events[n]
    if type(e) ~= 'table' then return 'event ' .. n, nil end
    if type(e[1]) ~= 'string' or e[1] == '' then return 'empty event key', nil end
    if type(e[2]) ~= 'string' then return 'source', nil end
    if e[2] ~= '' and not whole(e[3], 0) then return 'offset', nil end
    local ts = e[4]
    if not (type(ts) == 'number' and ts == ts and ts >= 0 and ts <= MAX_EXACT) then
      return 'event time', nil
    end
    if type(e[5]) ~= 'table' or #e[5] ~= S then return 'sum count', nil end
    for i = 1, S do
      if not whole(e[5][i], -MAX_EXACT) then return 'sum ' .. i, nil end
    end
    if type(e[6]) ~= 'table' then return 'bin keys', nil end
    for k = 1, #e[6] do
      if not whole(e[6][k], 0) then return 'bin key', nil end
    end
  end
  return nil, events
end
local bad, events = first_bad_argument()
if bad then return redis.error_reply('ERR distillwatch: bad argument: ' .. bad) end

local n_totals = S + 2 * B
local raw = redis.call('GET', KEYS[1])
local restored = false
local pending = redis.call('GET', KEYS[2])
if pending then
  local ok, undo = pcall(cmsgpack.unpack, pending)
  if not ok or type(undo) ~= 'table' or type(undo[1]) ~= 'string' then
    return redis.error_reply('ERR distillwatch: unreadable pending judgement at ' .. KEYS[2])
  end
  for n = 1, #events do
    local e = events[n]
    if e[1] == undo[1] and e[2] == undo[2] and (e[2] == '' or e[3] == undo[3]) then
      raw = undo[4] or nil  -- false: the account had no state before that call
      restored = true
      break
    end
  end
end
local previous = raw
local first_applied = nil
local state
if raw then
  local ok, decoded = pcall(cmsgpack.unpack, raw)
  if not ok or type(decoded) ~= 'table' or type(decoded.w) ~= 'table' or #decoded.w ~= W then
    return redis.error_reply('ERR distillwatch: unreadable account state at ' .. KEYS[1])
  end
  state = decoded
else
  state = {s = {}, o = {}, w = {}}
end
local offsets = state.o
local max_ts = state.m

-- The seen heap, unpacked into parallel arrays, and a set of its keys.
local heap_ts, heap_key, seen = {}, {}, {}
local heap_n = 0
do
  local flat = state.s
  for k = 1, #flat, 2 do
    heap_n = heap_n + 1
    heap_ts[heap_n] = flat[k]; heap_key[heap_n] = flat[k + 1]
    seen[flat[k + 1]] = true
  end
end
local function heap_push(ts, key)
  heap_n = heap_n + 1
  local i = heap_n
  while i > 1 do
    local parent = math.floor(i / 2)
    if heap_ts[parent] <= ts then break end
    heap_ts[i] = heap_ts[parent]; heap_key[i] = heap_key[parent]
    i = parent
  end
  heap_ts[i] = ts; heap_key[i] = key
end
local function heap_pop()
  local key = heap_key[1]
  local last_ts, last_key = heap_ts[heap_n], heap_key[heap_n]
  heap_ts[heap_n] = nil; heap_key[heap_n] = nil
  heap_n = heap_n - 1
  if heap_n > 0 then
    local i = 1
    while true do
      local child = 2 * i
      if child > heap_n then break end
      if child < heap_n and heap_ts[child + 1] < heap_ts[child] then child = child + 1 end
      if heap_ts[child] >= last_ts then break end
      heap_ts[i] = heap_ts[child]; heap_key[i] = heap_key[child]
      i = child
    end
    heap_ts[i] = last_ts; heap_key[i] = last_key
  end
  return key
end

-- Per window: head, totals, buckets, and the window's bin counts read so far (`bins`).
local head, totals, buckets, bins = {}, {}, {}, {}
local function fresh_window(w, new_head)
  head[w] = new_head
  totals[w] = {}
  for k = 1, n_totals do totals[w][k] = 0 end
  buckets[w] = {}
  bins[w] = {}
end
for w = 1, W do
  local stored = state.w[w]
  if stored == nil or not stored[1] then
    fresh_window(w, nil)
  else
    head[w], totals[w], buckets[w], bins[w] = stored[1], stored[2], stored[3], {}
  end
end

-- A window's count of one bin: the sum over its live buckets, read once per call.
local function bin_count(w, key)
  local count = bins[w][key]
  if count == nil then
    count = 0
    for _, bucket in pairs(buckets[w]) do count = count + (bucket[2][key] or 0) end
    bins[w][key] = count
  end
  return count
end

-- Move `delta` into bin `key` of window w, keeping filled and sumsq of its histogram.
local function move_bin(w, key, delta)
  local count = bin_count(w, key)
  local left = count + delta
  local j = math.floor(key / stride) + 1
  local t = totals[w]
  t[S + B + j] = t[S + B + j] + left * left - count * count
  if left == 0 then t[S + j] = t[S + j] - 1 elseif count == 0 then t[S + j] = t[S + j] + 1 end
  bins[w][key] = left
end

local function drop_bucket(w, number)
  local bucket = buckets[w][number]
  if bucket == nil then return end
  local t = totals[w]
  for i, value in pairs(bucket[1]) do t[i] = t[i] - value end
  for key, count in pairs(bucket[2]) do move_bin(w, key, -count) end
  buckets[w][number] = nil
end

local function add_to_window(w, ts, sums, keys)
  local b = math.floor(ts / bucket_s[w])
  local n = n_buckets[w]
  if head[w] == nil then
    head[w] = b
  elseif b > head[w] then
    if b - head[w] >= n then
      fresh_window(w, b)
    else
      for old = head[w] - n + 1, b - n do drop_bucket(w, old) end
      head[w] = b
    end
  elseif b <= head[w] - n then
    return  -- late for this window
  end
  local bucket = buckets[w][b]
  if bucket == nil then bucket = {{}, {}}; buckets[w][b] = bucket end
  local bucket_sums, bucket_bins, t = bucket[1], bucket[2], totals[w]
  for i = 1, S do
    local v = sums[i]
    if v ~= 0 then
      bucket_sums[i] = (bucket_sums[i] or 0) + v
      t[i] = t[i] + v
    end
  end
  for k = 1, #keys do
    local key = keys[k]
    move_bin(w, key, 1)  -- reads the window's count before this bucket holds the event
    bucket_bins[key] = (bucket_bins[key] or 0) + 1
  end
end

local out = {}
local touched = false
for n = 1, #events do
  local event_key, source, offset, ts = events[n][1], events[n][2], events[n][3], events[n][4]
  local status = 0
  if max_ts ~= nil and ts < max_ts - horizon then
    status = 2
  elseif source ~= '' and offset <= (offsets[source] or -1) then
    status = 1  -- redelivered from Kafka
  elseif seen[event_key] then
    status = 1  -- re-sent upstream within the resend horizon
    -- Its offset is handled too: a redelivery of it, once the key is forgotten, is one.
    if source ~= '' then offsets[source] = offset; touched = true end
  else
    seen[event_key] = true
    heap_push(ts, event_key)
    if max_ts == nil or ts > max_ts then
      max_ts = ts
      local cutoff = max_ts - resend
      while heap_n > 0 and heap_ts[1] < cutoff do seen[heap_pop()] = nil end
    end
    if source ~= '' then offsets[source] = offset end
    touched = true
    if first_applied == nil then first_applied = events[n] end
    for w = 1, W do add_to_window(w, ts, events[n][5], events[n][6]) end
  end
  out[#out + 1] = status
  for w = 1, W do
    local t = totals[w]
    for k = 1, n_totals do out[#out + 1] = t[k] end
  end
end

if touched or restored then
  local flat = {}
  for i = 1, heap_n do flat[2 * i - 1] = heap_ts[i]; flat[2 * i] = heap_key[i] end
  local windows = {}
  for w = 1, W do windows[w] = {head[w] or false, totals[w], buckets[w]} end
  redis.call('SET', KEYS[1], cmsgpack.pack({m = max_ts, s = flat, o = offsets, w = windows}),
    'EX', state_ttl)
end
if first_applied ~= nil then
  redis.call('SET', KEYS[2],
    cmsgpack.pack({first_applied[1], first_applied[2], first_applied[3], previous or false}),
    'EX', state_ttl)
end
return cmsgpack.pack(out)
