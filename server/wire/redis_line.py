"""One Redis connection that the store pipeline writes and reads itself.

Every chat message is a round trip on it (state/script_pipeline.py). Through
redis-py's connection each reply cost a Python wrapper that names the host for its
error messages and moves the health-check clock, and gevent's `sendall` asks the
socket for its buffer size with a system call per write. Here a round trip's
commands are packed by hiredis into one buffer, written with plain `send` calls,
and the replies parsed by a hiredis reader of our own.

redis-py still makes the connection (address, TLS, AUTH, SELECT, its timeouts) and
checks its health, as it would before a command: a connection idle for longer than
its health-check interval is pinged first, and made again if the ping finds it
lost, so a Redis restart during a quiet spell costs no message. The socket is
`Connection._sock` (redis-py 7.1.0; tests/wire/test_redis_line.py runs all of it on
a real Redis).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

READ_BUFFER_BYTES = 64 * 1024


def _reply_error(message: str) -> Exception:
    """The exception an error reply stands for, as redis-py names it: scripts Redis
    has forgotten are told apart, so they can be loaded and sent again."""
    from redis.exceptions import NoScriptError, ResponseError

    if message.startswith("NOSCRIPT "):
        return NoScriptError(message[len("NOSCRIPT ") :])
    return ResponseError(message)


class RedisLine:
    """A connection of `pool` kept for one writer, for whole round trips."""

    def __init__(self, pool: Any) -> None:
        import hiredis

        self._pool = pool
        self._pack = hiredis.pack_command
        self._reader_class = hiredis.Reader
        self._connection: Any = None
        self._socket: Any = None
        self._reader: Any = None
        self._buffer = bytearray(READ_BUFFER_BYTES)
        # When the connection will have been idle past its health-check interval.
        self._check_after = 0.0

    def round_trip(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Every command written at once, and the replies in order. An error reply
        is that command's reply (an exception object, not raised). A failed round
        trip (OSError, or redis-py's ConnectionError and TimeoutError) closes the
        connection, and the next one connects afresh."""
        socket = self._socket
        if socket is None or time.monotonic() > self._check_after:
            socket = self._open()
        pack = self._pack
        try:
            data = memoryview(b"".join([pack(command) for command in commands]))
            while data:
                data = data[socket.send(data) :]
            replies = self._read(len(commands))
        except BaseException:
            self.close()  # replies may be half read: start clean
            raise
        interval = self._connection.health_check_interval
        self._check_after = time.monotonic() + interval if interval else float("inf")
        return replies

    def close(self) -> None:
        """Disconnects; the connection is made again by the next round trip."""
        if self._connection is not None:
            self._connection.disconnect()
        self._socket = None
        self._reader = None

    def _open(self) -> Any:
        """The socket, connected by redis-py and pinged when idle past its
        health-check interval; a fresh reader for a new socket."""
        from redis.exceptions import ConnectionError, InvalidResponse

        if self._connection is None:
            # Only this line uses it, so it is never given back to the pool.
            self._connection = self._pool.get_connection()
        connection = self._connection
        connection.connect()  # nothing if connected already
        try:
            connection.check_health()  # a ping: idle past the interval
        except ConnectionError:
            # Lost while idle (a Redis restart): nothing of ours was sent on it yet.
            connection.disconnect()
            connection.connect()
        socket = connection._sock
        if socket is None:
            raise ConnectionError("Redis connection closed")
        if socket is self._socket:
            return socket
        options: dict[str, Any] = {
            "protocolError": InvalidResponse,
            "replyError": _reply_error,
        }
        if connection.encoder.decode_responses:
            options["encoding"] = connection.encoder.encoding
        self._reader = self._reader_class(**options)
        self._socket = socket
        return socket

    def _read(self, count: int) -> list[Any]:
        from redis.exceptions import ConnectionError

        reader, socket, buffer = self._reader, self._socket, self._buffer
        replies: list[Any] = []
        while len(replies) < count:
            reply = reader.gets()
            if reply is False:  # hiredis: not a whole reply yet
                received = socket.recv_into(buffer)
                if not received:
                    raise ConnectionError("Redis closed the connection")
                reader.feed(buffer, 0, received)
            else:
                replies.append(reply)
        return replies
