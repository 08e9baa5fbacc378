"""Under eventlet, a websocket is read by a green thread of its own, and the
request's green thread ends.

eventlet's WSGI server serves each connection on one green thread of its pool. For
a websocket that thread then blocks in its read for the connection's whole life, at
the bottom of the request's call chain (the WSGI server's protocol object, eventlet's
websocket server, Flask, Engine.IO and ours); while parked it keeps a copy of its
slice of the C stack, the pages of its Python frames and the protocol object with
the request's environ, headers and buffers. Here, once Engine.IO has the websocket,
its handler runs on a new green thread (`hand_over`), whose chain is only that
handler, and the request's green thread finishes without closing
anything: eventlet's websocket server skips its closing frame, the protocol's
`finish` closes only its buffers (`make_protocol_class`), and the server's cleanup
after the request is given a stand-in to close instead of the socket. From then on
the new green thread owns the connection: when its handler returns it sends the
closing frame and shuts and closes the socket, as the request's thread did.

The connection takes a slot in the server's pool (`POOL_KEY` in the environ) and
holds it until it ends, so the pool's size still caps open connections; its green
thread runs outside the pool, because it may end while the websocket is idle and
a new one start when it is readable (resting.py). With the pool full the handler
runs on the request's thread as before, and never rests. A request that announces
a body (no websocket client sends one) is served on its own thread too.

Replaces the end of eventlet 0.41.3's `WebSocketWSGI.__call__` and of
`HttpProtocol.finish` (see wire/versions.py). Measured with bench/ scenario B
(eventlet, RSS per idle connection): see bench/analysis.md. To remove: drop the
`eventlet_handover.install` call in wire/__init__.py (the protocol subclass then
behaves as stock).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import http.server
import logging
from collections.abc import Callable
from typing import Any

import engineio

from wire import attribute_names, eventlet_reader, handover, resting
from wire.handover import App, announces_body
from wire.lean_send_lock import lean_send_lock

log = logging.getLogger("chat.wire")

# The environ key under which serving.py puts the WSGI server's green pool.
POOL_KEY = "chat.green_pool"
# What eventlet's websocket server ignores from a handler: the peer went away.
_CLIENT_GONE = {errno.ECONNRESET, errno.EPIPE, errno.ESHUTDOWN}


def install(eio: engineio.Server, readers_rest: bool = False) -> None:
    """`eio`'s eventlet websockets are served on green threads of their own, which
    end while their websocket is idle if `readers_rest` (resting.py)."""
    from eventlet.greenio import GreenSocket
    from eventlet.websocket import RFC6455WebSocket

    handover.install(eio, functools.partial(hand_over, readers_rest=readers_rest))
    eventlet_reader.install()
    # What hand_over sets (see attribute_names.py).
    attribute_names.reserve(GreenSocket, ("_chat_handed_over",))
    attribute_names.reserve(RFC6455WebSocket, ("_send_closing_frame", "_chat_may_rest"))


def hand_over(ws: Any, app: App, readers_rest: bool = False) -> None:
    """Run Engine.IO's websocket handler `app` on a green thread of its own (see
    above); the request's thread returns at once."""
    environ = ws.environ
    pool = environ.get(POOL_KEY)
    if pool is None or announces_body(environ):
        app(ws)
        return
    from eventlet import greenthread
    from eventlet.websocket import RFC6455WebSocket

    # The connection's slot in the pool, held until it ends: its green threads
    # (one, or one per waking if it rests) run outside the pool. With the pool
    # full the handler runs on the request's thread, as the pool would run it.
    own_slot = pool.sem.acquire(blocking=False)

    sock = ws.socket
    # Read by the protocol's `finish` on the request's thread.
    sock._chat_handed_over = True
    # Its only reference to the request's protocol object, which would otherwise
    # outlive the request (eventlet's websocket server already called it).
    environ.pop("eventlet.set_idle", None)
    if isinstance(ws, RFC6455WebSocket):
        # A deque only the legacy protocol's `wait` reads (0.7 KiB per connection).
        # Deleted by name: reading `ws.__dict__` would give `ws` a dict of its own
        # (attribute_names.py).
        with contextlib.suppress(AttributeError):
            del ws._msgs
        # Nothing has been sent through it yet (see lean_send_lock.py).
        ws._sendlock = lean_send_lock()
        # Its unstarted generator of messages, which eventlet_reader.wait does
        # without.
        ws.iterator = None
        if readers_rest and own_slot:
            ws._chat_may_rest = True
    # eventlet's websocket server sends a closing frame as soon as this returns,
    # with nothing in between that yields; the new thread sends it when it ends.
    ws._send_closing_frame = _not_yet
    if own_slot:
        greenthread.spawn_n(_serve, ws, functools.partial(app, ws), sock, pool.sem)
    else:
        _serve(ws, functools.partial(app, ws), sock, None)


