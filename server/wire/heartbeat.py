"""One heartbeat task for every Engine.IO connection, instead of one per connection.

Replaces `engineio.socket.Socket.schedule_ping` (python-engineio 4.15, pinned; see
wire/versions.py) for servers that opt in (`install`). Stock Engine.IO starts a
background task per connection for every ping cycle, which sleeps `ping_interval`
and then sends a PING: 5,000 idle clients keep 5,000 sleeping green threads, each
holding its slice of the stack (an OS thread each under threading). Here a
connection due for a ping joins one queue, in due order since every connection has
the same interval, and one task sends each PING when it is due (within
TICK_SECONDS). Pong handling is Engine.IO's, unchanged. A PING still unanswered
ping_timeout after it left closes its connection (engine_socket.close_unanswered):
stock Engine.IO noticed that only when something was next sent to the connection,
or when its writer had waited ping_interval + ping_timeout for a packet, and that
writer now runs only while something is queued (writer_on_demand.py).
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

from wire.engine_socket import close_unanswered

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
        # (deadline, connection, when its PING left): pongs owed, in deadline order.
        self._owed: deque[tuple[float, Any, float]] = deque()
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
        """Sends every PING due by `now` and closes every connection whose pong is
        overdue; the seconds until the next of either is due."""
        return min(self._close_silent(now), self._send_pings(now))

    def _send_pings(self, now: float) -> float:
        while True:
            entry, wait = self._take_due(self._due, now)
            if entry is None:
                return wait
            engine_socket = entry[1]
            try:
                sent_at = _ping(engine_socket)
            except Exception:
                log.exception("sending a ping failed")
                continue
            if sent_at is not None:
                with self._lock:
                    deadline = now + self._eio.ping_timeout
                    self._owed.append((deadline, engine_socket, sent_at))

    def _close_silent(self, now: float) -> float:
        while True:
            entry, wait = self._take_due(self._owed, now)
            if entry is None:
                return wait
            _, engine_socket, sent_at = entry
            # A pong clears last_ping (schedule_ping), and the next PING sets anew.
            if (
                engine_socket.last_ping == sent_at
                and not engine_socket.closing
                and not engine_socket.closed
            ):
                try:
                    close_unanswered(engine_socket)
                except Exception:
                    log.exception("closing a silent connection failed")

    def _take_due(self, entries: deque[Any], now: float) -> tuple[Any, float]:
        """The first of `entries` (due time first, in due order) if it is due by
        `now`, taken off; otherwise None and the seconds to sleep until it is."""
        with self._lock:
            if not entries:
                return None, TICK_SECONDS
            due = entries[0][0]
            if due > now:
                return None, min(max(due - now, 0.01), TICK_SECONDS)
            return entries.popleft(), 0.0


def _ping(engine_socket: Any) -> float | None:
    """What Engine.IO's `_send_ping` does after its sleep; when the PING left."""
    if engine_socket.closing or engine_socket.closed:
        return None
    engine_socket.last_ping = sent_at = time.time()
    engine_socket.send(packet.Packet(packet.PING))
    return sent_at


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
