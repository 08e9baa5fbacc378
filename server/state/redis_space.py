"""One Redis database as this node uses it: key names, short timeouts, one error type.

Shared by the room store and the node registry, so both name keys the same way
and turn every Redis failure into `StoreUnavailable` (never a hang: sockets time
out after REDIS_TIMEOUT_SECONDS).
"""

from __future__ import annotations

import time
from typing import Any

from state.base import StoreUnavailable

REDIS_TIMEOUT_SECONDS = 2.0
# A change Redis starts later than this after it was sent is refused by the script
# itself (it changes nothing), so that a request we report as `unavailable` after
# our socket timeout cannot be carried out afterwards. The rest of the timeout is
# left for the reply to travel back.
WRITE_DEADLINE_SECONDS = 1.5


def connect(url: str) -> Any:
    """A Redis client with short timeouts; imported here only when REDIS_URL is set."""
    try:
        import redis
    except ImportError:  # pragma: no cover
        raise StoreUnavailable(
            'Redis package is not installed (run "pip install -r requirements.txt")'
        ) from None
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=10,
    )


def reachable(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


class RedisSpace:
    """Keys under one prefix, calls that fail as StoreUnavailable, Redis's clock."""

    def __init__(self, client: Any, prefix: str) -> None:
        import redis

        self.client = client
        self.errors: tuple[type[BaseException], ...] = (
            redis.exceptions.RedisError,
            OSError,
        )
        self._prefix = prefix
        # Redis's clock minus ours, in ms: deadlines are given in Redis's time, so
        # the nodes' clocks need not agree with the Redis host's.
        self._clock_offset_ms = 0

    def key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except self.errors as error:
            raise StoreUnavailable(str(error)) from None

    def sync_clock(self) -> None:
        """Measure Redis's clock against ours (midpoint of one TIME round trip)."""
        before = time.time()
        seconds, micros = self.call(self.client.time)
        after = time.time()
        redis_ms = int(seconds) * 1000 + int(micros) // 1000
        self._clock_offset_ms = redis_ms - int((before + after) / 2 * 1000)

    def write_deadline_ms(self) -> int:
        """The Redis time after which a write sent now must not happen."""
        now_ms = int(time.time() * 1000)
        return now_ms + self._clock_offset_ms + int(WRITE_DEADLINE_SECONDS * 1000)

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except self.errors:
            return False
