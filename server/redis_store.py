"""Room state in Redis, shared by every node: the same methods as rooms.RoomStore.

Keys (all under REDIS_PREFIX):
  room:<name>:members   hash sid -> {"username", "node"}     presence, every node
  room:<name>:epoch     string, kept across restarts          history lifetime id
  room:<name>:seq       integer, INCR                         last seq given out
  room:<name>:history   list of message JSON, last HISTORY_SIZE
  room:<name>:cid:<id>  message JSON, expires                 client_id dedupe
  active                sorted set room -> member count       list_rooms
  node:<id>:alive       expires after NODE_TIMEOUT_SECONDS    heartbeat
  node:<id>:members     set of "room\\nsid" joined through that node
  nodes                 set of node ids                       for reaping dead ones

Every change is one Lua script, so it is atomic across nodes: a message is
numbered, stored and deduplicated in one step, and acknowledged only after that.
Empty rooms' keys expire after ROOM_TTL_SECONDS, which also starts a new epoch.
Any Redis failure surfaces as StoreUnavailable, never as a hang: sockets time out.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from typing import Any

from rooms import (
    Membership,
    Message,
    NotAMember,
    Snapshot,
    StoreUnavailable,
    select_history,
)

DEDUPE_SECONDS = 3600
REDIS_TIMEOUT_SECONDS = 2.0

_JOIN = """
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if added == 1 then
  redis.call('ZINCRBY', KEYS[5], 1, ARGV[3])
  redis.call('SADD', KEYS[6], ARGV[4])
end
redis.call('SET', KEYS[2], ARGV[5], 'NX')
for i = 2, 4 do redis.call('PERSIST', KEYS[i]) end
return {added, redis.call('HGET', KEYS[1], ARGV[1]), redis.call('HLEN', KEYS[1])}
"""

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

_MESSAGE = """
local member = redis.call('HGET', KEYS[1], ARGV[1])
if not member then return {-1} end
if ARGV[5] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {0, existing} end
end
local seq = redis.call('INCR', KEYS[2])
local message = cjson.decode(ARGV[2])
message['seq'] = seq
message['username'] = cjson.decode(member)['username']
local encoded = cjson.encode(message)
redis.call('RPUSH', KEYS[3], encoded)
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
if ARGV[5] == '1' then
  redis.call('SET', KEYS[4], encoded, 'EX', tonumber(ARGV[4]))
