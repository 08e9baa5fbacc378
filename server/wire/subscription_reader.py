"""The messages of a Redis subscription, read off its socket by hiredis.

With several nodes, every chat message stored on one node reaches the others on
their relay channel (wire/queue_listener.py). redis-py's `PubSub.get_message` took
each of them through its health-check clock, a retry wrapper, a readiness poll and
a reply parser call, and built a dict: in a profile of two gevent nodes at 20k
deliveries/s that was 7.9 % of both nodes' time, against 0.8 % for delivering what
was read. Here one `recv` takes whatever Redis has sent and hiredis parses every
message in it.

What redis-py's loop did for the listener is kept: a subscription quiet for
`ping_idle_seconds` is pinged, and one that does not answer within
`answer_seconds` (a hung Redis), or that Redis closes, ends the iteration with an
error, so that the listener reconnects and /readyz reports it. redis-py still makes
the connection and sends SUBSCRIBE; the socket is `PubSub.connection._sock`
(redis-py 7.1.0; tests/wire/test_subscription_reader.py runs it on a real Redis).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

READ_BUFFER_BYTES = 64 * 1024
_MESSAGE = b"message"
# PING with an argument: in a subscription Redis answers [b"pong", argument].
_PING = b"*2\r\n$4\r\nPING\r\n$17\r\nchat-subscription\r\n"


class SubscriptionLost(ConnectionError):
    """Redis closed the subscription, answered with an error, or stopped answering."""


class SubscriptionReader:
    """(channel, data) of each message published to a subscribed redis-py PubSub."""

    def __init__(
        self,
        pubsub: Any,
        poll_seconds: float,
        ping_idle_seconds: float,
        answer_seconds: float,
    ) -> None:
        import hiredis

        connection = pubsub.connection
        socket = connection._sock if connection is not None else None
        if socket is None:
            raise SubscriptionLost("not subscribed")
        self._pubsub = pubsub  # its connection lives as long as it does
        self._socket = socket
        self._reader: Any = hiredis.Reader()  # fed bytearrays, as redis-py does
        self._poll_seconds = poll_seconds
        self._ping_idle_seconds = ping_idle_seconds
        self._answer_seconds = answer_seconds

    def messages(self) -> Iterator[tuple[bytes, bytes]]:
        """Each message in the order Redis published it; raises SubscriptionLost
        (or the socket's OSError) when the subscription is gone."""
        socket, reader = self._socket, self._reader
        buffer = bytearray(READ_BUFFER_BYTES)
        socket.settimeout(self._poll_seconds)
        heard_at = time.monotonic()
        pinged_at: float | None = None
        while True:
            reply = reader.gets()
            if reply is not False:  # hiredis: False until a whole reply is in
                if type(reply) is list:
                    if reply[0] == _MESSAGE:
                        yield reply[1], reply[2]
                    continue  # subscribe confirmations, pongs
                raise SubscriptionLost(f"Redis answered {reply!r}")
            try:
                received = socket.recv_into(buffer)
            except TimeoutError:
                received = -1
            if received > 0:
                reader.feed(buffer, 0, received)
                heard_at, pinged_at = time.monotonic(), None
                continue
            if received == 0:
                raise SubscriptionLost("Redis closed the subscription")
            now = time.monotonic()
            if pinged_at is not None:
                if now - pinged_at > self._answer_seconds:
                    raise SubscriptionLost("Redis did not answer a ping")
            elif now - heard_at >= self._ping_idle_seconds:
                socket.sendall(_PING)
                pinged_at = now
