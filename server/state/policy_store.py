"""Where rooms' policies (state/policy.py) live: in this process, or in Redis.

Every change is a read-modify-write of one room's policy, atomic in both stores
(a lock here; WATCH/MULTI in Redis, retried when another node changed it first),
so two moderators acting at once never undo each other. Joins and moderation read
the policy fresh: a ban or lock made on one node holds on every node at once. The
message path reads it through a cache of CACHE_SECONDS, so a mute or slow mode
reaches other nodes within that (one Redis round trip per message saved).

Each connection's address key (an HMAC of its address, chat/moderation.py) is
kept here too, so a moderator on any node can ban the address of someone whose
connection is on another node, without ever seeing it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from state.policy import RoomPolicy
from state.redis_space import RedisSpace

T = TypeVar("T")
CACHE_SECONDS = 1.0
ADDRESS_TTL_SECONDS = 86400


class PolicyStore(Protocol):
    def get(self, room: str) -> RoomPolicy:
        """The room's policy as it stands (a copy: changing it changes nothing)."""
        ...

    def cached(self, room: str) -> RoomPolicy:
        """The policy at most CACHE_SECONDS old; do not change it."""
        ...

    def update(
        self, room: str, change: Callable[[RoomPolicy], T]
    ) -> tuple[RoomPolicy, T]:
        """Apply `change` (which changes the policy it is given in place) atomically:
        (the policy after, what `change` returned). An exception from `change`
        writes nothing."""
        ...

    def listing(self) -> tuple[set[str], set[str]]:
        """Rooms whose owner listed them, and rooms whose owner unlisted them."""
        ...

    def remember_address(self, sid: str, address_key: str) -> None: ...

    def forget_address(self, sid: str) -> None: ...

    def address_key(self, sid: str) -> str | None:
        """The address key of a connection on any node, while it is connected."""
        ...

    def forget_idle(self, now_ms: int, owner_ttl_ms: int) -> int:
        """Drop policies with no owner left and nothing running; how many."""
        ...

    def spend_once(self, token: str, ttl_ms: int) -> bool:
        """True the first time `token` is spent within `ttl_ms` (proofs of work)."""
        ...

    def note_seen(self, room: str, trip: str, now_ms: int) -> None:
        """`trip` joined `room` now (regulars need no proof of work in a raid)."""
        ...

    def seen(self, room: str, trip: str) -> tuple[int, int] | None:
        """When `trip` first and last joined `room` (ms), or None: never here."""
        ...


def _copy(policy: RoomPolicy) -> RoomPolicy:
    return RoomPolicy.from_json(policy.to_json())


_NO_POLICY = RoomPolicy()
# Trips remembered per room as regulars at most (the least recent go first).
MAX_SEEN_PER_ROOM = 5000


def _is_idle(policy: RoomPolicy, now_ms: int, owner_ttl_ms: int) -> bool:
    policy.forget_expired(now_ms)
    return (
        policy.owner_at(now_ms, owner_ttl_ms) is None
        and not policy.bans
        and not policy.mutes
    )


