"""python-socketio's Redis message queue, with a listener that reports its health.

Replaces `RedisManager._redis_listen_with_retries` (python-socketio 5.18, pinned;
see wire/versions.py). The stock listener backs off for up to 60 s after losing
Redis, blocks forever on a Redis that hangs (no socket timeout), and tells nobody
when it is back. This one:
- reconnects within LISTENER_RETRY_SECONDS,
- reads with a timeout and pings an idle connection, so a hung Redis is noticed,
- reports `listening` (for /readyz) and calls `on_restored` in a task of its own
  when the subscription is back, so the node can put back presence and tell its
  clients to catch up.
The queue's publishing client gets the same short socket timeouts as the store's,
so a hung Redis delays a broadcast by at most that, never indefinitely.
To remove: use socketio.RedisManager(url, channel=...) in state/shared.py; the
cluster then recovers only on its heartbeat, and after up to 60 s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import socketio

from state.redis_space import REDIS_TIMEOUT_SECONDS

log = logging.getLogger("chat.queue")

# The longest the pub/sub listener waits before reconnecting to Redis.
LISTENER_RETRY_SECONDS = 1.0
# How long one read waits for a broadcast before checking the connection again.
LISTEN_POLL_SECONDS = 1.0
# An idle subscription is pinged this often, so a hung Redis is noticed.
HEALTH_CHECK_SECONDS = 5


class ObservedRedisManager(socketio.RedisManager):  # type: ignore[misc]
    """python-socketio's RedisManager with a listener that says how it is doing."""

    def __init__(self, url: str, channel: str, on_restored: Callable[[], None]) -> None:
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

    def _redis_listen_with_retries(self) -> Iterator[Any]:  # pragma: no cover
        lost = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                self.listening = True
                if lost:
                    log.warning("message queue listener is back")
                    lost = False
                    self.server.start_background_task(self._on_restored)
                while True:
                    message = self.pubsub.get_message(timeout=LISTEN_POLL_SECONDS)
                    if message is not None:
                        yield message
            except Exception as error:
                if not lost:
                    log.error("message queue listener lost Redis: %s", error)
                self.listening = False
                lost = True
                time.sleep(LISTENER_RETRY_SECONDS)
