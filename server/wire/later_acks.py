"""Acknowledgements sent after the handler returned: a connection's next message is
read while its previous one is in the store's round trip.

With Redis, storing a message is a round trip (state/script_pipeline.py). Handled in
order by the connection's reader (app.py: async_handlers=False), each message used
to wait for it before the next one was read: one message per sender in flight, so
the store's pipelines and the rooms' batches stayed at one message however busy the
node was. Now the `message` handler hands the store its work and returns a
`LaterAck`; the reader goes on, and each LaterAck is settled when Redis has answered,
in the order the messages came (one pipeline, answered in order): the room hears
the message, then its sender gets the ack.

A connection's order holds: any other event of the connection (a join, an edit, a
leave...) and its disconnect wait until its messages in flight are settled, a
message refused before reaching the store is answered after them, and at most
MAX_IN_FLIGHT of them are in flight at once: acks come back in the order sent.

Replaces python-socketio's `Server._handle_event_internal` (the ack of a LaterAck
is sent when it settles). To remove: drop `later_acks.install` in wire/__init__.py;
the handler then waits for the store, as it did before.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("chat.wire")

# Messages of one connection stored at once, at most.
MAX_IN_FLIGHT = 16
# How long an event waits for its connection's messages before going ahead anyway
# (the store's own deadlines answer long before this).
WAIT_LIMIT_SECONDS = 30.0

Answer = Callable[[], Any]
Reply = Callable[[Any], None]
Failure = Callable[[Exception], Any]


class LaterAck:
    """An event's answer that comes after its handler returned.

    `settle(answer)` says the result is in; `arm(reply)` says where the ack goes.
    Whichever comes second runs `answer()` (the room hears the message, the ack is
    built) and hands the ack to `reply`; a failure in `answer` goes to `fail` (the
    request guard's: an `error` event and an error ack). Then it is `finished`.

    One per message, so nothing is made per message that is not needed: the state
    changes under one lock shared by all (they never wait inside it; a native one
    once installed, wire/native_lock.py), and an event to wait on only for a waiter.
    """

    __slots__ = ("_answer", "_reply", "fail", "finished", "_waiter")
    _guard: Any = threading.Lock()

    def __init__(self) -> None:
        self._answer: Answer | None = None
        self._reply: Reply | None = None
        self.fail: Failure | None = None
        self.finished = False
        self._waiter: threading.Event | None = None

    def settle(self, answer: Answer) -> None:
        with self._guard:
            self._answer = answer
            ready = self._reply is not None
        if ready:
            self._finish()

    def arm(self, reply: Reply) -> None:
        with self._guard:
            self._reply = reply
            ready = self._answer is not None
        if ready:
            self._finish()

    def wait(self, timeout: float) -> bool:
        """Whether it finished within `timeout` seconds."""
        with self._guard:
            if self.finished:
                return True
            if self._waiter is None:
                self._waiter = threading.Event()
            waiter = self._waiter
        return waiter.wait(timeout)

    def _finish(self) -> None:
        assert self._answer is not None and self._reply is not None
        try:
            try:
                ack = self._answer()
            except Exception as failure:
                if self.fail is None:
                    raise
                ack = self.fail(failure)
            self._reply(ack)
        except Exception:
            log.exception("a late acknowledgement failed")
        finally:
            with self._guard:
                self.finished = True
                waiter = self._waiter
            if waiter is not None:
                waiter.set()


class InFlight:
    """Each connection's LaterAcks not yet settled, oldest first."""

    def __init__(self, lock: Any = None) -> None:
        self._lock = lock if lock is not None else threading.Lock()
        self._by_sid: dict[str, deque[LaterAck]] = {}

    def add(self, sid: str, later: LaterAck) -> None:
        with self._lock:
            flying = self._by_sid.get(sid)
            if flying is None:
                self._by_sid[sid] = deque((later,))
                return
            _drop_finished(flying)
            flying.append(later)

    def wait(self, sid: str, leave: int = 0) -> None:
        """Until at most `leave` of `sid`'s messages are in flight (they settle in
        order, so waiting for one is waiting for all before it)."""
        with self._lock:
            flying = self._by_sid.get(sid)
            if flying is None:
                return
            _drop_finished(flying)
            if len(flying) <= leave:
                if not flying:
                    del self._by_sid[sid]
                return
            last = flying[len(flying) - leave - 1]
        if not last.wait(WAIT_LIMIT_SECONDS):
            log.warning("sid=%s: a message's store answer is late; going on", sid)

    def forget(self, sid: str) -> None:
        with self._lock:
            self._by_sid.pop(sid, None)

    def count(self) -> int:
        """Messages in flight on every connection (for /metrics)."""
        with self._lock:
            return sum(
                sum(1 for later in flying if not later.finished)
                for flying in self._by_sid.values()
            )


def _drop_finished(flying: deque[LaterAck]) -> None:
    """The settled ones at the front (they settle in order)."""
    while flying and flying[0].finished:
        flying.popleft()


def install(sio: Any, in_flight: InFlight) -> None:
    """Let `sio`'s handlers answer with a LaterAck; its ack goes out when settled."""
    from socketio import packet

    from wire.native_lock import native_lock

    LaterAck._guard = native_lock()

    def send_ack(eio_sid: str, namespace: str, id: Any, ack: Any) -> None:
        # As python-socketio does: a tuple is several arguments, None none.
        if ack is None:
            args = []
        elif isinstance(ack, tuple):
            args = list(ack)
        else:
            args = [ack]
        sio._send_packet(
            eio_sid, sio.packet_class(packet.ACK, namespace=namespace, id=id, data=args)
        )

    def handle(
        server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str, id: Any
    ) -> None:
        event = data[0]
        in_flight.wait(sid, MAX_IN_FLIGHT - 1 if event == "message" else 0)
        # The event's own handler, as _trigger_event finds it first; anything else
        # (a catch-all, a namespace class, `disconnect`'s legacy form) through it.
        on_namespace = server.handlers.get(namespace)
        handler = (
            on_namespace.get(event)
            if on_namespace is not None and type(event) is str and event != "disconnect"
            else None
        )
        if handler is not None:
            answer = handler(sid, *data[1:])
        else:
            answer = server._trigger_event(event, namespace, sid, *data[1:])
        if answer is server.not_handled:
            return
        if type(answer) is LaterAck:
            in_flight.add(sid, answer)
            if id is None:
                answer.arm(_unanswered)
            else:
                answer.arm(lambda ack: send_ack(eio_sid, namespace, id, ack))
        elif id is not None:
            # A message refused before the store (rate limit, bad payload) is still
            # answered after the messages sent before it.
            in_flight.wait(sid)
            send_ack(eio_sid, namespace, id, answer)

    sio._handle_event_internal = handle


def _unanswered(ack: Any) -> None:
    """The client asked for no ack."""
