"""The Lua scripts of the Redis store (redis_store.py): each is one atomic change.

Kept apart from the Python that calls them so each reads as a whole. Scripts that
change state start with _DEADLINE: the last argument is the deadline in Redis's
clock past which the calling node has already reported the request as failed.
"""

_NOW = """
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# Shared first lines of every script that changes state: refuse when late.
_DEADLINE = (
    _NOW
    + """
if now_ms > tonumber(ARGV[#ARGV]) then return {-2} end
"""
)

# Names and people, used by every script that claims a name. Arguments are keys:
# people (hash), names (hash), leases (sorted set).
_NAMES = """
local function release(names, holder, keys)
  for _, key in ipairs(keys) do
    if redis.call('HGET', names, key) == holder then redis.call('HDEL', names, key) end
  end
end

-- Does `holder` still hold its names? One away past its lease is dropped here.
local function holds(people, names, leases, holder, now_ms)
  local raw = redis.call('HGET', people, holder)
  if not raw then return false end
  local person = cjson.decode(raw)
  if #person.sids > 0 then return true end
  if tonumber(redis.call('ZSCORE', leases, holder) or '0') > now_ms then return true end
  release(names, holder, person.keys)
  redis.call('HDEL', people, holder)
  redis.call('ZREM', leases, holder)
  return false
end

-- Is any of `keys` held by someone other than `holder`?
local function taken(people, names, leases, keys, holder, now_ms)
  for _, key in ipairs(keys) do
    local other = redis.call('HGET', names, key)
    if other and other ~= holder and holds(people, names, leases, other, now_ms) then
      return true
    end
  end
  return false
end

local function claim(names, holder, keys)
  for _, key in ipairs(keys) do redis.call('HSET', names, key, holder) end
end
"""

# KEYS: members epoch seq history people names leases active node_members
# ARGV: sid room entry new_epoch username trip keys_json node deadline
JOIN = (
    _DEADLINE
    + _NAMES
    + """
local function present()
  return tonumber(redis.call('ZSCORE', KEYS[8], ARGV[2]) or '0')
end
-- A few leases that ran out, so that a busy room never accumulates them.
local ran_out = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', now_ms, 'LIMIT', 0, 8)
for _, holder in ipairs(ran_out) do holds(KEYS[5], KEYS[6], KEYS[7], holder, now_ms) end
local known = redis.call('HGET', KEYS[1], ARGV[1])
if known then
  local holder = cjson.decode(known)['holder']
  local person = cjson.decode(redis.call('HGET', KEYS[5], holder))
  return {0, person.username, person.trip, present(), 0}
end
local holder
if ARGV[6] ~= '' then holder = 'trip:' .. ARGV[6] else holder = 'sid:' .. ARGV[1] end
local raw = redis.call('HGET', KEYS[5], holder)
local person = nil
if raw then person = cjson.decode(raw) end
local arrived = 1
if person and #person.sids > 0 then
  -- Another tab of someone already here: the same person, under their name.
  table.insert(person.sids, ARGV[1])
  arrived = 0
else
  local keys = cjson.decode(ARGV[7])
  if taken(KEYS[5], KEYS[6], KEYS[7], keys, holder, now_ms) then return {-3} end
  if person then release(KEYS[6], holder, person.keys) end
  person = {username = ARGV[5], trip = ARGV[6], keys = keys, sids = {ARGV[1]}}
  claim(KEYS[6], holder, keys)
  redis.call('ZREM', KEYS[7], holder)
  redis.call('ZINCRBY', KEYS[8], 1, ARGV[2])
end
redis.call('HSET', KEYS[5], holder, cjson.encode(person))
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({holder = holder, node = ARGV[8]}))
redis.call('SADD', KEYS[9], ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'NX')
for i = 1, 7 do redis.call('PERSIST', KEYS[i]) end
return {1, person.username, person.trip, present(), arrived}
"""
)

# KEYS: members epoch seq history people names leases active node_members
# ARGV: sid room entry room_ttl lease_seconds
LEAVE = (
    _NOW
    + _NAMES
    + """
local member = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[9], ARGV[3])
if not member then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
local holder = cjson.decode(member)['holder']
local raw = redis.call('HGET', KEYS[5], holder)
local username, trip, gone = '', '', 1
if raw then
  local person = cjson.decode(raw)
  username, trip = person.username, person.trip
  for i, sid in ipairs(person.sids) do
    if sid == ARGV[1] then table.remove(person.sids, i) break end
  end
  if #person.sids > 0 then
    gone = 0
    redis.call('HSET', KEYS[5], holder, cjson.encode(person))
  elseif trip ~= '' and tonumber(ARGV[5]) > 0 then
    -- Away: their name waits for them.
    redis.call('HSET', KEYS[5], holder, cjson.encode(person))
    redis.call('ZADD', KEYS[7], now_ms + math.floor(tonumber(ARGV[5]) * 1000), holder)
  else
    release(KEYS[6], holder, person.keys)
    redis.call('HDEL', KEYS[5], holder)
  end
