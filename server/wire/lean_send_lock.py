"""An eventlet websocket's send lock holds no deque until a sender has to wait.

eventlet's websocket makes a `Semaphore` per connection to keep its frames whole,
and the semaphore makes a deque for its waiters at once: 0.74 KiB per idle
websocket (tracemalloc, bench/ scenario B, 1,000 clients). A connection's frames
are sent by its writer and, at the end, by its close, so a sender nearly never
waits. `lean_send_lock()` is eventlet's own `Semaphore` whose waiters are an empty
tuple until an acquire may block; from then on it is the stock code with the stock
deque. eventlet_handover.py puts one on every websocket it hands over, before any
frame is sent. Replaces `eventlet.websocket.WebSocket._sendlock`; to remove, drop
that line in eventlet_handover.hand_over.
"""

from __future__ import annotations

import collections
import functools
from typing import Any


@functools.cache
def _lean_semaphore() -> type[Any]:
    from eventlet.semaphore import Semaphore  # eventlet is imported in its mode only

    class LeanSemaphore(Semaphore):  # type: ignore[misc]
        def __init__(self, value: int = 1) -> None:
            self.counter = value
            self._waiters: Any = ()  # as empty and as falsy as the deque

        def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
            # Nothing yields between this check and the stock acquire's.
            if blocking and self.counter <= 0 and not self._waiters:
                self._waiters = collections.deque()
            return bool(super().acquire(blocking, timeout))

    return LeanSemaphore


def lean_send_lock() -> Any:
    """A free lock (eventlet `Semaphore(1)`) that costs no deque while uncontended."""
    return _lean_semaphore()()
