"""Incoming websocket messages are bounded in every async mode, and oversize is logged.

Engine.IO checks `max_http_buffer_size` only after a whole websocket message has
been read into memory, and the websocket servers under it differ: eventlet bounds
each frame (not a message split into many frames), gevent-websocket and
simple-websocket (threading) bound nothing by default. This module makes each of
them refuse a message over the limit while reading it, close only that connection,
and log why once (without it, one 100 MB message is read whole into memory before
Engine.IO refuses it). The usual message (one masked text frame under 64 KiB) is
also read in one Python call instead of eight (gevent-websocket) or about twenty
(eventlet), its header peeked at so every other frame is left to the library: 5 and
6.5 % fewer instructions per delivery (bench/instructions.py). Under eventlet the
peek and the read go to the OS socket under its GreenSocket, without eventlet's
timeout swap and recv layers: 34,085 -> 32,427 instructions per delivery on the
plain path (0.951); under gevent they do once its read buffer is found empty
(gevent_reads.py). Replaces eventlet's
`RFC6455WebSocket.Message.push` and `_recv_frame` (whose stock version still reads
every other frame), gevent-websocket's `WebSocket.read_frame` and `read_message`
(and its `close`, which sends an invalid close frame in 0.10.1), and Engine.IO's
simple-websocket wrapper per server; tests/wire/test_websocket_limits.py attacks
each mode through a real server. To remove: drop the `websocket_limits.install`
call in wire/__init__.py (oversized messages are then only refused after reading).
`limit_polling_body` is plain WSGI middleware, not a patch.
"""

from __future__ import annotations

import logging
import socket as socket_module
import struct
from typing import Any

import engineio

from wire import attribute_names, gevent_reads
from wire.resting import REST_AFTER_SECONDS, Resting
from wire.websocket_speedups import xor_mask

log = logging.getLogger("chat.websocket")

# Bytes a character may take on the wire: 4 in UTF-8, and JSON may escape one
# control character as \\uXXXX; the message is trimmed of those, so 6 is generous.
BYTES_PER_CHARACTER = 6
ENVELOPE_BYTES = 4096


def buffer_size(max_message_length: int) -> int:
    """The largest Engine.IO packet we accept: one maximal chat message and its JSON."""
    return max_message_length * BYTES_PER_CHARACTER + ENVELOPE_BYTES


def log_oversize(size: int | str, limit: int, peer: Any = None) -> None:
    log.warning(
        "closing a connection from %s: message (%s) is over the %d byte limit",
        peer or "unknown",
        size,
        limit,
    )


# A websocket header's first two bytes (RFC 6455): final text frame, no extensions;
# masked; a 7-bit length, or 126 for a 16-bit length after them.
_FINAL_TEXT = 0x81
_MASKED = 0x80
_LENGTH_16 = 126
_PEEK_BYTES = gevent_reads.PEEK_BYTES


def _short_text_frame_size(head: bytes) -> tuple[int, int] | None:
    """(header bytes, payload bytes) when `head` starts a final, masked text frame
    under 64 KiB with no extension bits; None for any other frame, or too few bytes
    to tell."""
    if len(head) < 2 or head[0] != _FINAL_TEXT or head[1] < _MASKED:
        return None
    short_length = head[1] - _MASKED
    if short_length < _LENGTH_16:
        return 6, short_length
    if short_length == _LENGTH_16 and len(head) >= 4:
        return 8, struct.unpack_from("!H", head, 2)[0]
    return None


def _peek_or_rest(green_socket: Any) -> bytes:
    """The first bytes waiting on eventlet's `green_socket`, left there; Resting
    after REST_AFTER_SECONDS of nothing (b"" once the peer has gone, as eventlet's
    own read returns)."""
    raw = _os_socket_under(green_socket)
    if raw is None:
        return _peek_or_rest_through_eventlet(green_socket)
    # eventlet's recv, without the timeout swapped in and out around it and its
    # three layers of calls: the OS socket is non-blocking, so peek, and wait on
    # the hub (as its recv does) only when nothing is there.
    while True:
        try:
            head: bytes = raw.recv(_PEEK_BYTES, socket_module.MSG_PEEK)
            return head
        except OSError as error:
            if error.errno in _SOCKET_CLOSED:
                return b""
            if error.errno not in _SOCKET_BLOCKING:
                raise
        try:
            green_socket._trampoline(
                raw, read=True, timeout=REST_AFTER_SECONDS, timeout_exc=Resting
            )
        except _IOClosed:
            raise EOFError from None  # as eventlet's recv raises it


