"""One heartbeat task for every Engine.IO connection, instead of one per connection.

Replaces `engineio.socket.Socket.schedule_ping` (python-engineio 4.15, pinned; see
wire/versions.py) for servers that opt in (`install`). Stock Engine.IO starts a
background task per connection for every ping cycle, which sleeps `ping_interval`
and then sends a PING: 5,000 idle clients keep 5,000 sleeping green threads, each
holding its slice of the stack (an OS thread each under threading). Here a
connection due for a ping joins one queue, in due order since every connection has
the same interval, and one task sends each PING when it is due (within
TICK_SECONDS). Pong handling and the ping timeout are Engine.IO's, unchanged.
Measured with bench/ scenario B (5,000 idle clients, RSS per connection):
gevent 58.5 -> 49.0 KiB, eventlet 60.1 -> 52.6 KiB.
To remove: drop the `heartbeat.install(...)` call in wire/__init__.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from engineio import packet
from engineio.socket import Socket

log = logging.getLogger("chat.wire")

_STOCK_SCHEDULE_PING = Socket.schedule_ping
# The longest the heartbeat sleeps; a PING may leave up to this late.
TICK_SECONDS = 0.5


class Heartbeat:
    """The connections of one Engine.IO server waiting for their next PING."""

    def __init__(self, eio: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self._eio = eio
        self._clock = clock
        self._due: deque[tuple[float, Any]] = deque()
        self._lock = threading.Lock()
        self._running = False

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, engine_socket: Any) -> None:
        """`engine_socket` gets a PING one ping interval from now."""
        due = self._clock() + self._eio.ping_interval
        with self._lock:
            self._due.append((due, engine_socket))
            start = not self._running
            self._running = True
        if start:
            self._eio.start_background_task(self.run)

    def run(self) -> None:
        while True:
            self._eio.sleep(self.send_due(self._clock()))

    def send_due(self, now: float) -> float:
        """Sends every PING due by `now`; the seconds until the next one is due."""
        while True:
            with self._lock:
                if not self._due:
                    return TICK_SECONDS
                due, engine_socket = self._due[0]
                if due > now:
                    return min(max(due - now, 0.01), TICK_SECONDS)
                self._due.popleft()
            try:
                _ping(engine_socket)
            except Exception:
                log.exception("sending a ping failed")


def _ping(engine_socket: Any) -> None:
    """What Engine.IO's `_send_ping` does after its sleep."""
    if not engine_socket.closing and not engine_socket.closed:
        engine_socket.last_ping = time.time()
        engine_socket.send(packet.Packet(packet.PING))


def schedule_ping(self: Any) -> None:
    heartbeat = getattr(self.server, "_chat_heartbeat", None)
    if heartbeat is None:
        _STOCK_SCHEDULE_PING(self)
        return
    # Only after the previous cycle's PONG, as the stock method.
    if self.last_ping:
        self.last_ping = None
        heartbeat.schedule(self)


def install(eio: Any) -> Heartbeat:
    """`eio`'s connections share one heartbeat (other servers keep the stock one)."""
    heartbeat = Heartbeat(eio)
    eio._chat_heartbeat = heartbeat
    # What it replaces, for inspect.signature and tests/wire/test_versions.py.
    schedule_ping.__wrapped__ = _STOCK_SCHEDULE_PING  # type: ignore[attr-defined]
    Socket.schedule_ping = schedule_ping
    return heartbeat
