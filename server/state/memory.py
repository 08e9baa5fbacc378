"""In-memory room state: who is in which room, and each room's recent history.

The store of a single process (no REDIS_URL). It knows nothing of Flask or
Socket.IO. Every public method is atomic (one lock), which the threading async mode
needs; under eventlet and gevent the lock is green and never contended across a
yield, since no method yields.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from state.base import (
    DEDUPE_SECONDS,
    Draft,
    Membership,
    Message,
    MessageIds,
    NotAMember,
    Snapshot,
    new_message,
    select_history,
    wall_clock_ms,
)

# Retries remembered per room at most (the oldest go first): memory stays bounded
# in a room that receives thousands of messages within DEDUPE_SECONDS.
MAX_DEDUPE_PER_ROOM = 10_000


@dataclass
class _Room:
    epoch: str
    history: deque[Message]
    members: dict[str, str] = field(default_factory=dict)  # members[sid] = username
    # recent[dedupe key] = (message, monotonic time it was stored), oldest first
    recent: OrderedDict[str, tuple[Message, float]] = field(default_factory=OrderedDict)
    last_seq: int = 0
    emptied_at: float | None = None


class MemoryRoomStore:
    """Membership and bounded history for every room, kept in this process."""

    def __init__(
        self,
        history_size: int,
        room_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._history_size = history_size
        self._room_ttl = room_ttl_seconds
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms
        self._lock = threading.Lock()
        self._rooms: dict[str, _Room] = {}  # rooms[name] = _Room
        self._rooms_of: dict[str, set[str]] = {}  # rooms_of[sid] = {room names}
        self._ids = MessageIds()

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

    def add_message(self, room: str, sid: str, draft: Draft) -> tuple[Message, bool]:
        """Store a message from member `sid`; returns (message, is_duplicate)."""
        with self._lock:
            state = self._rooms.get(room)
            if state is None or sid not in state.members:
                raise NotAMember(room)
            now = self._clock()
            self._forget_old_retries(state, now)
            key = draft.dedupe_key()
            if key is not None and key in state.recent:
                return state.recent[key][0], True
            state.last_seq += 1
            message = new_message(
                room, self._ids.next(), sid, draft, self._wall_clock_ms()
            )
            message["seq"] = state.last_seq
            message["username"] = state.members[sid]
            if key is not None:
                state.recent[key] = (message, now)
                if len(state.recent) > MAX_DEDUPE_PER_ROOM:
                    state.recent.popitem(last=False)
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

    @staticmethod
    def _forget_old_retries(state: _Room, now: float) -> None:
        recent = state.recent
        while recent:
            _, stored_at = next(iter(recent.values()))
            if now - stored_at < DEDUPE_SECONDS:
                return
            recent.popitem(last=False)

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
