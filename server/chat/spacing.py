"""Slow modes: when each person last posted in each room, on this node.

Shared by a room's slow mode (chat/moderation.py) and a raid's probation
(chat/raid_defence.py): each keeps its own record, with its own spacing.
"""

from __future__ import annotations

from chat.protocol import ChatError


class PostSpacing:
    """Refuses a post that comes sooner than its spacing after the last one."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}  # [(room, person key)] = ms

    def check(
        self, room: str, key: str, seconds: int, now_ms: int, message: str
    ) -> None:
        """Record a post now, or refuse it with `slow_mode` and when to try again."""
        wait = self._last.get((room, key), 0) + seconds * 1000 - now_ms
        if wait > 0:
            raise ChatError("slow_mode", message, retry_after_ms=wait)
        self._last[(room, key)] = now_ms

    def forget_before(self, cutoff_ms: int) -> None:
        """Drop posts older than any spacing still to be kept (housekeeping)."""
        for found, at in list(self._last.items()):
            if at < cutoff_ms:
                self._last.pop(found, None)
