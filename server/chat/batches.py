"""Room messages coalesced into `messages` batches, sent when the server goes idle.

Clients that announce they accept `messages` (the React client does) sit in a second
Socket.IO room per chat room. A message for them is not sent at once: it joins the
room's pending batch, and one flusher task sends every pending batch as soon as it
gets to run, which is when the event loop has handled the I/O that was ready (under
eventlet and gevent a woken task runs after the current round of ready sockets; under
threading it competes for the interpreter). There is no timer: at low load a batch
holds the one message and leaves within a loop turn; under load batches grow with
the load, and each costs one encoding, one frame and one write per recipient however
many messages it holds.

Order: a batch is in seq order, and a room's pending batch is sent before any other
event goes to that room (the broadcaster calls `flush(room)` first). The lock here
guards only the pending lists and is never held while sending: sending can run a
disconnect (a zombie connection is found out when something is sent to it) whose
`left` flushes again, and in the Redis mode a send waits on the network. Under
eventlet and gevent in one process a send never yields, so a room's batches leave in
seq order; under threading or with Redis two batches of a room may cross, and clients
merge by seq (as they must for gap filling anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from wire.native_lock import native_lock

log = logging.getLogger("chat.batches")

Message = dict[str, Any]
Send = Callable[[str, list[Message]], None]


class MessageBatches:
    """Pending `messages` batches per room, and the loop that sends them."""

    def __init__(self, send: Send, create_queue: Callable[[], Any]) -> None:
        self._send_batch = send
        self._pending: dict[str, list[Message]] = {}  # pending[room] = messages
        self._lock = native_lock()  # never held while waiting
        self._wake = create_queue()
        self.batches_sent = 0
        self.messages_sent = 0

    def add(self, room: str, message: Message) -> None:
        """Queue `message` for the room's batch clients; the flusher sends it soon."""
        with self._lock:
            batch = self._pending.get(room)
            if batch is not None:
                batch.append(message)
                return
            wake = not self._pending
            self._pending[room] = [message]
        if wake:
            self._wake.put(True)

    def flush(self, room: str) -> None:
        """Send `room`'s pending batch now (before another event goes to the room)."""
        with self._lock:
            batch = self._pending.pop(room, None)
        if batch:
            self._send(room, batch)

    def flush_all(self) -> None:
        """Send every pending batch, one room at a time."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                room = next(iter(self._pending))
                batch = self._pending.pop(room)
            self._send(room, batch)

    def pending_count(self) -> int:
        with self._lock:
            return sum(len(batch) for batch in self._pending.values())

    def counts(self) -> dict[str, int]:
        return {"batches": self.batches_sent, "messages": self.messages_sent}

    def run(self) -> None:
        """The flusher: wakes when a room gets its first pending message."""
        while True:
            self._wake.get()
            try:
                self.flush_all()
            except Exception:
                log.exception("sending message batches failed")

    def _send(self, room: str, batch: list[Message]) -> None:
        # Under threading, handlers that numbered messages 5 and 6 may add them the
        # other way round; within a batch the order is restored (nearly free when
        # already sorted).
        batch.sort(key=_seq)
        self._send_batch(room, batch)
        self.batches_sent += 1
        self.messages_sent += len(batch)


def _seq(message: Message) -> int:
    return int(message["seq"])