def _os_socket_under(green_socket: Any) -> Any:
    """The non-blocking OS socket under eventlet's plain GreenSocket; None for any
    other socket (TLS, or eventlet's classes not known yet), read through eventlet."""
    if type(green_socket) is not _green_socket_type:
        return None
    raw = green_socket.fd
    return raw if type(raw) in _raw_types else None


def _peek_or_rest_through_eventlet(green_socket: Any) -> bytes:
    """_peek_or_rest through eventlet's own recv, for a socket of another kind."""
    timeout = green_socket.gettimeout()
    green_socket.settimeout(REST_AFTER_SECONDS)
    try:
        head: bytes = green_socket.recv(_PEEK_BYTES, socket_module.MSG_PEEK)
    except TimeoutError:
        raise Resting from None
    finally:
        green_socket.settimeout(timeout)
    return head


def _read_exactly(ws: Any, count: int) -> bytes:
    """`count` bytes of the websocket `ws`'s socket: read straight off the OS socket
    under a GreenSocket (the usual frame has come whole), else, or for what has not
    come yet, through eventlet's `_get_bytes`, which waits and raises as eventlet
    does."""
    data: bytes = b""
    raw = _os_socket_under(ws.socket)
    if raw is not None:
        try:
            data = raw.recv(count)
        except OSError as error:
            if error.errno not in _SOCKET_BLOCKING_OR_CLOSED:
                raise
        if len(data) == count:
            return data
    rest: bytes = ws._get_bytes(count - len(data))
    return data + rest if data else rest


def install(eio: engineio.Server, async_mode: str) -> None:
    """Bound incoming websocket messages of `eio` to its max_http_buffer_size."""
    limit = int(eio.max_http_buffer_size)
    if async_mode == "threading":
        _bound_simple_websocket(eio, limit)
    elif async_mode == "gevent":
        _bound_gevent_websocket(limit)
    elif async_mode == "eventlet":
        _bound_eventlet_messages(limit)


def _bound_simple_websocket(eio: engineio.Server, limit: int) -> None:
    import simple_websocket
    from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

    class LimitedSimpleWebSocketWSGI(SimpleWebSocketWSGI):  # type: ignore[misc]
        def __init__(self, handler: Any, server: Any) -> None:
            super().__init__(handler, server, max_message_size=limit)

        def wait(self) -> Any:
            try:
                data = self.ws.receive()
            except simple_websocket.ConnectionClosed:
                data = None
            received = self.ws.incoming_message_len
            if data is None and received > limit:
                peer = self.ws.environ.get("REMOTE_ADDR")
                log_oversize(f"{received}+", limit, peer)
            return data

        def close(self) -> None:
            """Engine.IO's writer thread closes the websocket when it stops, and the
            peer may already have reset the connection (one we dropped for a binary
            packet): simple-websocket passes on the reset, which would end the
            thread with a traceback. Nothing is left to close then."""
            try:
                super().close()
            except (ConnectionError, simple_websocket.ConnectionClosed):
                pass

    # A per-server copy: other Engine.IO servers in the process keep the default.
    eio._async = {**eio._async, "websocket": LimitedSimpleWebSocketWSGI}


_gevent_limit: int | None = None


