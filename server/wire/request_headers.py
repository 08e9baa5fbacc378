"""A websocket's environ keeps only the request headers something still reads.

The WSGI environ of the request that opened a websocket lives as long as the
connection: Engine.IO, python-socketio and the websocket objects all keep it. Its
request headers are read once, by the websocket handshake and the Engine.IO
handshake (`guards/handshake.py` puts the client's address in it first); after
that nothing reads most of them, and a browser sends a kilobyte or more (cookies,
accept lists, client hints). eventlet also keeps a second copy of every header
(`headers_raw`). Once the websocket is open (`engine_socket.websocket_handler`),
`forget_request_headers` drops those, in place, since every holder shares the
dict. Kept: the CGI and server keys a Flask request context reads (one is made
for every Socket.IO event), and the headers listed in KEPT_HEADERS (address,
origin, host and those gevent-websocket's properties read). Dropped as well: the
WSGI flags and server names in FORGOTTEN_KEYS, read by no one once the response
has started.

A dict never shrinks by deleting, so under eventlet and gevent the environ is then
rebuilt in place: the 17 to 21 keys left fit a table half the size (0.8 → 0.45
KiB). Under threading another thread may read it meanwhile, so it keeps its table.

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
FORGOTTEN_KEYS = frozenset(
    {
        RAW_HEADERS_KEY,
        "GATEWAY_INTERFACE",
        "SERVER_SOFTWARE",
        "RAW_PATH_INFO",
        "wsgi.version",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "wsgi.run_once",
        "wsgi.input_terminated",
        "eventlet.posthooks",  # run from the request's own copy of the environ
    }
)


def forget_request_headers(environ: Any, rebuild: bool = False) -> None:
    """Drop from `environ`, in place, what nothing reads any more; with `rebuild`
    (only where no other thread can read it meanwhile), give it a table its size."""
    if not isinstance(environ, dict):
        return
    dropped = [
        key
        for key in environ
        if key in FORGOTTEN_KEYS
        or (key.startswith("HTTP_") and key not in KEPT_HEADERS)
    ]
    for key in dropped:
        del environ[key]
    if rebuild:
        kept = list(environ.items())
        environ.clear()
        environ.update(kept)