class MemoryPolicyStore:
    """Policies of one process's rooms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._policies: dict[str, RoomPolicy] = {}
        self._addresses: dict[str, str] = {}
        self._spent: dict[str, float] = {}  # token -> monotonic expiry
        # seen[room][trip] = [first, last] join (ms), least recent first
        self._seen: dict[str, dict[str, list[int]]] = {}

    def get(self, room: str) -> RoomPolicy:
        with self._lock:
            return _copy(self._policies.get(room) or RoomPolicy())

    def cached(self, room: str) -> RoomPolicy:
        # Most rooms have no policy: one shared empty one, never changed, saves
        # making one per message.
        return self._policies.get(room, _NO_POLICY)

    def update(
        self, room: str, change: Callable[[RoomPolicy], T]
    ) -> tuple[RoomPolicy, T]:
        with self._lock:
            policy = _copy(self._policies.get(room) or RoomPolicy())
            result = change(policy)
            if policy.is_empty():
                self._policies.pop(room, None)
            else:
                self._policies[room] = policy
            return _copy(policy), result

    def listing(self) -> tuple[set[str], set[str]]:
        with self._lock:
            items = list(self._policies.items())
        listed = {room for room, policy in items if policy.listed is True}
        unlisted = {room for room, policy in items if policy.listed is False}
        return listed, unlisted

    def remember_address(self, sid: str, address_key: str) -> None:
        self._addresses[sid] = address_key

    def forget_address(self, sid: str) -> None:
        self._addresses.pop(sid, None)

    def address_key(self, sid: str) -> str | None:
        return self._addresses.get(sid)

    def forget_idle(self, now_ms: int, owner_ttl_ms: int) -> int:
        with self._lock:
            idle = [
                room
                for room, policy in self._policies.items()
                if _is_idle(_copy(policy), now_ms, owner_ttl_ms)
            ]
            for room in idle:
                del self._policies[room]
            now = time.monotonic()
            self._spent = {t: at for t, at in self._spent.items() if at > now}
        return len(idle)

    def spend_once(self, token: str, ttl_ms: int) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._spent.get(token, 0.0) > now:
                return False
            self._spent[token] = now + ttl_ms / 1000
            return True

    def note_seen(self, room: str, trip: str, now_ms: int) -> None:
        with self._lock:
            seen = self._seen.setdefault(room, {})
            first = seen.pop(trip, [now_ms])[0]
            seen[trip] = [first, now_ms]
            while len(seen) > MAX_SEEN_PER_ROOM:
                del seen[next(iter(seen))]

    def seen(self, room: str, trip: str) -> tuple[int, int] | None:
        found = self._seen.get(room, {}).get(trip)
        return (found[0], found[1]) if found else None


class RedisPolicyStore:
    """Policies shared by every node.

    Keys (under REDIS_PREFIX): `room:<name>:policy` (the policy's JSON; expires
    when neither its owner nor anything it decided can still matter),
    `rooms:listed` and `rooms:unlisted` (sets of room names), `conn:<sid>:addr`,
    `room:<name>:first` and `room:<name>:last` (sorted sets trip -> first and last
    join, ms), `spent:<nonce>`.
    """

    def __init__(self, space: RedisSpace, owner_ttl_seconds: float) -> None:
        self._space = space
        self._redis = space.client
        self._owner_ttl_seconds = owner_ttl_seconds
        self._cache: dict[str, tuple[float, RoomPolicy]] = {}

    def get(self, room: str) -> RoomPolicy:
        raw = self._space.call(self._redis.get, self._policy_key(room))
        policy = RoomPolicy.from_json(raw)
        self._cache[room] = (time.monotonic(), policy)
        return _copy(policy)

    def cached(self, room: str) -> RoomPolicy:
        found = self._cache.get(room)
        if found is not None and time.monotonic() - found[0] < CACHE_SECONDS:
            return found[1]
        return self.get(room)

    def update(
        self, room: str, change: Callable[[RoomPolicy], T]
    ) -> tuple[RoomPolicy, T]:
        key = self._policy_key(room)

        def attempt(pipe: Any) -> tuple[RoomPolicy, T]:
            policy = RoomPolicy.from_json(pipe.get(key))
            result = change(policy)
            pipe.multi()
            if policy.is_empty():
                pipe.delete(key)
            else:
                pipe.set(key, policy.to_json(), ex=self._lifetime(policy))
            listed, unlisted = (
                self._space.key("rooms", "listed"),
                self._space.key("rooms", "unlisted"),
            )
            if policy.listed is True:
                pipe.sadd(listed, room)
            else:
                pipe.srem(listed, room)
            if policy.listed is False:
                pipe.sadd(unlisted, room)
            else:
                pipe.srem(unlisted, room)
            return policy, result

        policy, result = self._space.call(
            self._redis.transaction, attempt, key, value_from_callable=True
        )
        self._cache[room] = (time.monotonic(), policy)
        return _copy(policy), result

    def listing(self) -> tuple[set[str], set[str]]:
        listed, unlisted = self._space.call(
            lambda: (
                self._redis.smembers(self._space.key("rooms", "listed")),
                self._redis.smembers(self._space.key("rooms", "unlisted")),
            )
        )
        return {room.decode() for room in listed}, {room.decode() for room in unlisted}

    def remember_address(self, sid: str, address_key: str) -> None:
        self._space.call(
            self._redis.set, self._address_key(sid), address_key, ex=ADDRESS_TTL_SECONDS
        )

    def forget_address(self, sid: str) -> None:
        self._space.call(self._redis.delete, self._address_key(sid))

    def address_key(self, sid: str) -> str | None:
        raw = self._space.call(self._redis.get, self._address_key(sid))
        return raw.decode() if raw else None

    def forget_idle(self, now_ms: int, owner_ttl_ms: int) -> int:
        """Redis expires policies by itself; the listing sets are pruned here."""
        self._cache.clear()
        removed = 0
        listed, unlisted = self.listing()
        for room in listed | unlisted:
            if not self._space.call(self._redis.exists, self._policy_key(room)):
                for name in ("listed", "unlisted"):
                    self._space.call(
                        self._redis.srem, self._space.key("rooms", name), room
                    )
                removed += 1
        return removed

    def spend_once(self, token: str, ttl_ms: int) -> bool:
        key = self._space.key("spent", token)
        return bool(
            self._space.call(self._redis.set, key, 1, nx=True, px=max(1, ttl_ms))
        )

    def note_seen(self, room: str, trip: str, now_ms: int) -> None:
        first, last = self._seen_keys(room)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(first, {trip: now_ms}, nx=True)
        pipe.zadd(last, {trip: now_ms})
        # The least recent go first, from both.
        pipe.zrange(last, 0, -MAX_SEEN_PER_ROOM - 1)
        pipe.zremrangebyrank(last, 0, -MAX_SEEN_PER_ROOM - 1)
        for key in (first, last):
            pipe.expire(key, int(self._owner_ttl_seconds) + 86400)
        dropped = self._space.call(pipe.execute)[2]
        if dropped:
            self._space.call(self._redis.zrem, first, *dropped)

    def seen(self, room: str, trip: str) -> tuple[int, int] | None:
        first, last = self._seen_keys(room)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zscore(first, trip)
        pipe.zscore(last, trip)
        found = self._space.call(pipe.execute)
        if found[0] is None or found[1] is None:
            return None
        return int(found[0]), int(found[1])

    def _seen_keys(self, room: str) -> tuple[str, str]:
        return self._space.key("room", room, "first"), self._space.key(
            "room", room, "last"
        )

    def _lifetime(self, policy: RoomPolicy) -> int:
        """Seconds until nothing in the policy can matter any more (plus a day)."""
        now_ms = int(time.time() * 1000)
        last_ms = max(
            [policy.owner_seen_ms + int(self._owner_ttl_seconds * 1000)]
            + [ban.until_ms for ban in policy.bans]
            + [mute.until_ms for mute in policy.mutes]
        )
        return max(60, (last_ms - now_ms) // 1000 + 86400)

    def _policy_key(self, room: str) -> str:
        return self._space.key("room", room, "policy")

    def _address_key(self, sid: str) -> str:
        return self._space.key("conn", sid, "addr")