end
if gone == 1 and tonumber(redis.call('ZINCRBY', KEYS[8], -1, ARGV[2])) <= 0 then
  redis.call('ZREM', KEYS[8], ARGV[2])
end
local count = tonumber(redis.call('ZSCORE', KEYS[8], ARGV[2]) or '0')
if redis.call('HLEN', KEYS[1]) == 0 then
  local ttl = tonumber(ARGV[4])
  for i = 2, 7 do
    if ttl > 0 then
      redis.call('EXPIRE', KEYS[i], ttl)
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
return {username, trip, count, gone}
"""
)

# KEYS: members people names leases    ARGV: sid username keys_json deadline
RENAME = (
    _DEADLINE
    + _NAMES
    + """
local member = redis.call('HGET', KEYS[1], ARGV[1])
if not member then return {-1} end
local holder = cjson.decode(member)['holder']
local person = cjson.decode(redis.call('HGET', KEYS[2], holder))
local keys = cjson.decode(ARGV[3])
if taken(KEYS[2], KEYS[3], KEYS[4], keys, holder, now_ms) then
  return {-3, '', person.trip}
end
local old = person.username
release(KEYS[3], holder, person.keys)
claim(KEYS[3], holder, keys)
person.username, person.keys = ARGV[2], keys
redis.call('HSET', KEYS[2], holder, cjson.encode(person))
return {1, old, person.trip}
"""
)

# KEYS: people names leases    ARGV: holder candidates_json (a list of key lists)
# The index (from 1) of the first candidate name nobody else holds, or 0.
FIRST_FREE = (
    _NOW
    + _NAMES
    + """
for index, keys in ipairs(cjson.decode(ARGV[2])) do
  if not taken(KEYS[1], KEYS[2], KEYS[3], keys, ARGV[1], now_ms) then return index end
end
return 0
"""
)

# KEYS: members people    ARGV: sid
MEMBER = """
local member = redis.call('HGET', KEYS[1], ARGV[1])
if not member then return false end
local person = cjson.decode(redis.call('HGET', KEYS[2], cjson.decode(member)['holder']))
return {person.username, person.trip}
"""

# Reading a room's history for a message: used by replies and by changes.
# Mirrors state/changes.py (find_message, snippet, tombstone and apply_change).
# The history list may hold up to an eighth more than the history size (store_entry
# trims it once it outgrows that, not on every message: each redis.call costs
# Redis about as much as a whole EVALSHA of a script that calls nothing), so it is
# read through `recent`, and written by index from its end.
_HISTORY = """
-- The room's history as kept: the last `size` entries of the list.
local function recent(history_key, size)
  return redis.call('LRANGE', history_key, -size, -1)
end

