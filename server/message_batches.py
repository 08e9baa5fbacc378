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

Order is kept: a batch is in seq order; under eventlet and gevent so is a room's
sequence of batches (under threading two handlers may number messages in one order
and add them in the other, as without batches; clients merge by seq). One lock
orders the sends, and a room's pending batch is flushed before any other event goes
to that room.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import socketio

log = logging.getLogger("chat.batches")

Message = dict[str, Any]


class MessageBatches:
    """Pending `messages` batches per room, and the task that sends them."""

    def __init__(self, sio: socketio.Server, channel: Callable[[str], str]) -> None:
        self._sio = sio
        self._channel = channel
        self._pending: dict[str, list[Message]] = {}
        self._pending_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = sio.eio.create_queue()
        self._start_lock = threading.Lock()
        self._started = False
        self.batches_sent = 0
        self.messages_sent = 0

    def add(self, room: str, message: Message) -> None:
        """Queue `message` for the room's batch clients; the flusher sends it soon."""
        with self._pending_lock:
            batch = self._pending.get(room)
            if batch is not None:
                batch.append(message)
                return
            wake = not self._pending
            self._pending[room] = [message]
        if wake:
            self._start_once()
            self._wake.put(True)

    def flush(self, room: str) -> None:
        """Send `room`'s pending batch now (before another event goes to the room)."""
        with self._send_lock:
            with self._pending_lock:
                batch = self._pending.pop(room, None)
            if batch:
                self._send(room, batch)

    def flush_all(self) -> None:
        with self._send_lock:
            with self._pending_lock:
                pending, self._pending = self._pending, {}
            for room, batch in pending.items():
                self._send(room, batch)

    def pending_count(self) -> int:
        with self._pending_lock:
            return sum(len(batch) for batch in self._pending.values())

    def _send(self, room: str, batch: list[Message]) -> None:
        # Under threading, handlers that numbered messages 5 and 6 may add them the
        # other way round; within a batch the order is restored (nearly free when
        # already sorted). Across batches it is not: clients merge by seq.
        batch.sort(key=_seq)
        self._sio.emit("messages", batch, to=self._channel(room))
        self.batches_sent += 1
        self.messages_sent += len(batch)

    def _start_once(self) -> None:
        with self._start_lock:
            if self._started:
                return
            self._started = True
        self._sio.start_background_task(self._run)

    def _run(self) -> None:
        while True:
            self._wake.get()
            try:
                self.flush_all()
            except Exception:
                log.exception("sending message batches failed")


def _seq(message: Message) -> int:
    return int(message["seq"])
