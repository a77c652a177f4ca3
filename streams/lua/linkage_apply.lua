-- Cross-account linkage in Redis: detectors/linkage.py (LinkageGraph) exactly, for a batch of
-- link records. The two must give identical reports for the same records
-- (tests/conformance/test_linkage_store.py); every order here mirrors one there.
--
-- Keys (one hash tag: one slot, so one script sees the whole graph atomically):
--   KEYS[1] hash  account -> parent account (union-find; a root is its own parent)
--   KEYS[2] hash  account -> MessagePack {values in first-use order ("class\tvalue"),
--                 {source -> highest offset applied}}
--   KEYS[3] hash  "classA\tvalueA\nclassB\tvalueB" (classes in LINK_CLASSES order) -> the
--                 account that represents the pair: every account that used both joins it
--   KEYS[4] hash  root account -> MessagePack cluster {id, members, requests, signalled,
--                 output tokens, first seen, last seen, members reported, reported at}
--   KEYS[5] prefix of a cluster's member set (<prefix>m:<root>) and its shared-value counts
--           (<prefix>v:<root>, a sorted set "class\tvalue" -> members), kept for clusters of
--           two or more only: a lone account's members and values are itself; and of every
--           cluster's minutes with an extraction-shaped request (<prefix>t:<root>, a set).
--   (KEYS[5] is a prefix: these keys share the tag, so they are in the slot of KEYS[1-4].)
--   KEYS[1-5] are those of this window of event time; KEYS[6] and KEYS[7] the parent and
--   cluster hashes of the window before (read only: a cluster's first report here takes the
--   name of the reported cluster its members were in there), KEYS[8] the newest window seen
--   (events of windows older than the one before it are not linked).
-- ARGV[1] min members, ARGV[2] min signal share, ARGV[3] growth, ARGV[4] refresh seconds,
-- ARGV[5] max values per account, ARGV[6] TTL seconds of every key (refreshed on write),
-- ARGV[9] this window's number (event time // window seconds),
-- ARGV[7] the link classes in order (MessagePack array),
-- ARGV[8] the records (MessagePack array): {account, source ('' if none), events},
--         event = {offset, ts, output tokens, prior requests, prior tokens, values or false};
--         an event at or below its account's highest applied offset from its source is a
--         redelivery, skipped (the same offset may come back in another record);
--         values = {{class, value}, ...} on a request with an extraction signal.
-- Returns a MessagePack array of reports: {cluster id, members, requests, signalled,
-- output tokens, {{"class\tvalue", members}, ...} shared by two or more, first seen,
-- last seen, at, active minutes}.
local parent_key, account_key, pair_key, cluster_key, set_prefix =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local previous_parent, previous_clusters, newest_key = KEYS[6], KEYS[7], KEYS[8]
local min_members = tonumber(ARGV[1])
local min_share = tonumber(ARGV[2])
local growth = tonumber(ARGV[3])
local refresh = tonumber(ARGV[4])
local max_values = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local ok_classes, classes = pcall(cmsgpack.unpack, ARGV[7])
local ok_records, records = pcall(cmsgpack.unpack, ARGV[8])
if not (min_members and min_share and growth and refresh and max_values and ttl)
  or not ok_classes or type(classes) ~= 'table' or not ok_records or type(records) ~= 'table'
then
  return redis.error_reply('ERR distillwatch: bad linkage argument')
end
local window = tonumber(ARGV[9])
if not window then return redis.error_reply('ERR distillwatch: bad linkage argument') end
local rank = {}
for i, cls in ipairs(classes) do rank[cls] = i end
for _, record in ipairs(records) do
  if type(record) ~= 'table' or type(record[1]) ~= 'string' or type(record[2]) ~= 'string'
    or type(record[3]) ~= 'table' then
    return redis.error_reply('ERR distillwatch: bad link record')
  end
  for _, e in ipairs(record[3]) do
    if type(e) ~= 'table' or type(e[1]) ~= 'number' or type(e[2]) ~= 'number'
      or type(e[3]) ~= 'number' or type(e[4]) ~= 'number' or type(e[5]) ~= 'number' then
      return redis.error_reply('ERR distillwatch: bad link event')
    end
    if e[6] then
      for _, v in ipairs(e[6]) do
        if type(v) ~= 'table' or rank[v[1]] == nil or type(v[2]) ~= 'string' then
          return redis.error_reply('ERR distillwatch: bad link value')
        end
      end
    end
  end
end

local newest = tonumber(redis.call('GET', newest_key) or '')
if newest and window < newest - 1 then
  return cmsgpack.pack({})  -- older than the graphs kept: not linked
