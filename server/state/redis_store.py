"""Room state in Redis, shared by every node: the `RoomStore` protocol on Redis.

Keys (all under REDIS_PREFIX):
  room:<name>:members   hash sid -> {"holder", "node"}        presence, every node
  room:<name>:people    hash holder -> {"username", "trip", "keys", "sids"}
                        one entry per person (state.base.holder_of), present or away
  room:<name>:names     hash name key -> holder               who holds each name
  room:<name>:leases    sorted set holder -> until (ms, Redis's clock)
  room:<name>:epoch     string, kept across restarts          history lifetime id
  room:<name>:seq       integer                               last seq given out
  room:<name>:history   list of message JSON, last HISTORY_SIZE (an eighth more
                        until next trimmed: redis_scripts.store_entry)
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
from functools import partial
from typing import Any

import orjson

from chat.names import name_keys
from state import redis_scripts as scripts
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
    Then,
    decode_message,
    holder_of,
    name_candidates,
    new_message,
    raising,
    random_variant,
    select_history,
    wall_clock_ms,
)
from state.changes import (
    MAX_REACTIONS_PER_MESSAGE,
    SNIPPET_LENGTH,
    Change,
    ChangeRefused,
)
from state.nodes import nodes_key
from state.redis_space import RedisSpace
from state.script_pipeline import ScriptPipeline


def relay_channel(prefix: str, node_id: str) -> str:
    """The channel a node reads other nodes' messages on (wire/queue_listener.py)."""
    return prefix + node_id


def relay_header(room: str) -> str:
    """What precedes a relayed message's JSON: the room (nodes without members
    there skip it unread)."""
    return f"{room}\n"


def _hand_on_stored(
    room: str, then: Then, reply: Any, error: StoreUnavailable | None
) -> None:
    """A message script's reply to `then`, as the Stored it reads (a partial: no
    Python frame of its own when it is read, once per message)."""
    if error is not None:
        then(raising(error))
    else:
        then(partial(RedisRoomStore._stored, room, reply))


LATE = -2
NOT_A_MEMBER = -1
TAKEN = -3
REFUSED = -4