def _not_yet(*args: Any, **kwargs: Any) -> None:
    return None


def handed_over(sock: Any) -> bool:
    return bool(getattr(sock, "_chat_handed_over", False))


def _serve(ws: Any, read: Callable[[], Any], sock: Any, slot: Any) -> None:
    """The handler (`read`), then what eventlet's websocket and WSGI servers did
    after it: a closing frame, then shut and close the socket, and give back the
    connection's `slot` in the pool. If the handler rests instead, this green
    thread ends, and a new one reads on once the socket is readable."""
    outcome = None
    try:
        outcome = read()
    except OSError as error:
        if error.errno not in _CLIENT_GONE:
            log.exception("websocket handler failed")
    except Exception:
        log.exception("websocket handler failed")
    finally:
        if isinstance(outcome, resting.Rest):
            _wake_when_readable(ws, outcome, sock, slot)
        else:
            _close(ws, sock)
            if slot is not None:
                slot.release()


def _wake_when_readable(ws: Any, rest: resting.Rest, sock: Any, slot: Any) -> None:
    """Start a green thread serving `rest.resume` once `sock` is readable, or
    closed (it then finds out why): at once if it is closed already (the
    websocket's own close, after a close frame, closes it)."""
    from eventlet import greenthread, hubs

    if sock.fileno() < 0:
        greenthread.spawn_n(_serve, ws, rest.resume, sock, slot)
        return
    hub = hubs.get_hub()
    listener: Any = None

    def wake(*_: Any) -> None:
        nonlocal listener
        if listener is None:
            return  # woken already
        rest.bell.wake = None
        # Already gone if the hub found the file number reused (the socket was
        # closed meanwhile): the hub then calls this as its `mark_as_closed`.
        with contextlib.suppress(KeyError, ValueError):
            hub.remove(listener)
        listener = None
        greenthread.spawn_n(_serve, ws, rest.resume, sock, slot)

    listener = hub.add(hub.READ, sock.fileno(), wake, wake, wake)
    rest.bell.wake = wake


def _close(ws: Any, sock: Any) -> None:
    from eventlet import greenio

    try:
        type(ws)._send_closing_frame(ws, True)
    except Exception:  # the peer is gone; the socket is closed below
        pass
    greenio.shutdown_safe(sock)
    sock.close()


class _LeftOpen:
    """Closed by eventlet's cleanup after a handed-over request, in the socket's
    place: the socket belongs to its websocket's green thread."""

    __slots__ = ()

    def shutdown(self, *args: Any) -> None:
        return None

    def close(self) -> None:
        return None


LEFT_OPEN = _LeftOpen()


def make_protocol_class(base: type) -> type:
    """`base` (eventlet's HttpProtocol), leaving a handed-over socket open."""

    class HandingOverProtocol(base):  # type: ignore[misc]
        connection: Any
        conn_state: list[Any]

        def finish(self) -> None:
            """eventlet's finish, except that a handed-over socket is left open:
            only the request's buffers are flushed and closed."""
            if not handed_over(self.connection):
                super().finish()
                return
            try:
                http.server.BaseHTTPRequestHandler.finish(self)
            except OSError:
                pass  # the peer is gone; the websocket's thread finds out
            # The server shuts and closes conn_state[1] once the request's green
            # thread ends (eventlet.wsgi.server's _clean_connection).
            self.conn_state[1] = LEFT_OPEN

    return HandingOverProtocol
