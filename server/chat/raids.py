"""Noticing a raid: too many newcomers joining, or too many messages, in a room.

Counted on each node in fixed one-minute windows (two integers per busy room, so the
message path stays cheap); a room that crosses a threshold is put into raid mode in
its policy, which every node then reads (chat/moderation.py).
"""

from __future__ import annotations

from wire.native_lock import native_lock

WINDOW_MS = 60_000
# Rooms counted at most; the counts of the quietest go first.
MAX_ROOMS = 10_000


class RaidWatch:
    """Per-room counts of newcomer joins and messages in the current minute."""

    def __init__(self, joins_per_minute: int, messages_per_minute: int) -> None:
        self._limits = {"join": joins_per_minute, "message": messages_per_minute}
        self._lock = native_lock()  # never held while waiting
        # counts[(kind, room)] = [window start ms, count]
        self._counts: dict[tuple[str, str], list[int]] = {}

    def note(self, kind: str, room: str, now_ms: int) -> bool:
        """Count one `kind` ("join" of a newcomer, or "message"); True exactly when
        this one crosses the room's threshold (0 turns a kind off)."""
        limit = self._limits[kind]
        if limit <= 0:
            return False
        with self._lock:
            count = self._counts.get((kind, room))
            if count is None or now_ms - count[0] >= WINDOW_MS:
                if len(self._counts) >= MAX_ROOMS:
                    self._forget_old(now_ms)
                count = self._counts[(kind, room)] = [now_ms, 0]
            count[1] += 1
            return count[1] == limit + 1

    def _forget_old(self, now_ms: int) -> None:
        stale = [
            k for k, (start, _) in self._counts.items() if now_ms - start >= WINDOW_MS
        ]
        for key in stale:
            del self._counts[key]
        if len(self._counts) >= MAX_ROOMS:
            self._counts.clear()


class ConnectionFlood:
    """New connections to this node in the current minute, against a threshold: past
    it, each new connection proves work before it may do anything (0: never)."""

    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._window = [0, 0]  # [start ms, count]
        self._lock = native_lock()  # never held while waiting

    def flooding(self, now_ms: int) -> bool:
        """Count one connection; True while this minute's are over the threshold."""
        if self._limit <= 0:
            return False
        with self._lock:
            if now_ms - self._window[0] >= WINDOW_MS:
                self._window = [now_ms, 0]
            self._window[1] += 1
            return self._window[1] > self._limit
