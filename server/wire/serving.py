"""Run the WSGI server that fits the async mode, sized for many idle connections.

Flask-SocketIO's `socketio.run()` cannot set the listen backlog, and eventlet's
WSGI server stops accepting at 1,024 concurrent connections unless its pool is
larger; this module owns those knobs so that one process holds 10,000+ clients.
"""

from __future__ import annotations

import logging
import resource
import socket
from typing import Any

from flask import Flask

from config import Config

log = logging.getLogger("chat.serving")

LISTEN_BACKLOG = 4096
WANTED_OPEN_FILES = 65536
# File descriptors kept back for logs, the listening socket and library internals.
RESERVED_FILES = 64
# The HTTP read buffer per connection (eventlet's write buffer too). A websocket
# keeps them for its whole life: eventlet's request handler holds both in its frames
# and never uses them after the handshake; gevent reads the websocket's frames
# through its read buffer. A request head of a few hundred bytes takes a few reads
# instead of one; a body, a response or a frame larger than the buffer bypasses it.
# Idle connection at 5,000 clients, 2 KiB -> 256 bytes: eventlet 43.4 -> 39.8 KiB,
# gevent 35.5 -> 33.6; gevent's CPU per delivery at 60k/s (bench/ab.py, four rounds
# a side): batches 16.57 -> 15.89 us, plain 17.95 -> 18.59, ranges overlapping.
HTTP_BUFFER_BYTES = 256
ACCESS_LOGGERS = ("chat.wsgi", "geventwebsocket.handler", "werkzeug")