def _bound_gevent_websocket(limit: int) -> None:
    global _gevent_limit
    from geventwebsocket import handler as gevent_handler
    from geventwebsocket.exceptions import ProtocolError, WebSocketError
    from geventwebsocket.websocket import Header, WebSocket

    if _gevent_limit is not None:
        _gevent_limit = min(_gevent_limit, limit)
        return
    _gevent_limit = limit

    class LimitedWebSocket(WebSocket):  # type: ignore[misc]
        """gevent-websocket's read_frame, checking the message size before reading."""

        _message_bytes = 0
        # Whether its reader may rest (gevent_handover.py sets it).
        _chat_may_rest = False
        # The OS socket its usual frames are read off while its read buffer is
        # empty (gevent_reads.py); None while they are read through the buffer.
        _chat_os_socket: Any = None
        # Set by gevent-websocket; declared for the type checker.
        stream: Any
        environ: Any
        raw_read: Any
        raw_write: Any
        closed: bool

        def read_frame(self) -> Any:
            header = Header.decode_header(self.stream)
            if header.flags:
                raise ProtocolError
            if header.opcode in (self.OPCODE_TEXT, self.OPCODE_BINARY):
                self._message_bytes = 0
            self._message_bytes += header.length
            if self._message_bytes > (_gevent_limit or 0):
                self._refuse_oversize()
            if not header.length:
                return header, b""
            try:
                payload = self.raw_read(header.length)
            except Exception:
                payload = b""
            if len(payload) != header.length:
                raise WebSocketError("Unexpected EOF reading frame payload")
            if header.mask:
                payload = header.unmask_payload(payload)
            return header, payload

        def read_message(self) -> Any:
            """gevent-websocket's read_message, with the usual message read in this
            one frame: a whole text message in one masked frame of under 64 KiB
            (every chat message). The stock loop takes the rest (fragments, control
            frames, binary): this only peeks at the header until it is sure.

            The stock loop spent eight Python calls per message (header object,
            frame, unmasking, UTF-8 checked twice, decoding); strict UTF-8
            decoding checks the text as wsaccel's validator did, and fails the
            same way (UnicodeError: `receive` closes with 1007).
            """
            if self.stream is None:
                return super().read_message()
            # raw_read is the read buffer's `read` (kept after the request's handler
            # lets go of the buffer: gevent_handover.py).
            reader = self.raw_read.__self__
            raw = self._chat_os_socket
            head: bytes | None = None
            if raw is None:
                head = gevent_reads.peek_buffered_now(reader)
                if not head:
                    # Found empty: read off the OS socket until another frame comes.
                    raw = self._chat_os_socket = gevent_reads.os_socket_under(reader)
                    if raw is None:
                        head = gevent_reads.peek_after_waiting(
                            reader, self._chat_may_rest
                        )
            if raw is not None:
                head = gevent_reads.peek_os(reader, raw, self._chat_may_rest)
            size = _short_text_frame_size(head) if head else None
            if size is None:
                self._chat_os_socket = None
                return super().read_message()
            header_size, length = size
            self._message_bytes = length
            if length > (_gevent_limit or 0):
                self._chat_os_socket = None
                self._refuse_oversize()
            total = header_size + length
            frame = gevent_reads.read_os(raw, total) if raw is not None else b""
            if len(frame) < total:
                # The rest through the buffer, which waits for it and may read ahead.
                self._chat_os_socket = None
                try:
                    frame += self.raw_read(total - len(frame))
                except Exception:
                    pass
                if len(frame) != total:
                    raise WebSocketError("Unexpected EOF reading frame")
            mask = frame[header_size - 4 : header_size]
            return xor_mask(frame[header_size:], mask).decode("utf-8")

        def _refuse_oversize(self) -> None:
            """The message read so far is over the limit: logged once, closed with
            1009, and the read ends."""
            peer = self.environ.get("REMOTE_ADDR")
            log_oversize(self._message_bytes, _gevent_limit or 0, peer)
            self.close(1009, b"message too big")
            raise WebSocketError("message too big")

        def close(self, code: int = 1000, message: bytes | str = b"") -> None:
            """gevent-websocket 0.10.1 sends `str(message)` ("b''") as the close
            frame, without a status code: clients fail it as a protocol error.
            This sends the status code, then the reason."""
            if self.closed:
                return
            reason = message.encode() if isinstance(message, str) else message
            try:
                self.send_frame(
                    struct.pack("!H", code) + reason, opcode=self.OPCODE_CLOSE
                )
            except WebSocketError:
                pass  # the socket is closing anyway
            finally:
                self.closed = True
                self.stream = None
                self.raw_write = None
                self.raw_read = None
                self.environ = None

    attribute_names.reserve(
        LimitedWebSocket, ("_message_bytes", "_chat_may_rest", "_chat_os_socket")
    )
    gevent_handler.WebSocket = LimitedWebSocket


_eventlet_limit: int | None = None
# eventlet's socket classes and errno sets, once its websockets are bounded: the
# usual read goes to the OS socket under a GreenSocket directly (_peek_or_rest).
_green_socket_type: Any = None
_raw_types: frozenset[type] = frozenset()
_IOClosed: type[BaseException] = OSError
_SOCKET_BLOCKING: frozenset[int] = frozenset()
_SOCKET_CLOSED: frozenset[int] = frozenset()
_SOCKET_BLOCKING_OR_CLOSED: frozenset[int] = frozenset()


