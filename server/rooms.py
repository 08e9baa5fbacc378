"""In-memory room state: who is in which room, and each room's recent history.

This module knows nothing of Flask or Socket.IO, so a Redis-backed store can offer
the same methods later without `chat_events.py` changing. Every public method is
atomic (one lock), which the threading async mode needs; under eventlet and gevent
the lock is green and never contended across a yield, since no method yields.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]


class NotAMember(LookupError):
    """The connection is not a member of the room it tried to use."""


class StoreUnavailable(RuntimeError):
    """The shared store (Redis) cannot be reached; the request should be retried."""


@dataclass(frozen=True)
class Snapshot:
    """A slice of a room's history and where it stands (`epoch`, `last_seq`)."""

    messages: list[Message]
    epoch: str
    last_seq: int


@dataclass(frozen=True)
class Membership:
    """What changed when a connection joined or left a room."""

    room: str
    sid: str
    username: str
    count: int
    changed: bool = True


@dataclass
class _Room:
    epoch: str
    history: deque[Message]
    members: dict[str, str] = field(default_factory=dict)  # members[sid] = username
    by_client_id: dict[str, Message] = field(default_factory=dict)
    last_seq: int = 0
    emptied_at: float | None = None


def select_history(
    history: list[Message],
    room_epoch: str,
    last_seq: int,
    limit: int,
    epoch: str | None,
    since: int | None,
    before: int | None,
) -> Snapshot:
    """The part of a room's history (contiguous seqs, oldest first) a client asked for.

    Shared by every store, so `since`/`before`/`epoch` mean the same everywhere.
    """
    if epoch != room_epoch:
        since = before = None
    first_seq = history[0]["seq"] if history else last_seq + 1
    start = 0 if since is None else max(0, since + 1 - first_seq)
    end = len(history) if before is None else max(0, before - first_seq)
    selected = history[start:end]
    if limit <= 0:
        selected = []
    elif since is not None:
        selected = selected[:limit]
    else:
        selected = selected[-limit:]
    return Snapshot(selected, room_epoch, last_seq)