end
if not newest or window > newest then redis.call('SET', newest_key, window) end
redis.call('EXPIRE', newest_key, ttl)

-- Names compared byte by byte, as Python compares these ASCII strings (Lua's `<` follows the
-- server's locale).
local function less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- detectors/linkage.py reported_name_of, on the previous window's graph.
local function reported_name_of(members)
  local best_members, best_name = nil, nil
  for _, m in ipairs(members) do
    local r, p = m, redis.call('HGET', previous_parent, m)
    if p then
      while p ~= r do
        r = p
        p = redis.call('HGET', previous_parent, r)
      end
      local raw = redis.call('HGET', previous_clusters, r)
      if raw then
        local old = cmsgpack.unpack(raw)
        if old[8] > 0 and (best_members == nil or old[8] > best_members
          or (old[8] == best_members and less(old[1], best_name))) then
          best_members, best_name = old[8], old[1]
        end
      end
    end
  end
  return best_name
end

-- Caches: read once per call, written once at its end.
local parents, parents_dirty = {}, {}
local accounts, accounts_dirty = {}, {}
local clusters, clusters_dirty, clusters_gone = {}, {}, {}

local function get_parent(a)
  local p = parents[a]
  if p == nil then
    p = redis.call('HGET', parent_key, a) or false
    parents[a] = p
  end
  return p
end
local function set_parent(a, p)
  parents[a] = p
  parents_dirty[a] = true
end
local function root(a)
  while true do
    local p = get_parent(a)
    if p == a then return a end
    local gp = get_parent(p)
    set_parent(a, gp)
    a = gp
  end
end
local function get_account(a)
  local acc = accounts[a]
  if acc == nil then
    local raw = redis.call('HGET', account_key, a)
    if raw then
      local doc = cmsgpack.unpack(raw)
      acc = {values = doc[1], offsets = doc[2], has = {}}
      for _, v in ipairs(acc.values) do acc.has[v] = true end
    else
      acc = false
    end
    accounts[a] = acc
  end
  return acc
end
local function get_cluster(r)
  local c = clusters[r]
  if c == nil then
    local raw = redis.call('HGET', cluster_key, r)
    c = raw and cmsgpack.unpack(raw) or false
    clusters[r] = c
  end
  return c
end
-- c = {id, n, requests, signalled, tokens, first, last, reported_members, reported_at}

local function members_of(r, c)
  if c[2] == 1 then return {r} end
  return redis.call('SMEMBERS', set_prefix .. 'm:' .. r)
end
local function values_of(r, c)  -- flat: value, count, value, count, ...
  if c[2] == 1 then
    local flat = {}
    for _, v in ipairs(get_account(r).values) do
      flat[#flat + 1] = v; flat[#flat + 1] = 1
    end
    return flat
  end
  return redis.call('ZRANGE', set_prefix .. 'v:' .. r, 0, -1, 'WITHSCORES')
end

local function union(a, b)
  local ra, rb = root(a), root(b)
  if ra == rb then return end
  local big, small = get_cluster(ra), get_cluster(rb)
  if big[2] < small[2] then
    ra, rb, big, small = rb, ra, small, big
  end
  set_parent(rb, ra)
  local mkey, vkey = set_prefix .. 'm:' .. ra, set_prefix .. 'v:' .. ra
  if big[2] == 1 then  -- the set and counts of a lone account become explicit
    redis.call('SADD', mkey, ra)
    local own = values_of(ra, big)
    for k = 1, #own, 2 do redis.call('ZINCRBY', vkey, own[k + 1], own[k]) end
  end
  for _, m in ipairs(members_of(rb, small)) do redis.call('SADD', mkey, m) end
  local theirs = values_of(rb, small)
  for k = 1, #theirs, 2 do redis.call('ZINCRBY', vkey, theirs[k + 1], theirs[k]) end
  if small[2] > 1 then
    redis.call('DEL', set_prefix .. 'm:' .. rb, set_prefix .. 'v:' .. rb)
  end
  local minutes = redis.call('SMEMBERS', set_prefix .. 't:' .. rb)
  for _, minute in ipairs(minutes) do redis.call('SADD', set_prefix .. 't:' .. ra, minute) end
  redis.call('DEL', set_prefix .. 't:' .. rb)
  big[2] = big[2] + small[2]
  big[3] = big[3] + small[3]
  big[4] = big[4] + small[4]
  big[5] = big[5] + small[5]
  if small[6] < big[6] then big[6] = small[6] end
  if small[7] > big[7] then big[7] = small[7] end
  -- The older cluster's name survives: an alert already sent keeps its subject.
  if small[8] > big[8] then
    big[1], big[8], big[9] = small[1], small[8], small[9]
  end
  clusters_dirty[ra] = true
  clusters[rb] = false
  clusters_dirty[rb] = nil
  clusters_gone[rb] = true
end

local function due(c)
  local size = c[2]
  if size < min_members then return false end
  if c[4] < min_share * c[3] then return false end
  if c[8] == 0 then return true end
  return size >= c[8] * growth or c[7] - c[9] >= refresh
end

local reports = {}
for _, record in ipairs(records) do
  local a, source = record[1], record[2]
  for _, e in ipairs(record[3]) do
    local offset, ts, tokens, values = e[1], e[2], e[3], e[6]
    local acc = get_account(a)
    local redelivered = acc and source ~= '' and offset <= (acc.offsets[source] or -1)
    if not redelivered and (acc or values) then
      if not acc then
        acc = {values = {}, offsets = {}, has = {}}
        accounts[a] = acc
        set_parent(a, a)
        clusters[a] = {'c' .. string.sub(redis.sha1hex(a), 1, 12), 1, e[4], 0, e[5], ts, ts, 0, 0}
        clusters_dirty[a] = true
        clusters_gone[a] = nil
      end
      accounts_dirty[a] = true
      if values then
        local new, seen_now = {}, {}
        local room = max_values - #acc.values
        for _, v in ipairs(values) do
          local name = v[1] .. '\t' .. v[2]
          if #new < room and not acc.has[name] and not seen_now[name] then
            seen_now[name] = true
            new[#new + 1] = {v[1], name}
          end
        end
        local known = {}
        for _, name in ipairs(acc.values) do
          known[#known + 1] = {string.match(name, '^([^\t]*)'), name}
        end
        for _, v in ipairs(new) do known[#known + 1] = v end
        for _, v in ipairs(new) do
          for _, other in ipairs(known) do
            if other[1] ~= v[1] then
              local first, second = v, other
              if rank[other[1]] < rank[v[1]] then first, second = other, v end
              local key = first[2] .. '\n' .. second[2]
              local rep = redis.call('HGET', pair_key, key)
              if not rep then
                redis.call('HSET', pair_key, key, a)
              elseif rep ~= a then
                union(a, rep)
              end
            end
          end
        end
        for _, v in ipairs(new) do
          acc.values[#acc.values + 1] = v[2]
          acc.has[v[2]] = true
        end
        local r = root(a)
        if get_cluster(r)[2] > 1 then
          for _, v in ipairs(new) do
            redis.call('ZINCRBY', set_prefix .. 'v:' .. r, 1, v[2])
          end
        end
        redis.call('SADD', set_prefix .. 't:' .. r, math.floor(ts / 60))
      end
      local r = root(a)
      local c = get_cluster(r)
      c[3] = c[3] + 1
      if values then c[4] = c[4] + 1 end
      c[5] = c[5] + tokens
      if ts > c[7] then c[7] = ts end
      clusters_dirty[r] = true
      if values and due(c) then
        local members = members_of(r, c)
        if c[8] == 0 then c[1] = reported_name_of(members) or c[1] end
        c[8], c[9] = c[2], c[7]
        local shared = {}
        if c[2] > 1 then
          local flat = redis.call('ZRANGE', set_prefix .. 'v:' .. r, 2, '+inf', 'BYSCORE',
            'WITHSCORES')
          for k = 1, #flat, 2 do shared[#shared + 1] = {flat[k], tonumber(flat[k + 1])} end
        end
        reports[#reports + 1] = {c[1], members, c[3], c[4], c[5], shared, c[6], c[7], ts,
          redis.call('SCARD', set_prefix .. 't:' .. r)}
      end
      if source ~= '' then acc.offsets[source] = offset end
    end
  end
end

for a in pairs(parents_dirty) do redis.call('HSET', parent_key, a, parents[a]) end
for a in pairs(accounts_dirty) do
  local acc = accounts[a]
  redis.call('HSET', account_key, a, cmsgpack.pack({acc.values, acc.offsets}))
end
for r in pairs(clusters_gone) do redis.call('HDEL', cluster_key, r) end
for r in pairs(clusters_dirty) do redis.call('HSET', cluster_key, r, cmsgpack.pack(clusters[r])) end
for _, key in ipairs({parent_key, account_key, pair_key, cluster_key}) do
  redis.call('EXPIRE', key, ttl)
end
for r in pairs(clusters_dirty) do
  if clusters[r][2] > 1 then
    redis.call('EXPIRE', set_prefix .. 'm:' .. r, ttl)
    redis.call('EXPIRE', set_prefix .. 'v:' .. r, ttl)
  end
  redis.call('EXPIRE', set_prefix .. 't:' .. r, ttl)
end
return cmsgpack.pack(reports)
