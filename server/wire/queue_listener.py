"""python-socketio's Redis message queue, with a listener that reports its health.

Replaces `RedisManager._redis_listen_with_retries` (python-socketio 5.18, pinned;
see wire/versions.py). The stock listener backs off for up to 60 s after losing
Redis, blocks forever on a Redis that hangs (no socket timeout), and tells nobody
when it is back. This one:
- reconnects within LISTENER_RETRY_SECONDS,
- reads with a timeout and pings an idle connection, so a hung Redis is noticed
  (its messages read off the socket by hiredis: wire/subscription_reader.py),
- reports `listening` (for /readyz) and calls `on_restored` in a task of its own
  when the subscription is back, so the node can put back presence and tell its
  clients to catch up.
The queue's publishing client gets the same short socket timeouts as the store's,
so a hung Redis delays a broadcast by at most that, never indefinitely.

It also carries chat messages on channels of their own (the relay): each node reads
its own, and the store's script that numbers and stores a message publishes it in
the same round trip to every other node's (`<room>\n<message JSON>`), never to the
node that stored it. Each node hands what it reads to `on_relayed` in the order
Redis published it, interleaved with the queue's own emits (one subscription). Before a
remote emit is delivered, `before_remote_emit` runs, so a room's relayed messages
waiting in a local batch go out before a `joined` or `left` that came after them.
Measured (bench/RESULTS.md, gevent, one node on Redis at 20k deliveries/s): the
relay replaces two pickled-and-published emits per message (its `message` and its
share of a `messages` batch) and the node's own copy of both.
To remove: use socketio.RedisManager(url, channel=...) in state/shared.py and
switch the relay off (wire.relays_messages); the cluster then recovers only on its
heartbeat, and after up to 60 s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import socketio

from state.redis_space import REDIS_TIMEOUT_SECONDS
from wire.subscription_reader import SubscriptionReader

log = logging.getLogger("chat.queue")

# The longest the pub/sub listener waits before reconnecting to Redis.
LISTENER_RETRY_SECONDS = 1.0
# How long one read waits for a broadcast before checking the connection again.
LISTEN_POLL_SECONDS = 1.0
# An idle subscription is pinged this often, so a hung Redis is noticed.
HEALTH_CHECK_SECONDS = 5


Relayed = Callable[[str, bytes], None]


class ObservedRedisManager(socketio.RedisManager):  # type: ignore[misc]
    """python-socketio's RedisManager with a listener that says how it is doing,
    and the relay of chat messages."""

    def __init__(
        self,
        url: str,
        channel: str,
        on_restored: Callable[[], None],
        relay_channel: str,
    ) -> None:
        super().__init__(
            url,
            channel=channel,
            logger=logging.getLogger("chat.queue"),
            redis_options={
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "health_check_interval": HEALTH_CHECK_SECONDS,
            },
        )
        self.listening = False
        self._on_restored = on_restored
        self.relay_channel = relay_channel
        # Set by the broadcaster: (room, message JSON) for each relayed message, and
        # what to do before a remote emit (send pending batches).
        self.on_relayed: Relayed = _ignore_relayed
        self.before_remote_emit: Callable[[], None] = _nothing

    def _listen(self) -> Iterator[Any]:  # pragma: no cover
        queue = self.channel.encode()
        relay = self.relay_channel.encode()
        for channel, data in self._redis_listen_with_retries():
            if channel == relay:
                self._relayed(data)
            elif channel == queue:
                yield data

    def _relayed(self, data: bytes) -> None:
        header, _, body = data.partition(b"\n")
        try:
            self.on_relayed(header.decode(), body)
        except Exception:
            log.exception("delivering a relayed message failed")

    def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("host_id") != self.host_id:
            self.before_remote_emit()
        super()._handle_emit(message)

    def _redis_listen_with_retries(
        self,
    ) -> Iterator[tuple[bytes, bytes]]:  # pragma: no cover
        lost = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel, self.relay_channel)
                self.listening = True
                if lost:
                    log.warning("message queue listener is back")
                    lost = False
                    self.server.start_background_task(self._on_restored)
                yield from SubscriptionReader(
                    self.pubsub,
                    poll_seconds=LISTEN_POLL_SECONDS,
                    ping_idle_seconds=HEALTH_CHECK_SECONDS,
                    answer_seconds=REDIS_TIMEOUT_SECONDS,
                ).messages()
            except Exception as error:
                if not lost:
                    log.error("message queue listener lost Redis: %s", error)
                self.listening = False
                lost = True
                time.sleep(LISTENER_RETRY_SECONDS)


def _ignore_relayed(room: str, body: bytes) -> None:
    """Until a broadcaster takes over, relayed messages have nobody to go to."""


def _nothing() -> None:
    """No pending batches to send."""
