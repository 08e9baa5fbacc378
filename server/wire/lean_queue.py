"""Under eventlet and gevent, a connection's outgoing queue costs nothing while it is
empty and nobody waits on it.

Engine.IO makes a queue per connection (gevent's `JoinableQueue`, eventlet's
`Queue`) and keeps it for the connection's life: 2.5 KiB under gevent and 1.4 KiB
under eventlet per idle websocket (tracemalloc, bench/ scenario B), with its deque,
its locks and its events. A websocket's queue is nearly always empty: the
broadcaster writes into an idle socket directly (framed_broadcast.py) and the writer
runs only while something is queued (writer_on_demand.py). `LeanQueue` has the same
calls (put, get with block and timeout, task_done, join, empty, qsize) and holds a
deque only while it has items, and an event only while someone waits: an idle one is
a 64-byte object. Waiting is built on the async mode's own event, so a long-polling
client's blocking get works as before.

Cooperative green threads only: nothing runs between a check and the change that
follows it unless the code waits, so no lock is needed. Threading keeps stock
queues. Replaces the queue `engineio.base_socket.BaseSocket.__init__` makes, for
servers that opt in (`install`); see wire/versions.py. Measured with bench/
scenario B: see bench/analysis.md. To remove: drop the `lean_queue.install` call in
wire/__init__.py.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import engineio
from engineio import base_socket

_STOCK_INIT = base_socket.BaseSocket.__init__


class LeanQueue:
    """A FIFO queue for one connection (see above). `event_factory` and `empty_error`
    are set per async mode by `queue_class`."""

    __slots__ = ("_items", "_unfinished", "_arrived", "_all_done")

    event_factory: Callable[[], Any]
    empty_error: type[Exception]

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._unfinished = 0
        self._arrived: Any = None  # set by the next put; made by a waiting getter
        self._all_done: Any = None  # set when task_done reaches zero; made by join

    def put(self, item: Any) -> None:
        items = self._items
        if items is None:
            items = self._items = deque()
        items.append(item)
        self._unfinished += 1
        arrived = self._arrived
        if arrived is not None:
            # Every waiting getter wakes; those that find it taken wait anew.
            self._arrived = None
            arrived.set()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not self._items:
            if not block:
                raise self.empty_error
            self._wait_for_item(timeout)
        items = self._items
        assert items is not None
        item = items.popleft()
        if not items:
            self._items = None
        return item

    def _wait_for_item(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._items:
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self.empty_error
            arrived = self._arrived
            if arrived is None:
                arrived = self._arrived = self.event_factory()
            arrived.wait(remaining)

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0:
            all_done = self._all_done
            if all_done is not None:
                self._all_done = None
                all_done.set()

    def join(self) -> None:
        """Wait until every item put has been marked done."""
        while self._unfinished:
            all_done = self._all_done
            if all_done is None:
                all_done = self._all_done = self.event_factory()
            all_done.wait()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0


def queue_class(eio: engineio.Server) -> type[LeanQueue]:
    """LeanQueue with `eio`'s async mode's event and empty-queue error."""
    async_ = eio._async

    class ModeLeanQueue(LeanQueue):
        __slots__ = ()
        event_factory = staticmethod(async_["event"])
        empty_error = async_["queue_empty"]

    return ModeLeanQueue


def _init(self: Any, server: Any, sid: Any) -> None:
    """BaseSocket.__init__, with a LeanQueue on servers that opted in."""
    _STOCK_INIT(self, server, sid)
    lean = getattr(server, "_chat_lean_queue", None)
    if lean is not None:
        self.queue = lean()


def install(eio: engineio.Server, async_mode: str) -> bool:
    """`eio`'s connections get LeanQueues (eventlet and gevent; threading keeps
    stock queues, which real threads need)."""
    if async_mode not in ("eventlet", "gevent"):
        return False
    eio._chat_lean_queue = queue_class(eio)
    _init.__wrapped__ = _STOCK_INIT  # type: ignore[attr-defined]
    base_socket.BaseSocket.__init__ = _init
    return True
