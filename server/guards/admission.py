"""Who may open a connection: a rate per address, and a cap on open ones per address.

Counted at the Engine.IO handshake, so that every session counts (long-polling
sessions and websockets that never connect to the Socket.IO namespace too). New
connections per address go through a moving window (a burst, then a few per
second), and open connections per address are capped generously, since a campus or
an office may chat from behind one address.

The window is ours rather than the `limits` package's MemoryStorage: that one keeps
an entry for every address it ever saw and scans all of them on each new hit (0.6-1.2
s on the event loop with 200,000 addresses). Here a hit is O(1) and addresses that
fell out of the window are dropped as new hits arrive, oldest first.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable

from limits import parse


class MovingWindow:
    """At most `limit` hits per `window` seconds for each key."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        # hits[key] = recent hit times; least recently hit keys first
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    @classmethod
    def from_rate(
        cls, rate: str, clock: Callable[[], float] = time.monotonic
    ) -> MovingWindow:
        """From a rate such as '30 per 10 seconds' (the `limits` notation)."""
        item = parse(rate)
        return cls(item.amount, float(item.get_expiry()), clock)

    def hit(self, key: str) -> bool:
        """Count a hit for `key`; False (and not counted) when over the limit."""
        now = self._clock()
        self._forget_idle(now)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        else:
            self._hits.move_to_end(key)
        while hits and now - hits[0] >= self._window:
            hits.popleft()
        if len(hits) >= self._limit:
            return False
        hits.append(now)
        return True

    def __len__(self) -> int:
        return len(self._hits)

    def _forget_idle(self, now: float) -> None:
        hits = self._hits
        while hits:
            oldest = next(iter(hits.values()))
            if oldest and now - oldest[-1] < self._window:
                return
            hits.popitem(last=False)


class Admission:
    """Counts open connections per address and rate-limits new ones."""

    def __init__(
        self,
        connect_rate: str,
        max_per_address: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = MovingWindow.from_rate(connect_rate, clock)
        self._max_per_address = max_per_address
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()  # open[address] = connections

    def admit(self, address: str) -> str | None:
        """Count a new connection from `address`, or return why it is refused."""
        with self._lock:
            if self._open[address] >= self._max_per_address:
                return "too_many_connections"
            if not self._window.hit(address):
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
            return {
                "addresses": len(self._open),
                "open": sum(self._open.values()),
                "remembered": len(self._window),
            }
