"""Room state in Redis, shared by every node: the `RoomStore` protocol on Redis.

Keys (all under REDIS_PREFIX):
  room:<name>:members   hash sid -> {"username", "node"}     presence, every node
  room:<name>:epoch     string, kept across restarts          history lifetime id
  room:<name>:seq       integer                               last seq given out
  room:<name>:history   list of message JSON, last HISTORY_SIZE
  room:<name>:cid:<scope>\\n<id>  message JSON, expires        client_id dedupe
  active                sorted set room -> member count       list_rooms
  node:<id>:members     set of "room\\nsid" joined through that node (nodes.py)

Every change is one Lua script, so it is atomic across nodes: a message is
numbered, stored and deduplicated in one step, and acknowledged only after that.
A script that changes something first checks a deadline in Redis's own clock, so
a request this node already reported as `unavailable` (its socket timed out while
Redis hung) is refused when Redis gets to it, rather than carried out unseen. The
seq counter is written last, after everything that can fail: a message that cannot
be stored uses up no number, and history has no gaps.
Empty rooms' keys expire after ROOM_TTL_SECONDS, which also starts a new epoch.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from state.base import (
    DEDUPE_SECONDS,
    Draft,
    Membership,
    Message,
    MessageIds,
    NotAMember,
    Snapshot,
    StoreUnavailable,
    new_message,
    select_history,
    wall_clock_ms,
)
from state.redis_space import RedisSpace

# Shared first lines of every script that changes state: refuse when late.
_DEADLINE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if now_ms > tonumber(ARGV[#ARGV]) then return {-2} end
"""

_JOIN = (
    _DEADLINE
    + """
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if added == 1 then
  redis.call('ZINCRBY', KEYS[5], 1, ARGV[3])
  redis.call('SADD', KEYS[6], ARGV[4])
end
redis.call('SET', KEYS[2], ARGV[5], 'NX')
for i = 2, 4 do redis.call('PERSIST', KEYS[i]) end
return {added, redis.call('HGET', KEYS[1], ARGV[1]), redis.call('HLEN', KEYS[1])}
"""
)

_LEAVE = """
local member = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[6], ARGV[3])
if not member then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
if tonumber(redis.call('ZINCRBY', KEYS[5], -1, ARGV[2])) <= 0 then
  redis.call('ZREM', KEYS[5], ARGV[2])
end
local count = redis.call('HLEN', KEYS[1])
if count == 0 then
  local ttl = tonumber(ARGV[4])
  for i = 2, 4 do
    if ttl > 0 then
      redis.call('EXPIRE', KEYS[i], ttl)
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
return {member, count}
"""

_MESSAGE = (
    _DEADLINE
    + """
local member = redis.call('HGET', KEYS[1], ARGV[1])
if not member then return {-1} end
if ARGV[5] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {0, existing} end
end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local message = cjson.decode(ARGV[2])
message['seq'] = seq
message['username'] = cjson.decode(member)['username']
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


class RedisRoomStore:
    """Presence, numbering and history of every room, in Redis."""

    def __init__(
        self,
        space: RedisSpace,
        history_size: int,
        room_ttl_seconds: float,
        node_id: str,
    ) -> None:
        self._space = space
        self._redis = space.client
        self._history_size = history_size
        self._room_ttl = int(room_ttl_seconds)
        self.node_id = node_id
        self._join = self._redis.register_script(_JOIN)
        self._leave = self._redis.register_script(_LEAVE)
        self._message = self._redis.register_script(_MESSAGE)
        self._lock = threading.Lock()
        # local[sid][room] = username, for connections of this node
        self._local: dict[str, dict[str, str]] = {}
        # leaves Redis could not be told about yet: (room, sid)
        self._deferred: list[tuple[str, str]] = []
        self._ids = MessageIds()

    # -- the RoomStore protocol -------------------------------------------------

    def join(self, room: str, sid: str, username: str) -> Membership:
        member = json.dumps({"username": username, "node": self.node_id})
        result = self._space.call(
            self._join,
            self._room_keys(room) + [self._key("active"), self.node_members_key()],
            [
                sid,
                member,
                room,
                member_entry(room, sid),
                secrets.token_hex(8),
                self._space.write_deadline_ms(),
            ],
        )
        if result[0] == LATE:
            raise StoreUnavailable("Redis answered too late; nothing was changed")
        added, stored, count = result
        name = json.loads(stored)["username"]
        with self._lock:
            self._local.setdefault(sid, {})[room] = name
        return Membership(room, sid, name, int(count), changed=bool(added))

    def leave(self, room: str, sid: str) -> Membership | None:
        membership = self.leave_of(self.node_id, room, sid)
        self._forget(room, sid)
        return membership

    def leave_all(self, sid: str) -> list[Membership]:
        """Leave every room; what Redis cannot be told now is retried later."""
        left = []
        for room in sorted(self.rooms_of(sid)):
            try:
                membership = self.leave(room, sid)
            except StoreUnavailable:
                self._forget(room, sid)
                with self._lock:
                    self._deferred.append((room, sid))
                continue
            if membership is not None:
                left.append(membership)
        return left

    def username_in(self, room: str, sid: str) -> str | None:
        stored = self._space.call(
            self._redis.hget, self._key("room", room, "members"), sid
        )
        return None if stored is None else json.loads(stored)["username"]

    def rooms_of(self, sid: str) -> set[str]:
        with self._lock:
            return set(self._local.get(sid, ()))

    def members(self, room: str) -> list[dict[str, str]]:
        stored = self._space.call(
            self._redis.hgetall, self._key("room", room, "members")
        )
        return [
            {"sid": sid.decode(), "username": json.loads(value)["username"]}
            for sid, value in stored.items()
        ]

    def add_message(self, room: str, sid: str, draft: Draft) -> tuple[Message, bool]:
        message = new_message(room, self._ids.next(), sid, draft, wall_clock_ms())
        dedupe_key = draft.dedupe_key()
        keys = [
            self._key("room", room, "members"),
            self._key("room", room, "seq"),
            self._key("room", room, "history"),
            self._key("room", room, "cid", dedupe_key or ""),
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
        """Redis expires empty rooms by itself (ROOM_TTL_SECONDS)."""
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

    def leave_of(self, node: str, room: str, sid: str) -> Membership | None:
        """Remove `sid` from `room` on behalf of `node` (which may be dead)."""
        result = self._space.call(
            self._leave,
            self._room_keys(room) + [self._key("active"), self.node_members_key(node)],
            [sid, room, member_entry(room, sid), self._room_ttl],
        )
        if not result:
            return None
        stored, count = result
        return Membership(room, sid, json.loads(stored)["username"], int(count))

    def local_memberships(self) -> list[tuple[str, str, str]]:
        """(room, sid, username) of every membership of this node's connections."""
        with self._lock:
            return [
                (room, sid, name)
                for sid, rooms in self._local.items()
                for room, name in rooms.items()
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
        return [
            self._key("room", room, "members"),
            self._key("room", room, "epoch"),
            self._key("room", room, "seq"),
            self._key("room", room, "history"),
        ]


def member_entry(room: str, sid: str) -> str:
    """How a membership is listed in its node's members set."""
    return f"{room}\n{sid}"


def _decode_message(raw: bytes) -> Message:
    message: Message = json.loads(raw)
    for key in ("seq", "timestamp"):
        message[key] = int(message[key])
    return message