class RedisRoomStore:
    """Presence, names, numbering and history of every room, in Redis."""

    def __init__(
        self,
        space: RedisSpace,
        history_size: int,
        room_ttl_seconds: float,
        node_id: str,
        nick_lease_seconds: float = 300.0,
        edit_window_seconds: float = 600.0,
        relay_prefix: str = "",
    ) -> None:
        self._space = space
        # Where a stored message is also published (wire/queue_listener.py), in
        # the script's round trip: each other node's `relay_channel`; "" publishes
        # nothing (the Socket.IO queue carries messages instead).
        self._relay_prefix = relay_prefix
        self._edit_window_ms = int(edit_window_seconds * 1000)
        self._redis = space.client
        self._history_size = history_size
        self._room_ttl = int(room_ttl_seconds)
        self._lease = nick_lease_seconds
        self.node_id = node_id
        self._nodes_key = nodes_key(space)
        # What every room's keys start with, before the room's name (_entry_keys).
        self._rooms_prefix = space.key("room", "")
        self._join = self._redis.register_script(scripts.JOIN)
        self._leave = self._redis.register_script(scripts.LEAVE)
        self._rename = self._redis.register_script(scripts.RENAME)
        self._first_free = self._redis.register_script(scripts.FIRST_FREE)
        self._member = self._redis.register_script(scripts.MEMBER)
        self._message = self._redis.register_script(scripts.MESSAGE)
        self._change = self._redis.register_script(scripts.CHANGE)
        # Messages and changes, the busy path: many handlers' calls per round trip.
        self._busy_scripts = ScriptPipeline(space)
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

    def evict(self, room: str, sid: str) -> Membership | None:
        """On behalf of the node holding `sid`; that node still lists the room
        among the connection's own until it rejoins or goes."""
        raw = self._space.call(
            self._redis.hget, self._key("room", room, "members"), sid
        )
        if raw is None:
            return None
        node = json.loads(raw)["node"]
        membership = self.leave_of(node, room, sid, keep_name=False)
        if node == self.node_id:
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
        keys, args = self._message_call(room, sid, draft)
        return self._stored(room, self._busy_scripts.call(self._message, keys, args))

    def add_message_then(self, room: str, sid: str, draft: Draft, then: Then) -> None:
        keys, args = self._message_call(room, sid, draft)
        self._busy_scripts.submit(
            self._message, keys, args, partial(_hand_on_stored, room, then)
        )

    def _message_call(
        self, room: str, sid: str, draft: Draft
    ) -> tuple[list[str], list[Any]]:
        message = new_message(room, self._ids.next(), sid, draft, wall_clock_ms())
        dedupe_key = draft.dedupe_key()
        args = [
            sid,
            orjson.dumps(message)[:-1],  # the script appends the stored fields
            self._history_size,
            DEDUPE_SECONDS,
            "1" if dedupe_key is not None else "0",
            draft.reply_to or "",
            SNIPPET_LENGTH,
            self._relay_prefix,
            relay_header(room),
            self.node_id,
            self._space.write_deadline_ms(),
        ]
        return [*self._entry_keys(room, dedupe_key), self._nodes_key], args

    def change_message(
        self, room: str, sid: str, change: Change
    ) -> tuple[Message, bool]:
        dedupe_key = change.dedupe_key()
        args = [
            sid,
            json.dumps(change.as_dict()),
            self._history_size,
            DEDUPE_SECONDS,
            "1" if dedupe_key is not None else "0",
            self._edit_window_ms,
            MAX_REACTIONS_PER_MESSAGE,
            self._space.write_deadline_ms(),
        ]
        result = self._busy_scripts.call(
            self._change, self._entry_keys(room, dedupe_key), args
        )
        return self._stored(room, result)

    def person_named(self, room: str, name: str) -> tuple[Member, list[str]] | None:
        keys = name_keys(name)
        holders = self._space.call(
            self._redis.hmget, self._key("room", room, "names"), keys
        )
        for holder in dict.fromkeys(h for h in holders if h is not None):
            raw = self._space.call(
                self._redis.hget, self._key("room", room, "people"), holder
            )
            person = json.loads(raw) if raw else None
            if person and person["sids"]:
                member = Member(person["username"], person["trip"] or None)
                return member, list(person["sids"])
        return None

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
        # The last HISTORY_SIZE: the list holds up to an eighth more until it is
        # next trimmed (redis_scripts.store_entry).
        pipe.lrange(self._key("room", room, "history"), -self._history_size, -1)
        room_epoch, last_seq, history = self._space.call(pipe.execute)
        if room_epoch is None:
            return Snapshot([], "", 0)
        messages = [decode_message(raw) for raw in history]
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

    def _entry_keys(self, room: str, dedupe_key: str | None) -> list[str]:
        """members seq history cid people: the KEYS of the scripts that add to
        a room's history (every message: the room's part of the name built once)."""
        room_key = self._rooms_prefix + room + ":"  # self._key("room", room, "")
        return [
            room_key + "members",
            room_key + "seq",
            room_key + "history",
            room_key + "cid:" + (dedupe_key or ""),
            room_key + "people",
        ]

    @staticmethod
    def _stored(room: str, result: list[Any]) -> tuple[Message, bool]:
        """(entry, is_duplicate) from a script that adds to history, or its refusal."""
        if result[0] == LATE:
            raise StoreUnavailable("Redis answered too late; nothing was stored")
        if result[0] == NOT_A_MEMBER:
            raise NotAMember(room)
        if result[0] == REFUSED:
            raise ChangeRefused(_text(result[1]))
        return decode_message(result[1]), result[0] == 0

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