class RoomStore:
    """Membership and bounded history for every room, kept in this process."""

    def __init__(
        self,
        history_size: int,
        room_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._history_size = history_size
        self._room_ttl = room_ttl_seconds
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms
        self._lock = threading.Lock()
        self._rooms: dict[str, _Room] = {}  # rooms[name] = _Room
        self._rooms_of: dict[str, set[str]] = {}  # rooms_of[sid] = {room names}
        self._id_prefix = secrets.token_hex(4) + "-"
        self._ids = itertools.count(1)

    def join(self, room: str, sid: str, username: str) -> Membership:
        """Add `sid` to `room`; joining again keeps the first name, changes nothing."""
        with self._lock:
            state = self._live_room(room)
            known = state.members.get(sid)
            if known is not None:
                return Membership(room, sid, known, len(state.members), changed=False)
            state.members[sid] = username
            state.emptied_at = None
            self._rooms_of.setdefault(sid, set()).add(room)
            return Membership(room, sid, username, len(state.members))

    def leave(self, room: str, sid: str) -> Membership | None:
        """Remove `sid` from `room`; None when it was not a member."""
        with self._lock:
            return self._leave(room, sid)

    def leave_all(self, sid: str) -> list[Membership]:
        """Remove `sid` from every room, as when its connection closes."""
        with self._lock:
            rooms = sorted(self._rooms_of.get(sid, ()))
            return [m for m in (self._leave(room, sid) for room in rooms) if m]

    def username_in(self, room: str, sid: str) -> str | None:
        """The name `sid` joined `room` with, or None when it is not a member."""
        with self._lock:
            state = self._rooms.get(room)
            return None if state is None else state.members.get(sid)

    def rooms_of(self, sid: str) -> set[str]:
        with self._lock:
            return set(self._rooms_of.get(sid, ()))

    def members(self, room: str) -> list[dict[str, str]]:
        with self._lock:
            state = self._rooms.get(room)
            if state is None:
                return []
            return [{"sid": s, "username": u} for s, u in state.members.items()]

    def add_message(
        self,
        room: str,
        sid: str,
        text: str,
        client_id: str | None = None,
        client_timestamp: float | None = None,
    ) -> tuple[Message, bool]:
        """Store a message from member `sid`; returns (message, is_duplicate).

        A `client_id` the room's history still holds returns the stored message
        and True, so a client's retry is never shown twice.
        """
        with self._lock:
            state = self._rooms.get(room)
            if state is None or sid not in state.members:
                raise NotAMember(room)
            if client_id is not None and client_id in state.by_client_id:
                return state.by_client_id[client_id], True
            state.last_seq += 1
            message: Message = {
                "room": room,
                "id": f"{self._id_prefix}{next(self._ids):x}",
                "seq": state.last_seq,
                "sid": sid,
                "username": state.members[sid],
                "message": text,
                "timestamp": self._wall_clock_ms(),
            }
            if client_id is not None:
                message["client_id"] = client_id
                state.by_client_id[client_id] = message
            if client_timestamp is not None:
                message["client_timestamp"] = client_timestamp
            if len(state.history) == state.history.maxlen:
                evicted = state.history[0].get("client_id")
                if evicted is not None:
                    state.by_client_id.pop(evicted, None)
            state.history.append(message)
            return message, False

    def snapshot(
        self,
        room: str,
        *,
        limit: int,
        epoch: str | None = None,
        since: int | None = None,
        before: int | None = None,
    ) -> Snapshot:
        """Messages of `room`, oldest first, at most `limit`.

        `since` (exclusive) and `before` (exclusive) count only when `epoch` is
        the room's current one; otherwise the client's numbers belong to a lost
        history and it gets the latest messages instead. With `since` the reply
        starts right after it (gap filling); otherwise it ends at the newest
        message before `before` (scroll-back).
        """
        with self._lock:
            state = self._rooms.get(room)
            if state is None:
                return Snapshot([], "", 0)
            history = list(state.history)
            return select_history(
                history, state.epoch, state.last_seq, limit, epoch, since, before
            )

    def list_rooms(self, limit: int) -> list[dict[str, Any]]:
        """Rooms with at least one member, busiest first, then by name."""
        with self._lock:
            active = [
                (len(s.members), name) for name, s in self._rooms.items() if s.members
            ]
        active.sort(key=lambda pair: (-pair[0], pair[1]))
        return [{"room": name, "count": count} for count, name in active[:limit]]

    def expire_idle_rooms(self) -> int:
        """Drop the history of rooms empty for longer than the TTL; returns how many."""
        with self._lock:
            expired = [name for name, s in self._rooms.items() if self._expired(s)]
            for name in expired:
                del self._rooms[name]
            return len(expired)

    def counts(self) -> dict[str, int]:
        """Sizes of the internal maps, for tests and metrics to spot leaks."""
        with self._lock:
            return {
                "rooms": len(self._rooms),
                "members": sum(len(s.members) for s in self._rooms.values()),
                "connections": len(self._rooms_of),
            }

    def _live_room(self, room: str) -> _Room:
        state = self._rooms.get(room)
        if state is None or self._expired(state):
            state = _Room(
                epoch=secrets.token_hex(8), history=deque(maxlen=self._history_size)
            )
            self._rooms[room] = state
        return state

    def _expired(self, state: _Room) -> bool:
        return (
            state.emptied_at is not None
            and self._clock() - state.emptied_at >= self._room_ttl
        )

    def _leave(self, room: str, sid: str) -> Membership | None:
        state = self._rooms.get(room)
        if state is None or sid not in state.members:
            return None
        username = state.members.pop(sid)
        rooms = self._rooms_of.get(sid)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._rooms_of[sid]
        if not state.members:
            state.emptied_at = self._clock()
        return Membership(room, sid, username, len(state.members))
