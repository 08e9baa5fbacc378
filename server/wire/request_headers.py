"""A websocket's environ keeps only the request headers something still reads.

The WSGI environ of the request that opened a websocket lives as long as the
connection: Engine.IO, python-socketio and the websocket objects all keep it. Its
request headers are read once, by the websocket handshake and the Engine.IO
handshake (`guards/handshake.py` puts the client's address in it first); after
that nothing reads most of them, and a browser sends a kilobyte or more (cookies,
accept lists, client hints). eventlet also keeps a second copy of every header
(`headers_raw`). Once the websocket is open (`engine_socket.websocket_handler`),
`forget_request_headers` drops those, in place, since every holder shares the
dict. Kept: every CGI and server key, and the headers listed in KEPT_HEADERS
(address, origin, host and those gevent-websocket's properties read).

Measured with bench/ scenario B: see bench/analysis.md.
"""

from __future__ import annotations

from typing import Any

KEPT_HEADERS = frozenset(
    {
        "HTTP_HOST",
        "HTTP_ORIGIN",
        "HTTP_USER_AGENT",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_HOST",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_REAL_IP",
        "HTTP_SEC_WEBSOCKET_PROTOCOL",
        "HTTP_SEC_WEBSOCKET_VERSION",
    }
)
# eventlet's tuple of every (name, value) pair, besides the HTTP_ keys.
RAW_HEADERS_KEY = "headers_raw"


def forget_request_headers(environ: Any) -> None:
    """Drop from `environ`, in place, the request headers nothing reads any more."""
    if not isinstance(environ, dict):
        return
    dropped = [
        key
        for key in environ
        if key == RAW_HEADERS_KEY
        or (key.startswith("HTTP_") and key not in KEPT_HEADERS)
    ]
    for key in dropped:
        del environ[key]