def read_usual_eventlet_message(ws: Any, limit: int) -> str | None:
    """The next message of eventlet's websocket `ws` when it is the usual one (a
    whole text message in one masked frame under 64 KiB, within `limit`), read in
    one go; None, with nothing read, for any other frame (eventlet reads it). The
    header is peeked at: one read less than eventlet's three, and no Python calls
    per part. Raises UnicodeDecodeError for text that is not UTF-8."""
    try:
        if ws._chat_may_rest:
            head = _peek_or_rest(ws.socket)
        else:
            head = ws.socket.recv(_PEEK_BYTES, socket_module.MSG_PEEK)
    except ValueError:  # a TLS socket takes no flags: eventlet reads it
        return None
    size = _short_text_frame_size(head)
    if size is None or size[1] > min(limit, ws.max_frame_length):
        return None
    header_size, length = size
    frame = _read_exactly(ws, header_size + length)
    mask = frame[header_size - 4 : header_size]
    return xor_mask(frame[header_size:], mask).decode("utf-8")


class _WholeText:
    """What eventlet's frame loop takes from _recv_frame: a finished text message."""

    __slots__ = ("text",)
    opcode = 1
    finished = True

    def __init__(self, text: str) -> None:
        self.text = text

    def getvalue(self) -> str:
        return self.text


def _bound_eventlet_messages(limit: int) -> None:
    global _eventlet_limit
    from eventlet.websocket import FailedConnectionError, RFC6455WebSocket

    if _eventlet_limit is not None:
        _eventlet_limit = min(_eventlet_limit, limit)
        return
    _eventlet_limit = limit
    _know_eventlet_sockets()
    # Whether its reader may rest (eventlet_handover.py sets it).
    RFC6455WebSocket._chat_may_rest = False
    attribute_names.reserve(RFC6455WebSocket, ("_chat_may_rest",))
    message_class = RFC6455WebSocket.Message
    original_push = message_class.push
    original_recv_frame = RFC6455WebSocket._recv_frame

    def push(self: Any, data: bytes, final: bool = False) -> None:
        """Eventlet bounds each frame; this bounds a message split into frames."""
        total = getattr(self, "_chat_total", 0) + len(data)
        self._chat_total = total
        if _eventlet_limit is not None and total > _eventlet_limit:
            raise FailedConnectionError(1009, f"message of {total}+ bytes")
        original_push(self, data, final)

    def recv_frame(self: Any, message: Any = None) -> Any:
        """eventlet's _recv_frame, with the usual message read first in one go."""
        if message is None:
            try:
                text = read_usual_eventlet_message(self, _eventlet_limit or 0)
            except UnicodeDecodeError:
                raise FailedConnectionError(
                    1007, "Text data must be valid utf-8"
                ) from None
            if text is not None:
                return _WholeText(text)
        try:
            return original_recv_frame(self, message)
        except FailedConnectionError as failure:
            if failure.status == 1009:
                peer = self.environ.get("REMOTE_ADDR")
                log_oversize(failure.message, _eventlet_limit or 0, peer)
            raise

    message_class.push = push
    RFC6455WebSocket._recv_frame = recv_frame


def _know_eventlet_sockets() -> None:
    global _green_socket_type, _raw_types, _IOClosed
    global _SOCKET_BLOCKING, _SOCKET_CLOSED, _SOCKET_BLOCKING_OR_CLOSED
    from eventlet import patcher
    from eventlet.greenio import base

    _green_socket_type = base.GreenSocket
    # The OS socket under a GreenSocket: the class of eventlet's unpatched copy of
    # the socket module (the server's, monkey-patched), or the standard library's
    # when nothing is patched. Not a TLS socket: that class is another.
    _raw_types = frozenset(
        {patcher.original("socket").socket, socket_module.socket} - {base.GreenSocket}
    )
    _IOClosed = base.IOClosed
    _SOCKET_BLOCKING = frozenset(base.SOCKET_BLOCKING)
    _SOCKET_CLOSED = frozenset(base.SOCKET_CLOSED)
    _SOCKET_BLOCKING_OR_CLOSED = _SOCKET_BLOCKING | _SOCKET_CLOSED


def limit_polling_body(wsgi_app: Any, limit: int) -> Any:
    """Refuse an oversized long-polling POST with 413 before Engine.IO reads it.

    Engine.IO itself answers one by closing the session and waiting for a poll that
    never comes, leaving the request hanging until the ping timeout.
    """

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                log_oversize(length, limit, environ.get("REMOTE_ADDR"))
                start_response(
                    "413 Payload Too Large",
                    [("Content-Type", "text/plain"), ("Connection", "close")],
                )
                return [b"Payload too large"]
        return wsgi_app(environ, start_response)

    return guarded
