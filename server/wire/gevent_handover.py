"""Under gevent, a websocket is read by a green thread of its own, and the request's
green thread ends.

gevent's WSGI server serves each connection on one green thread. For a websocket
that thread then blocks in its read for the connection's whole life, at the bottom
of the request's call chain (the WSGI server, gevent-websocket, Flask, Engine.IO and
ours); while parked it keeps a copy of its slice of the C stack (6.3 KiB,
tracemalloc) and the pages of its Python frames. Here, once Engine.IO has the
websocket, its handler runs on a new green thread (`hand_over`) whose chain is only
that handler, and the request's green thread finishes without closing anything:
`WebSocketHandler.run_websocket` leaves a handed-over websocket open, `handle()`
finds no socket to close, and the server skips its close after the handler
(`HandingOverServer.keep_open`). From then on the new green thread owns the
connection: when its handler returns it closes the websocket, the read buffer and
the socket, as the request's thread did. The request's handler object (headers,
environ, response state) goes too: the websocket keeps a stand-in with the two
things it asks the handler for, shared by every connection (`AfterRequest`), and
the environ it was made with gives way to Engine.IO's copy of it.

A request that announces a body (no websocket client sends one) is served on its
own thread as before: gevent would read the rest of the body there after the
application returns, and two readers of one socket would corrupt both.

Replaces gevent-websocket 0.10.1's `WebSocketHandler.run_websocket` and gevent's
`StreamServer.do_close` in serving.py's subclasses (see wire/versions.py).
Measured with bench/ scenario B (gevent, RSS per idle connection): see
bench/analysis.md. To remove: drop the `gevent_handover.install` call in
wire/__init__.py (the subclasses then behave as stock).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import engineio

from wire import handover, resting
from wire.handover import App, announces_body

log = logging.getLogger("chat.wire")


def install(eio: engineio.Server, readers_rest: bool = False) -> None:
    """`eio`'s gevent websockets are served on green threads of their own, which
    end while their websocket is idle if `readers_rest` (resting.py)."""
    handover.install(eio, functools.partial(hand_over, readers_rest=readers_rest))


def hand_over(ws: Any, app: App, readers_rest: bool = False) -> Any:
    """Run Engine.IO's websocket handler `app` on a green thread of its own (see
    above); the request's thread returns at once."""
    import gevent

    if announces_body(ws.environ):
        return app(ws)
    websocket = ws._sock
    if readers_rest:
        websocket._chat_may_rest = True
    handler = websocket.handler
    rfile, sock = handler.rfile, handler.socket
    handler._chat_handed_over = True
    # The request's handler (its headers, environ and response state) goes with
    # its green thread: the websocket asks it only for the server and the logger.
    websocket.handler = websocket.stream.handler = _after_request(handler)
    # The request's environ goes too: the websocket reads the few entries it asks
    # for (origin, path) from Engine.IO's shallow copy, which the session keeps.
    websocket.environ = ws.environ
    gevent.spawn_raw(_serve, ws, functools.partial(app, ws), rfile, sock)
    return []


class AfterRequest:
    """What a handed-over websocket still asks its request's handler for (gevent-
    websocket's `current_app` and `logger`); one per server."""

    __slots__ = ("server", "logger")

    def __init__(self, server: Any, logger: Any) -> None:
        self.server, self.logger = server, logger


def _after_request(handler: Any) -> AfterRequest:
    server = handler.server
    stand_in = getattr(server, "_chat_after_request", None)
    if stand_in is None:
        stand_in = server._chat_after_request = AfterRequest(server, handler.logger)
    return stand_in


def socket_of(websocket: Any) -> Any:
    """The socket under gevent-websocket's `websocket`: the one its writes go to
    (its request's handler lets go of it once the websocket is handed over)."""
    return websocket.raw_write.__self__


def handed_over(handler: Any) -> bool:
    return bool(getattr(handler, "_chat_handed_over", False))


