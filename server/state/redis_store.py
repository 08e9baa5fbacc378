"""Room state in Redis, shared by every node: the `RoomStore` protocol on Redis.

Keys (all under REDIS_PREFIX):
  room:<name>:members   hash sid -> {"holder", "node"}        presence, every node
  room:<name>:people    hash holder -> {"username", "trip", "keys", "sids"}
                        one entry per person (state.base.holder_of), present or away
  room:<name>:names     hash name key -> holder               who holds each name
  room:<name>:leases    sorted set holder -> until (ms, Redis's clock)
  room:<name>:epoch     string, kept across restarts          history lifetime id
  room:<name>:seq       integer                               last seq given out
  room:<name>:history   list of message JSON, last HISTORY_SIZE
  room:<name>:cid:<scope>\\n<id>  message JSON, expires        client_id dedupe
  active                sorted set room -> people present     list_rooms
  node:<id>:members     set of "room\\nsid" joined through that node (nodes.py)

Every change is one Lua script, so it is atomic across nodes: a name is checked and
claimed in one step (never check-then-set), and a message is numbered, stored and
deduplicated in one step, and acknowledged only after that. A script that changes
something first checks a deadline in Redis's own clock, so a request this node
already reported as `unavailable` (its socket timed out while Redis hung) is
refused when Redis gets to it, rather than carried out unseen. The seq counter is
written last, after everything that can fail: a message that cannot be stored
uses up no number, and history has no gaps.
Empty rooms' keys (name leases included) expire after ROOM_TTL_SECONDS, which also
starts a new epoch. Leases are measured in Redis's clock, so they run out at the
same moment for every node.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from chat.names import name_keys
from state.base import (
    DEDUPE_SECONDS,
    Draft,
    Member,
    Membership,
    Message,
    MessageIds,
    NameTaken,
    NotAMember,
    Renamed,
    Snapshot,
    StoreUnavailable,
    holder_of,
    name_candidates,
    new_message,
    random_variant,
    select_history,
    wall_clock_ms,
)
from state.redis_space import RedisSpace

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
_JOIN = (
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
_LEAVE = (
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
_RENAME = (
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
_FIRST_FREE = (
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
_MEMBER = """
local member = redis.call('HGET', KEYS[1], ARGV[1])
if not member then return false end
local person = cjson.decode(redis.call('HGET', KEYS[2], cjson.decode(member)['holder']))
return {person.username, person.trip}
"""

# KEYS: members seq history cid people
# ARGV: sid message_json history_size dedupe_seconds has_client_id deadline
_MESSAGE = (
    _DEADLINE
    + """
local member = redis.call('HGET', KEYS[1], ARGV[1])
if not member then return {-1} end
if ARGV[5] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {0, existing} end
end
local person = cjson.decode(redis.call('HGET', KEYS[5], cjson.decode(member)['holder']))
local seq = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local message = cjson.decode(ARGV[2])
message['seq'] = seq
message['username'] = person.username
message['trip'] = cjson.null
if person.trip ~= '' then message['trip'] = person.trip end
local encoded = cjson.encode(message)
redis.call('RPUSH', KEYS[3], encoded)
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
if ARGV[5] == '1' then
  redis.call('SET', KEYS[4], encoded, 'EX', tonumber(ARGV[4]))