-- Replaces entry `i` of `history` (as `recent` returned it) in the list.
local function set_entry(history_key, history, i, encoded)
  redis.call('LSET', history_key, i - 1 - #history, encoded)
end

local function find_message(history, id)
  for i = #history, 1, -1 do
    local entry = cjson.decode(history[i])
    if entry['event'] == nil and entry['id'] == id then
      if entry['deleted'] then return nil end
      return i, entry
    end
  end
  return nil
end

-- The first `limit` characters (UTF-8) of `text`, and an ellipsis if there is more.
local function snippet(text, limit)
  local i, count = 1, 0
  while i <= #text and count < limit do
    local byte = text:byte(i)
    if byte < 0x80 then i = i + 1
    elseif byte < 0xE0 then i = i + 2
    elseif byte < 0xF0 then i = i + 3
    else i = i + 4 end
    count = count + 1
  end
  if i <= #text then return text:sub(1, i - 1) .. '\\226\\128\\166' end
  return text
end

-- The sender's person (KEYS: members seq .. cid people; ARGV[1] sid, ARGV[5] has
-- a client_id), the entry a retry of theirs already made, and the room's last seq
-- (read with the retry key in one call); nil when not a member.
local function sender()
  local member = redis.call('HGET', KEYS[1], ARGV[1])
  if not member then return nil end
  local last_seq
  if ARGV[5] == '1' then
    local found = redis.call('MGET', KEYS[4], KEYS[2])
    if found[1] then return {}, found[1] end
    last_seq = found[2]
  else
    last_seq = redis.call('GET', KEYS[2])
  end
  local holder = cjson.decode(member)['holder']
  local person = cjson.decode(redis.call('HGET', KEYS[5], holder))
  return person, nil, tonumber(last_seq or '0')
end

