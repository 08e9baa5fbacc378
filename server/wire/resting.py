"""An idle websocket's reader gives up its green thread until the socket is readable.

Under eventlet and gevent each websocket is read by a green thread parked in its
read between messages. A parked green thread keeps a copy of its slice of the C
stack (2–3 KiB) and its own chunk of Python's frame stack: 16 KiB mapped per green
thread, of which the pages its deepest handler touched (a join's, typically two)
stay resident for as long as it waits. For an idle connection that is most of what
it costs (bench/ scenario B; bench/analysis.md).

So a reader that has had nothing to read for REST_AFTER_SECONDS, at a message
boundary (nothing of a message read yet), rests: its read raises `Resting`, each
layer of the handler returns a `Rest` instead of ending (`after` keeps what each
layer does at the end for when the connection really ends), and the outermost
layer, the handover's green thread, asks the event loop to call it back once the
socket is readable, and ends. The call back starts a new green thread that resumes
reading where the last one stopped. A busy connection never rests (its next
message comes sooner), so it pays nothing per message; a quiet one pays a green
thread's start when it speaks again (about 25 µs here).

A resting reader no longer waits with the socket's timeout: the heartbeat
(wire/heartbeat.py) closes a silent client, and the closed socket is readable.
Where rests are allowed: gevent_handover.py and eventlet_handover.py (the
outermost layer), writer_on_demand.py (the read loop), websocket_limits.py (the
wait at a message boundary).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Silence after which a reader rests: longer than the gaps within a burst of
# messages or between a bot's, shorter than a person's between two messages.
REST_AFTER_SECONDS = 1.0


class Resting(Exception):
    """Raised by a websocket's read at a message boundary: nothing came within
    REST_AFTER_SECONDS, and nothing of the next message has been read."""


class Bell:
    """Wakes a resting reader without its socket becoming readable: the writer
    rings it when it closes the websocket (eventlet's close closes the socket, so
    the event loop never reports it readable; a peer that ignores the close frame
    would leave a gevent reader resting for good)."""

    __slots__ = ("wake",)

    def __init__(self) -> None:
        self.wake: Callable[[], None] | None = None

    def ring(self) -> None:
        wake, self.wake = self.wake, None
        if wake is not None:
            wake()


class Rest:
    """What a resting reader's handler returns: `resume()` reads on, and returns
    what the handler would have (or another Rest); `bell` wakes it early."""

    __slots__ = ("resume", "bell")

    def __init__(self, resume: Callable[[], Any], bell: Bell) -> None:
        self.resume = resume
        self.bell = bell


def after(read: Callable[[], Any], finish: Callable[[], None]) -> Any:
    """`read()`, then `finish()` once reading has really ended (returned or
    raised); if it rests instead, the same for its resumption."""
    try:
        outcome = read()
    except BaseException:
        finish()
        raise
    if isinstance(outcome, Rest):
        resume = outcome.resume
        return Rest(lambda: after(resume, finish), outcome.bell)
    finish()
    return outcome


def waiting_through_rests(read: Callable[[], Any]) -> Callable[[], Any]:
    """`read`, going on waiting where a rest would leave a half-done exchange (the
    upgrade from long-polling)."""

    def read_without_rest() -> Any:
        while True:
            try:
                return read()
            except Resting:
                continue

    return read_without_rest