def raise_open_files_limit() -> int:
    """Lift the open-files limit as far as allowed: one descriptor per connection.

    The soft limit goes up to the hard one; a root process may also raise the hard
    limit to WANTED_OPEN_FILES. Returns the soft limit in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        attempts = [(max(soft, WANTED_OPEN_FILES), hard)]
    else:
        wanted = max(hard, WANTED_OPEN_FILES)
        attempts = [(wanted, wanted), (hard, hard)]
    for new_soft, new_hard in attempts:
        if new_soft <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, new_hard))
            return new_soft
        except (ValueError, OSError):
            continue
    return soft


def disable_nagle(listener: socket.socket) -> None:
    """Send small frames at once: accepted sockets inherit TCP_NODELAY on Linux.

    Without it a reply written in two parts waits for the peer's delayed ACK,
    adding about 40 ms to a chat message's round trip.
    """
    try:
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as error:
        log.warning("could not set TCP_NODELAY: %s", error)


def browser_url(config: Config) -> str:
    """The address to print for people: a wildcard bind is reached via localhost."""
    host = "localhost" if config.host in {"0.0.0.0", "::", ""} else config.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.port}/"


def route_access_logs(enabled: bool) -> None:
    """One line per HTTP request (ACCESS_LOG), or none: gevent-websocket and
    Werkzeug log every request at INFO, unique lines no repeat limit can fold."""
    level = logging.INFO if enabled else logging.WARNING
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).setLevel(level)


def serve(app: Flask, config: Config) -> None:
    """Serve `app` on config.host:config.port until interrupted."""
    route_access_logs(config.access_log)
    open_files = raise_open_files_limit()
    max_connections = max(open_files - RESERVED_FILES, 128)
    log.info(
        "listening on http://%s:%d async_mode=%s open_files=%d",
        config.host,
        config.port,
        config.async_mode,
        open_files,
    )
    log.info("chat ready: open %s in a browser", browser_url(config))
    if config.async_mode == "eventlet":
        _serve_eventlet(app, config, max_connections)
    elif config.async_mode == "gevent":
        _serve_gevent(app, config)
    else:
        _serve_threading(app, config)


def _serve_eventlet(app: Flask, config: Config, max_connections: int) -> None:
    import eventlet
    import eventlet.wsgi

    from wire.eventlet_handover import POOL_KEY, make_protocol_class

    class LeanHttpProtocol(make_protocol_class(eventlet.wsgi.HttpProtocol)):  # type: ignore[misc]
        """eventlet's, with small read and write buffers (HTTP_BUFFER_BYTES): the
        defaults (8 and 16 KiB) were 40 % of an idle connection's memory. A
        websocket handed over to a green thread of its own is left open
        (wire/eventlet_handover.py)."""

        rbufsize = HTTP_BUFFER_BYTES
        wbufsize = HTTP_BUFFER_BYTES

    listener = eventlet.listen((config.host, config.port), backlog=LISTEN_BACKLOG)
    disable_nagle(listener)
    # One pool for requests and the websockets' own green threads: its size caps
    # open connections, handed over or not.
    pool = eventlet.GreenPool(max_connections)
    eventlet.wsgi.server(
        listener,
        app,
        protocol=LeanHttpProtocol,
        custom_pool=pool,
        environ={POOL_KEY: pool},
        log_output=config.access_log,
        log=logging.getLogger("chat.wsgi"),
        debug=False,
        # Covers the request head; Engine.IO then sets a websocket's own timeout.
        socket_timeout=config.header_timeout_seconds,
    )


def _serve_gevent(app: Flask, config: Config) -> None:
    from gevent import pywsgi
    from gevent.server import StreamServer
    from geventwebsocket.handler import WebSocketHandler

    from wire.gevent_handover import make_handler_class, make_server_class

    # gevent-websocket serves the websocket on the request's own socket (read by a
    # green thread of its own once open: gevent_handover.py); the simple-websocket
    # fallback would dup() the socket (two descriptors per client) and add a reader
    # greenlet per client.
    family = socket.getaddrinfo(config.host, config.port, type=socket.SOCK_STREAM)[0][0]
    listener = StreamServer.get_listener(
        (config.host, config.port), LISTEN_BACKLOG, family=family
    )
    disable_nagle(listener)

    header_timeout = config.header_timeout_seconds

    class TimedHandler(make_handler_class(WebSocketHandler)):  # type: ignore[misc]
        """gevent-websocket's handler, with a deadline for each request's head and
        a small read buffer (HTTP_BUFFER_BYTES): a websocket reads its frames
        through it for its whole life, and gevent's default (8 KiB) was the largest
        part of an idle connection's memory. A websocket handed over to a green
        thread of its own is left open (wire/gevent_handover.py)."""

        rfile: Any

        def __init__(self, sock: Any, address: Any, server: Any) -> None:
            super().__init__(sock, address, server)
            default_reader = self.rfile
            self.rfile = sock.makefile("rb", HTTP_BUFFER_BYTES)
            default_reader.close()  # the socket's count of open files, not the socket

        def read_requestline(self) -> Any:
            self.socket.settimeout(header_timeout)
            return super().read_requestline()

        def read_request(self, raw_requestline: Any) -> Any:
            try:
                return super().read_request(raw_requestline)
            except TimeoutError:
                return False  # gevent answers 400 and closes; nothing to log
            finally:
                if self.socket is not None:
                    self.socket.settimeout(None)

    server = make_server_class(pywsgi.WSGIServer)(
        listener,
        app,
        handler_class=TimedHandler,
        log=logging.getLogger("chat.wsgi") if config.access_log else None,
        error_log=logging.getLogger("chat.wsgi"),
    )
    server.serve_forever()


def _serve_threading(app: Flask, config: Config) -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class RequestHandler(WSGIRequestHandler):
        def connection_dropped(
            self, error: BaseException, environ: dict[str, Any] | None = None
        ) -> None:
            """Nothing more is read from a connection whose client went away, or
            whose websocket ended (simple-websocket raises ConnectionError then).
            Werkzeug would read it for another HTTP request: a thread held until
            the client hung up, and the client's last frames answered as a bad
            request (logged as an error)."""
            self.close_connection = True

    # Werkzeug's threaded server: one OS thread per connection (plus one reader
    # thread per websocket), so this mode holds hundreds, not thousands, of clients.
    server = make_server(
        config.host, config.port, app, threaded=True, request_handler=RequestHandler
    )
    disable_nagle(server.socket)
    server.serve_forever()