end
redis.call('SET', KEYS[2], seq)
return {1, encoded}
"""
)

LATE = -2
NOT_A_MEMBER = -1
TAKEN = -3


class RedisRoomStore:
    """Presence, names, numbering and history of every room, in Redis."""

    def __init__(
        self,
        space: RedisSpace,
        history_size: int,
        room_ttl_seconds: float,
        node_id: str,
        nick_lease_seconds: float = 300.0,
    ) -> None:
        self._space = space
        self._redis = space.client
        self._history_size = history_size
        self._room_ttl = int(room_ttl_seconds)
        self._lease = nick_lease_seconds
        self.node_id = node_id
        self._join = self._redis.register_script(_JOIN)
        self._leave = self._redis.register_script(_LEAVE)
        self._rename = self._redis.register_script(_RENAME)
        self._first_free = self._redis.register_script(_FIRST_FREE)
        self._member = self._redis.register_script(_MEMBER)
        self._message = self._redis.register_script(_MESSAGE)
        self._lock = threading.Lock()
        # local[sid][room] = Member, for connections of this node
        self._local: dict[str, dict[str, Member]] = {}
        # leaves Redis could not be told about yet: (room, sid)
        self._deferred: list[tuple[str, str]] = []
        self._ids = MessageIds()

    # -- the RoomStore protocol -------------------------------------------------

    def join(
        self, room: str, sid: str, username: str, trip: str | None = None
    ) -> Membership:
        result = self._space.call(
            self._join,
            self._room_keys(room) + [self._key("active"), self.node_members_key()],
            [
                sid,
                room,
                member_entry(room, sid),
                secrets.token_hex(8),
                username,
                trip or "",
                json.dumps(name_keys(username)),
                self.node_id,
                self._space.write_deadline_ms(),
            ],
        )
        if result[0] == LATE:
            raise StoreUnavailable("Redis answered too late; nothing was changed")
        if result[0] == TAKEN:
            raise NameTaken(self._suggestion(room, username, trip, sid))
        added, name, stored_trip, count, arrived = result
        member = Member(_text(name), _text(stored_trip) or None)
        with self._lock:
            self._local.setdefault(sid, {})[room] = member
        return Membership(
            room,
            sid,
            member.username,
            int(count),
            changed=bool(added),
            trip=member.trip,
            person_changed=bool(arrived),
        )

    def rename(self, room: str, sid: str, username: str) -> Renamed:
        keys = self._room_keys(room)
        result = self._space.call(
            self._rename,
            [keys[0], keys[4], keys[5], keys[6]],
            [
                sid,
                username,
                json.dumps(name_keys(username)),
                self._space.write_deadline_ms(),
            ],
        )
        if result[0] == LATE:
            raise StoreUnavailable("Redis answered too late; nothing was changed")
        if result[0] == NOT_A_MEMBER:
            raise NotAMember(room)
        trip = _text(result[2]) or None
        if result[0] == TAKEN:
            raise NameTaken(self._suggestion(room, username, trip, sid))
        with self._lock:
            if room in self._local.get(sid, {}):
                self._local[sid][room] = Member(username, trip)
        return Renamed(room, sid, trip, _text(result[1]), username)

    def leave(self, room: str, sid: str, keep_name: bool = False) -> Membership | None:
        membership = self.leave_of(self.node_id, room, sid, keep_name)
        self._forget(room, sid)
        return membership

    def leave_all(self, sid: str) -> list[Membership]:
        """Leave every room; what Redis cannot be told now is retried later."""
        left = []
        for room in sorted(self.rooms_of(sid)):
            try:
                membership = self.leave(room, sid, keep_name=True)
            except StoreUnavailable:
                self._forget(room, sid)
                with self._lock:
                    self._deferred.append((room, sid))
                continue
            if membership is not None:
                left.append(membership)
        return left

    def member(self, room: str, sid: str) -> Member | None:
        keys = self._room_keys(room)
        found = self._space.call(self._member, [keys[0], keys[4]], [sid])
        if not found:
            return None
        return Member(_text(found[0]), _text(found[1]) or None)

    def rooms_of(self, sid: str) -> set[str]:
        with self._lock:
            return set(self._local.get(sid, ()))

    def members(self, room: str) -> list[dict[str, Any]]:
        stored = self._space.call(
            self._redis.hgetall, self._key("room", room, "people")
        )
        members = []
        for raw in stored.values():
            person = json.loads(raw)
            if person["sids"]:  # not those away on lease
                members.append(
                    {
                        "sid": person["sids"][0],
                        "username": person["username"],
                        "trip": person["trip"] or None,
                    }
                )
        return members

    def add_message(self, room: str, sid: str, draft: Draft) -> tuple[Message, bool]:
        message = new_message(room, self._ids.next(), sid, draft, wall_clock_ms())
        dedupe_key = draft.dedupe_key()
        keys = [
            self._key("room", room, "members"),
            self._key("room", room, "seq"),
            self._key("room", room, "history"),
            self._key("room", room, "cid", dedupe_key or ""),
            self._key("room", room, "people"),
        ]
        args = [
            sid,
            json.dumps(message),
            self._history_size,
            DEDUPE_SECONDS,
            "1" if dedupe_key is not None else "0",
            self._space.write_deadline_ms(),
        ]
        result = self._space.call(self._message, keys, args)
        if result[0] == LATE:
            raise StoreUnavailable("Redis answered too late; nothing was stored")
        if result[0] == NOT_A_MEMBER:
            raise NotAMember(room)
        return _decode_message(result[1]), result[0] == 0

    def snapshot(
        self,
        room: str,
        *,
        limit: int,
        epoch: str | None = None,
        since: int | None = None,
        before: int | None = None,
    ) -> Snapshot:
        pipe = self._redis.pipeline(transaction=True)
        pipe.get(self._key("room", room, "epoch"))
        pipe.get(self._key("room", room, "seq"))
        pipe.lrange(self._key("room", room, "history"), 0, -1)
        room_epoch, last_seq, history = self._space.call(pipe.execute)
        if room_epoch is None:
            return Snapshot([], "", 0)
        messages = [_decode_message(raw) for raw in history]
        return select_history(
            messages,
            room_epoch.decode(),
            int(last_seq or 0),
            limit,
            epoch,
            since,
            before,
        )

    def list_rooms(self, limit: int) -> list[dict[str, Any]]:
        rows = self._space.call(
            self._redis.zrevrangebyscore,
            self._key("active"),
            "+inf",
            1,
            withscores=True,
        )
        active = sorted(((-int(count), name.decode()) for name, count in rows))
        return [{"room": name, "count": -count} for count, name in active[:limit]]

    def expire_idle_rooms(self) -> int:
        """Redis expires empty rooms by itself (ROOM_TTL_SECONDS); leases that ran
        out are dropped by the joins that meet them."""
        return 0

    def counts(self) -> dict[str, int]:
        with self._lock:
            local = {
                "connections": len(self._local),
                "members": sum(len(rooms) for rooms in self._local.values()),
            }
        try:
            rooms = int(self._redis.zcard(self._key("active")))
        except self._space.errors:
            rooms = -1
        return {"rooms": rooms, **local}

    # -- presence upkeep (used by the cluster keeper) ---------------------------

    def leave_of(
        self, node: str, room: str, sid: str, keep_name: bool = True
    ) -> Membership | None:
        """Remove `sid` from `room` on behalf of `node` (which may be dead); a trip
        keeps its name on lease unless it left on purpose."""
        result = self._space.call(
            self._leave,
            self._room_keys(room) + [self._key("active"), self.node_members_key(node)],
            [
                sid,
                room,
                member_entry(room, sid),
                self._room_ttl,
                self._lease if keep_name else 0,
            ],
        )
        if not result:
            return None
        name, trip, count, gone = result
        return Membership(
            room,
            sid,
            _text(name),
            int(count),
            trip=_text(trip) or None,
            person_changed=bool(gone),
        )

    def local_memberships(self) -> list[tuple[str, str, Member]]:
        """(room, sid, member) of every membership of this node's connections."""
        with self._lock:
            return [
                (room, sid, member)
                for sid, rooms in self._local.items()
                for room, member in rooms.items()
            ]

    def retry_deferred_leaves(self) -> list[Membership]:
        """Tell Redis about leaves it missed while unreachable."""
        with self._lock:
            pending, self._deferred = self._deferred, []
        done = []
        for index, (room, sid) in enumerate(pending):
            try:
                membership = self.leave_of(self.node_id, room, sid)
            except StoreUnavailable:
                with self._lock:
                    self._deferred.extend(pending[index:])
                break
            if membership is not None:
                done.append(membership)
        return done

    def node_members_key(self, node: str | None = None) -> str:
        return self._key("node", node or self.node_id, "members")

    def _forget(self, room: str, sid: str) -> None:
        with self._lock:
            rooms = self._local.get(sid)
            if rooms is not None:
                rooms.pop(room, None)
                if not rooms:
                    del self._local[sid]

    def _key(self, *parts: str) -> str:
        return self._space.key(*parts)

    def _room_keys(self, room: str) -> list[str]:
        """members, epoch, seq, history, people, names, leases (in the scripts'
        KEYS order)."""
        return [
            self._key("room", room, part)
            for part in (
                "members",
                "epoch",
                "seq",
                "history",
                "people",
                "names",
                "leases",
            )
        ]

    def _suggestion(self, room: str, username: str, trip: str | None, sid: str) -> str:
        """A free name close to `username`, for a NameTaken."""
        candidates = name_candidates(username)
        keys = self._room_keys(room)
        index = self._space.call(
            self._first_free,
            keys[4:7],
            [
                holder_of(sid, trip),
                json.dumps([name_keys(name) for name in candidates]),
            ],
        )
        return candidates[int(index) - 1] if index else random_variant(username)


def member_entry(room: str, sid: str) -> str:
    """How a membership is listed in its node's members set."""
    return f"{room}\n{sid}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode_message(raw: bytes) -> Message:
    message: Message = json.loads(raw)
    for key in ("seq", "timestamp"):
        message[key] = int(message[key])
    return message
