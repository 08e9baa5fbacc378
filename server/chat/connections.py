"""What the server keeps about each open connection, in one record per sid."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A connection's typing notices reach a room at most this often.
TYPING_MIN_INTERVAL = 1.0


@dataclass
class Connection:
    """One client connection, from `connected` to its disconnect."""

    sid: str
    address: str
    # Takes room messages as `messages` batches (announced in its connect auth).
    batching: bool
    # Whose client_ids this connection's messages carry: retries are recognised
    # only from the same sender (see state.base.Draft).
    dedupe_scope: str
    # Who this is across tabs and visits (chat/identity.py), or None: unverified.
    trip: str | None = None
    # What a ban keeps of its address (chat/moderation.py): never the address.
    address_key: str = ""
    # During a connection flood: the proof of work asked before anything else.
    challenge: dict[str, Any] | None = None
    typing_at: dict[str, float] = field(default_factory=dict)  # [room] = monotonic

    def typing_due(self, room: str, now: float | None = None) -> bool:
        """True at most once per TYPING_MIN_INTERVAL per room."""
        now = time.monotonic() if now is None else now
        if now - self.typing_at.get(room, float("-inf")) < TYPING_MIN_INTERVAL:
            return False
        self.typing_at[room] = now
        return True


class Connections:
    """Open connections by sid."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_sid: dict[str, Connection] = {}
        # The record of a sid, or None. Every event looks one up, some twice: the
        # dict's own method is a C call, a method wrapping it a Python frame more.
        self.get: Callable[[str], Connection | None] = self._by_sid.get

    def add(self, connection: Connection) -> None:
        with self._lock:
            self._by_sid[connection.sid] = connection

    def pop(self, sid: str) -> Connection | None:
        with self._lock:
            return self._by_sid.pop(sid, None)

    def sids(self) -> list[str]:
        with self._lock:
            return list(self._by_sid)

    def counts(self) -> dict[str, int]:
        with self._lock:
            connections = list(self._by_sid.values())
        return {
            "connections": len(connections),
            "batching": sum(1 for c in connections if c.batching),
            "typing": sum(1 for c in connections if c.typing_at),
        }
