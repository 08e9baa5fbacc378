"""Who may open a connection: a rate per address, and a cap on open ones per address.

New connections per address go through a moving window from the `limits` package
(a burst, then a few per second), and open connections per address are capped
generously, since a campus or an office may chat from behind one address.
"""

from __future__ import annotations

import threading
from collections import Counter

from limits import RateLimitItem, parse, storage, strategies


class Admission:
    """Counts open connections per address and rate-limits new ones."""

    def __init__(self, connect_rate: str, max_per_address: int) -> None:
        self._rate: RateLimitItem = parse(connect_rate)
        self._window = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._max_per_address = max_per_address
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()  # open[address] = connections

    def admit(self, address: str) -> str | None:
        """Count a new connection from `address`, or return why it is refused."""
        with self._lock:
            if self._open[address] >= self._max_per_address:
                return "too_many_connections"
            if not self._window.hit(self._rate, address):
                return "connecting_too_fast"
            self._open[address] += 1
            return None

    def release(self, address: str) -> None:
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"addresses": len(self._open), "open": sum(self._open.values())}