def _serve(ws: Any, read: Callable[[], Any], rfile: Any, sock: Any) -> None:
    """The handler (`read`), then what gevent-websocket and gevent did after it:
    close the websocket (a close frame if still open), the read buffer and the
    socket. If the handler rests instead, this green thread ends, and a new one
    reads on once the socket is readable."""
    outcome = None
    try:
        outcome = read()
    except Exception:
        log.exception("websocket handler failed")
    finally:
        if isinstance(outcome, resting.Rest):
            _wake_when_readable(ws, outcome, rfile, sock)
        else:
            _close(ws, rfile, sock)


def _wake_when_readable(ws: Any, rest: resting.Rest, rfile: Any, sock: Any) -> None:
    """Start a green thread serving `rest.resume` once `sock` is readable (or
    closed), waiting on the socket's own read watcher (idle while nobody reads)."""
    import gevent

    if sock.fileno() < 0:  # closed already: it finds out at once
        gevent.spawn_raw(_serve, ws, rest.resume, rfile, sock)
        return
    watcher = sock._read_event

    def wake() -> None:
        rest.bell.wake = None
        watcher.stop()
        gevent.spawn_raw(_serve, ws, rest.resume, rfile, sock)

    rest.bell.wake = wake
    watcher.start(wake)


def _close(ws: Any, rfile: Any, sock: Any) -> None:
    websocket = ws._sock
    try:
        if not websocket.closed:
            websocket.close()
    except Exception:  # the peer is gone; the socket is closed below
        pass
    rfile.close()  # its reference to the socket would keep it open
    _discard_unread(sock)
    sock.close()


# The most unread input dropped before a close: more than any client sends between
# its last frame and the server's close frame.
DISCARD_LIMIT_BYTES = 1 << 20


def _discard_unread(sock: Any) -> None:
    """Read and drop what the client sent that nobody will read, without waiting.
    Closing a socket with unread input ends the connection with a reset instead of
    an orderly end, and the client's kernel may then drop the server's last frames
    (its close frame among them) before the client has read them. The read buffer
    used to take in what had come with each read; frames read off the OS socket
    (gevent_reads.py) leave the rest in the kernel."""
    raw = getattr(sock, "_sock", None)
    dropped = 0
    while raw is not None and dropped < DISCARD_LIMIT_BYTES:
        try:
            data = raw.recv(65536)
        except OSError:  # nothing more now (non-blocking), or closed already
            return
        if not data:
            return
        dropped += len(data)


def make_handler_class(base: type) -> type:
    """`base` (gevent-websocket's handler), leaving a handed-over websocket open."""

    class HandingOverHandler(base):  # type: ignore[misc]
        websocket: Any
        application: Any
        environ: Any
        socket: Any
        server: Any

        def run_websocket(self) -> None:
            """gevent-websocket's run_websocket, except that a websocket handed
            over to its own green thread is left open, and so is its socket (the
            `server.clients` registry it also kept is used by nothing here)."""
            websocket = self.websocket
            try:
                list(self.application(self.environ, lambda s, h, e=None: []))
            finally:
                self.websocket = None
                if handed_over(self):
                    self.server.keep_open(self.socket)
                    self.socket = None  # handle() closes nothing
                else:
                    if not websocket.closed:
                        websocket.close()
                    self.environ.update({"wsgi.websocket": None})

    return HandingOverHandler


def make_server_class(base: type) -> type:
    """`base` (gevent's WSGI server), not closing a handed-over socket."""

    class HandingOverServer(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._kept_open: set[Any] = set()

        def keep_open(self, sock: Any) -> None:
            """Leave `sock` open when its request's handler returns."""
            self._kept_open.add(sock)

        def do_close(self, sock: Any, *args: Any) -> None:
            if sock in self._kept_open:
                self._kept_open.discard(sock)
                return
            super().do_close(sock, *args)

    return HandingOverServer