-- Appends `encoded` (an entry numbered `seq`), trims when the list has outgrown
-- `size` by an eighth, remembers the retry key. The seq is written last: a call
-- that fails before it (Redis keeps a script's writes up to its error) leaves no
-- gap in the numbering.
local function store_entry(history_key, seq_key, cid_key, encoded, seq, size, ttl,
                           has_cid)
  local length = redis.call('RPUSH', history_key, encoded)
  if length > size + math.ceil(size / 8) then
    redis.call('LTRIM', history_key, -size, -1)
  end
  if has_cid then redis.call('SET', cid_key, encoded, 'EX', ttl) end
  redis.call('SET', seq_key, seq)
end
"""

# KEYS: members seq history cid people nodes
# ARGV: sid message_head history_size dedupe_seconds has_client_id reply_to
#       snippet_length relay_prefix relay_header node deadline
# message_head is the message's JSON object without its closing brace: the script
# appends reply_to, seq, username and trip as text rather than decoding the message
# and encoding it again (cjson's decode and encode were a quarter of the script's
# work). With a relay prefix, the stored message is published in the same round trip
# to the relay channel of every other node in `nodes` (relay_prefix .. node),
# prefixed by relay_header (wire/queue_listener.py reads it there). The storing node
# is left out: it delivers its own members itself, and would only read the copy back.
MESSAGE = (
    _DEADLINE
    + _HISTORY
    + """
local person, existing, last_seq = sender()
if not person then return {-1} end
if existing then return {0, existing} end
local reply_to = ''
if ARGV[6] ~= '' then
  local _, original = find_message(recent(KEYS[3], tonumber(ARGV[3])), ARGV[6])
  if not original then return {-4, 'unknown_message'} end
  reply_to = ',"reply_to":' .. cjson.encode({
    id = original['id'], username = original['username'], trip = original['trip'],
    snippet = snippet(original['message'], tonumber(ARGV[7])),
  })
end
local trip = 'null'
if person.trip ~= '' then trip = cjson.encode(person.trip) end
local seq = last_seq + 1
local encoded = ARGV[2] .. reply_to .. ',"seq":' .. seq .. ',"username":'
  .. cjson.encode(person.username) .. ',"trip":' .. trip .. '}'
store_entry(KEYS[3], KEYS[2], KEYS[4], encoded, seq, tonumber(ARGV[3]),
  tonumber(ARGV[4]), ARGV[5] == '1')
if ARGV[8] ~= '' then
  local relayed = ARGV[9] .. encoded
  for _, node in ipairs(redis.call('SMEMBERS', KEYS[6])) do
    if node ~= ARGV[10] then redis.call('PUBLISH', ARGV[8] .. node, relayed) end
  end
end
return {1, encoded}
"""
)

# KEYS: members seq history cid people
# ARGV: sid change_json history_size dedupe_seconds has_client_id edit_window_ms
#       max_reactions deadline
CHANGE = (
    _DEADLINE
    + _HISTORY
    + """
local person, existing, last_seq = sender()
if not person then return {-1} end
if existing then return {0, existing} end
local has_cid = ARGV[5] == '1'
local trip = person.trip
local change = cjson.decode(ARGV[2])
local history = recent(KEYS[3], tonumber(ARGV[3]))
local index, original = find_message(history, change['id'])
if not original then return {-4, 'unknown_message'} end
local names = {edit = 'message_edited', delete = 'message_deleted', react = 'reaction'}
local event = {
  event = names[change['kind']], room = original['room'], id = original['id'],
}
if change['kind'] ~= 'react' then
  local own
  if type(original['trip']) == 'string' and original['trip'] ~= '' then
    own = original['trip'] == trip
  else
    own = original['sid'] == ARGV[1]
  end
  if not own then return {-4, 'not_author'} end
end
local updated = original
if change['kind'] == 'edit' then
  if now_ms - tonumber(original['timestamp']) > tonumber(ARGV[6]) then
    return {-4, 'edit_window_passed'}
  end
  updated['message'] = change['message']
  updated['edited_at'] = now_ms
  updated['mentions'] = nil
  event['message'] = change['message']
  event['edited_at'] = now_ms
  if #change['mentions'] > 0 then
    updated['mentions'] = change['mentions']
    event['mentions'] = change['mentions']
  end
elseif change['kind'] == 'delete' then
  updated = {message = '', deleted = true}
  local kept = {'room', 'id', 'seq', 'sid', 'username', 'trip', 'timestamp', 'reply_to'}
  for _, key in ipairs(kept) do
    updated[key] = original[key]
  end
  for i = 1, #history do
    if i ~= index then
      local entry = cjson.decode(history[i])
      local quoted = entry['reply_to']
      if type(quoted) == 'table' and quoted['id'] == original['id'] then
        quoted['snippet'] = ''
        quoted['deleted'] = true
        set_entry(KEYS[3], history, i, cjson.encode(entry))
      end
    end
  end
else
  local who = ARGV[1]
  if trip ~= '' then who = trip end
  local reactions = original['reactions']
  if type(reactions) ~= 'table' then reactions = {} end
  local distinct = 0
  for _ in pairs(reactions) do distinct = distinct + 1 end
  local voters = reactions[change['emoji']] or {}
  local at = nil
  for i, voter in ipairs(voters) do if voter == who then at = i end end
  if change['on'] and not at then
    if #voters == 0 and distinct >= tonumber(ARGV[7]) then
      return {-4, 'too_many_reactions'}
    end
    table.insert(voters, who)
  elseif not change['on'] and at then
    table.remove(voters, at)
  end
  if #voters > 0 then
    reactions[change['emoji']] = voters
  else
    reactions[change['emoji']] = nil
  end
  updated['reactions'] = nil
  if next(reactions) ~= nil then updated['reactions'] = reactions end
  event['emoji'] = change['emoji']
  event['on'] = change['on']
  event['sid'] = ARGV[1]
  event['trip'] = cjson.null
  if trip ~= '' then event['trip'] = trip end
  event['count'] = #voters
end
set_entry(KEYS[3], history, index, cjson.encode(updated))
event['seq'] = last_seq + 1
local encoded = cjson.encode(event)
store_entry(KEYS[3], KEYS[2], KEYS[4], encoded, event['seq'], tonumber(ARGV[3]),
  tonumber(ARGV[4]), has_cid)
return {1, encoded}
"""
)