end
return {1, encoded}
"""


def connect(url: str) -> Any:
    """A Redis client with short timeouts; imported here only when REDIS_URL is set."""
    try:
        import redis
    except ImportError:  # pragma: no cover
        raise StoreUnavailable(
            'Redis package is not installed (run "pip install -r requirements.txt")'
        ) from None
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=10,
    )


class RedisRoomStore:
    """Presence, numbering and history of every room, in Redis."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        history_size: int,
        room_ttl_seconds: float,
        node_id: str,
    ) -> None:
        import redis

        self._redis = client
        self._errors = (redis.exceptions.RedisError, OSError)
        self._prefix = prefix
        self._history_size = history_size
        self._room_ttl = int(room_ttl_seconds)
        self.node_id = node_id
        self._join = client.register_script(_JOIN)
        self._leave = client.register_script(_LEAVE)
        self._message = client.register_script(_MESSAGE)
        self._lock = threading.Lock()
        # local[sid][room] = username, for connections of this node
        self._local: dict[str, dict[str, str]] = {}
        # leaves Redis could not be told about yet: (room, sid)
        self._deferred: list[tuple[str, str]] = []
        self._id_prefix = secrets.token_hex(4) + "-"
        self._ids = itertools.count(1)

    # -- the RoomStore interface ----------------------------------------------

    def join(self, room: str, sid: str, username: str) -> Membership:
        member = json.dumps({"username": username, "node": self.node_id})
        added, stored, count = self._call(
            self._join,
            self._room_keys(room) + [self._key("active"), self._node_members()],
            [sid, member, room, _entry(room, sid), secrets.token_hex(8)],
        )
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
        stored = self._call(self._redis.hget, self._key("room", room, "members"), sid)
        return None if stored is None else json.loads(stored)["username"]

    def rooms_of(self, sid: str) -> set[str]:
        with self._lock:
            return set(self._local.get(sid, ()))

    def members(self, room: str) -> list[dict[str, str]]:
        stored = self._call(self._redis.hgetall, self._key("room", room, "members"))
        return [
            {"sid": sid.decode(), "username": json.loads(value)["username"]}
            for sid, value in stored.items()
        ]

    def add_message(
        self,
        room: str,
        sid: str,
        text: str,
        client_id: str | None = None,
        client_timestamp: float | None = None,
    ) -> tuple[Message, bool]:
        draft: Message = {
            "room": room,
            "id": f"{self._id_prefix}{next(self._ids):x}",
            "sid": sid,
            "message": text,
            "timestamp": int(time.time() * 1000),
        }
        if client_id is not None:
            draft["client_id"] = client_id
        if client_timestamp is not None:
            draft["client_timestamp"] = client_timestamp
        keys = [
            self._key("room", room, "members"),
            self._key("room", room, "seq"),
            self._key("room", room, "history"),
            self._key("room", room, "cid", client_id or ""),
        ]
        args = [
            sid,
            json.dumps(draft),
            self._history_size,
            DEDUPE_SECONDS,
            "1" if client_id is not None else "0",
        ]
        result = self._call(self._message, keys, args)
        if result[0] == -1:
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
        room_epoch, last_seq, history = self._call(pipe.execute)
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
        rows = self._call(
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
        except self._errors:
            rooms = -1
        return {"rooms": rooms, **local}

    # -- cluster upkeep (used by cluster.py) -----------------------------------

    def leave_of(self, node: str, room: str, sid: str) -> Membership | None:
        """Remove `sid` from `room` on behalf of `node` (which may be dead)."""
        result = self._call(
            self._leave,
            self._room_keys(room) + [self._key("active"), self._node_members(node)],
            [sid, room, _entry(room, sid), self._room_ttl],
        )
        if not result:
            return None
        stored, count = result
        return Membership(room, sid, json.loads(stored)["username"], int(count))

    def local_memberships(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(room, sid) for sid, rooms in self._local.items() for room in rooms]

    def local_username(self, room: str, sid: str) -> str | None:
        with self._lock:
            return self._local.get(sid, {}).get(room)

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

    def _forget(self, room: str, sid: str) -> None:
        with self._lock:
            rooms = self._local.get(sid)
            if rooms is not None:
                rooms.pop(room, None)
                if not rooms:
                    del self._local[sid]

    def heartbeat(self, timeout: float) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._key("node", self.node_id, "alive"), "1", ex=max(1, int(timeout)))
        pipe.sadd(self._key("nodes"), self.node_id)
        self._call(pipe.execute)

    def dead_nodes(self) -> list[str]:
        nodes = [
            n.decode() for n in self._call(self._redis.smembers, self._key("nodes"))
        ]
        others = [node for node in nodes if node != self.node_id]
        if not others:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for node in others:
            pipe.exists(self._key("node", node, "alive"))
        alive = self._call(pipe.execute)
        return [node for node, up in zip(others, alive, strict=True) if not up]

    def claim_reaping(self, node: str) -> bool:
        """One survivor at a time cleans up after a dead node."""
        key = self._key("reaping", node)
        return bool(self._call(self._redis.set, key, self.node_id, nx=True, ex=30))

    def members_of_node(self, node: str) -> list[tuple[str, str]]:
        entries = self._call(self._redis.smembers, self._node_members(node))
        return [tuple(e.decode().split("\n", 1)) for e in entries]  # type: ignore[misc]

    def forget_node(self, node: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(self._node_members(node))
        pipe.srem(self._key("nodes"), node)
        self._call(pipe.execute)

    def leave_node(self) -> None:
        """This node is going away on purpose: it stops counting as alive."""
        self._call(self._redis.delete, self._key("node", self.node_id, "alive"))
        self.forget_node(self.node_id)

    @staticmethod
    def reachable(client: Any) -> bool:
        try:
            return bool(client.ping())
        except Exception:
            return False

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except self._errors:
            return False

    # -- helpers ------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _room_keys(self, room: str) -> list[str]:
        return [
            self._key("room", room, "members"),
            self._key("room", room, "epoch"),
            self._key("room", room, "seq"),
            self._key("room", room, "history"),
        ]

    def _node_members(self, node: str | None = None) -> str:
        return self._key("node", node or self.node_id, "members")

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except self._errors as error:
            raise StoreUnavailable(str(error)) from None


def _entry(room: str, sid: str) -> str:
    return f"{room}\n{sid}"


def _decode_message(raw: bytes) -> Message:
    message: Message = json.loads(raw)
    for key in ("seq", "timestamp"):
        message[key] = int(message[key])
    return message
