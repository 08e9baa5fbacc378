"""Under gevent, how a websocket's reader waits for its next frame and reads the
usual one: on the socket itself, and off the OS socket once the read buffer is empty.

gevent-websocket reads through the request's read buffer (an `io.BufferedReader`
over `socket.SocketIO` over gevent's socket). A reader waiting in that buffer's C
code keeps its slice of the C stack copied while it waits, so the wait is done here,
on the socket (`peek_after_waiting`, `peek_os`). And each message a reader waits
for went through the buffer twice: once finding nothing (a BlockingIOError raised
in gevent's `recv_into` and caught in `SocketIO.readinto`, two Python frames) and
once filling the buffer, through the same two layers.

Once the buffer has been found empty, nothing is in it until something reads through
it again. From then on a connection's usual frames (websocket_limits.py: a whole
text message in one masked frame under 64 KiB) are peeked at and read on the
non-blocking OS socket under gevent's, as eventlet's are; the first frame of any
other kind, and the rest of a frame that has not come whole, are read through the
buffer by gevent-websocket as before, and the buffer is used until found empty again
(websocket_limits.py's `read_message`). A TLS socket, or a socket of a kind not known
here, is always read through the buffer.
"""

from __future__ import annotations

import _socket
import io
import socket as socket_module
from typing import Any

from greenlet import getcurrent

from wire.resting import REST_AFTER_SECONDS, Resting

# Enough of a frame to know its header: 2 bytes, a 16-bit length, a 4-byte mask.
PEEK_BYTES = 8


def peek_buffered_now(reader: Any) -> bytes:
    """What gevent's read buffer `reader` holds, or its socket has now, peeked at
    without waiting: b"" when nothing is there (or at the end)."""
    sock = reader.raw._sock
    # gevent's own timeout slot (the OS socket is non-blocking whatever it says):
    # at 0 a read that would wait raises at once, and the buffer returns b"".
    timeout = sock.timeout
    sock.timeout = 0.0
    try:
        head: bytes = reader.peek(PEEK_BYTES)
    finally:
        sock.timeout = timeout
    return head


def peek_after_waiting(reader: Any, may_rest: bool = False) -> bytes:
    """The first bytes in gevent's read buffer `reader` once `peek_buffered_now`
    found it empty: waited for on the socket rather than inside the buffer's own
    read, then the buffer's peek, which finds something (or the end: b"") without
    waiting. With `may_rest`, raises resting.Resting after REST_AFTER_SECONDS of
    nothing."""
    wait_readable(reader.raw._sock, may_rest)
    return bytes(reader.peek(PEEK_BYTES))


def wait_readable(sock: Any, may_rest: bool) -> None:
    """Until gevent's `sock` is readable or closed. With `may_rest`, Resting after
    REST_AFTER_SECONDS; else socket.timeout after the socket's own timeout, as the
    buffer's read would raise."""
    if not may_rest:
        sock._wait(sock._read_event)
        return
    # Timed by a bare loop timer as gevent's Timeout would be: that class costs
    # about 5 µs a wait in Python, the timer about 1 (once per message waited for).
    timer = sock.hub.loop.timer(REST_AFTER_SECONDS, ref=False)
    timer.start(getcurrent().throw, Resting)
    timeout = sock.timeout
    sock.timeout = None
    try:
        sock._wait(sock._read_event)
    finally:
        timer.close()
        sock.timeout = timeout


_gevent_socket_type: Any = None


def os_socket_under(reader: Any) -> Any:
    """The non-blocking OS socket under gevent's read buffer `reader` when it is the
    plain kind (a BufferedReader over SocketIO over gevent's own socket); None for
    anything else (TLS), which is read through the buffer."""
    global _gevent_socket_type
    if _gevent_socket_type is None:
        from gevent import socket as gevent_socket

        _gevent_socket_type = gevent_socket.socket
    if type(reader) is not io.BufferedReader:
        return None
    socket_io = reader.raw
    if type(socket_io) is not socket_module.SocketIO:
        return None
    sock = socket_io._sock  # type: ignore[attr-defined]
    if type(sock) is not _gevent_socket_type:
        return None
    raw = sock._sock
    return raw if isinstance(raw, _socket.socket) else None


def peek_os(reader: Any, raw: Any, may_rest: bool) -> bytes | None:
    """The first bytes waiting on the OS socket `raw` under `reader`, left there,
    waiting for them as `peek_after_waiting` does (b"" at the end); None when the
    socket fails, for the buffer's read to meet the same error."""
    while True:
        try:
            head: bytes = raw.recv(PEEK_BYTES, socket_module.MSG_PEEK)
            return head
        except BlockingIOError:
            pass
        except OSError:
            return None
        wait_readable(reader.raw._sock, may_rest)


def read_os(raw: Any, count: int) -> bytes:
    """Up to `count` bytes there now on the OS socket `raw` (b"" if none, or if it
    fails: the buffer's read, which takes what is missing, meets the error)."""
    try:
        data: bytes = raw.recv(count)
    except OSError:
        return b""
    return data
