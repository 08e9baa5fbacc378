"""The queue listener's subscription read off its socket, on a real Redis: every
message in order with its channel, an idle subscription pinged, and a Redis that
hangs or goes away ends the iteration (the listener then reconnects)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from services import RedisProcess
from wire.subscription_reader import SubscriptionLost, SubscriptionReader

# Short, so that the liveness checks below end quickly.
POLL, PING_IDLE, ANSWER = 0.1, 0.3, 0.5


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis", persistent=False).start()
    yield process
    while CLIENTS:
        CLIENTS.pop().close()
    if process.process is not None and process.process.poll() is None:
        os.kill(process.process.pid, signal.SIGCONT)
    process.stop()


# The clients of the subscriptions: collected, a client closes its connections.
CLIENTS: list[redis.Redis] = []


def subscribed(server: RedisProcess, *channels: str) -> SubscriptionReader:
    client = redis.Redis.from_url(server.url, socket_timeout=2)
    CLIENTS.append(client)
    pubsub = client.pubsub()
    pubsub.subscribe(*channels)
    return SubscriptionReader(pubsub, POLL, PING_IDLE, ANSWER)


class Collector:
    """Reads a subscription on a thread of its own: what came, and how it ended."""

    def __init__(self, reader: SubscriptionReader, wanted: int | None = None) -> None:
        self.received: list[tuple[bytes, bytes]] = []
        self.ended: BaseException | None = None
        self.done = threading.Event()
        self._wanted = wanted
        threading.Thread(target=self._run, args=(reader,), daemon=True).start()

    def _run(self, reader: SubscriptionReader) -> None:
        try:
            for message in reader.messages():
                self.received.append(message)
                if self._wanted is not None and len(self.received) >= self._wanted:
                    break
        except BaseException as error:
            self.ended = error
        self.done.set()


def test_every_message_arrives_in_order_with_its_channel(
    redis_server: RedisProcess,
) -> None:
    reader = subscribed(redis_server, "relay:a", "queue")
    sent = [
        (b"relay:a" if i % 3 else b"queue", f"message {i} ".encode() * 20)
        for i in range(3000)
    ]
    collector = Collector(reader, wanted=len(sent))
    publisher = redis_server.client()
    pipeline = publisher.pipeline(transaction=False)
    for channel, data in sent:
        pipeline.publish(channel, data)
    pipeline.publish("elsewhere", "not subscribed")
    assert pipeline.execute()[:-1] == [1] * len(sent)
    assert collector.done.wait(30), "not every message arrived"
    assert collector.ended is None
    assert collector.received == sent


def test_an_idle_subscription_is_pinged_and_goes_on(redis_server: RedisProcess) -> None:
    reader = subscribed(redis_server, "relay:a")
    collector = Collector(reader, wanted=1)
    publisher = redis_server.client()

    def pings() -> int:
        stats = publisher.info("commandstats").get("cmdstat_ping", {})
        return int(stats.get("calls", 0))

    # Quiet for several ping intervals: pinged, answered, still subscribed.
    done = threading.Event()
    while pings() < 3:
        assert not done.wait(0.2) and collector.ended is None
    publisher.publish("relay:a", "after the quiet")
    assert collector.done.wait(10)
    assert collector.ended is None
    assert collector.received == [(b"relay:a", b"after the quiet")]


def test_a_redis_that_hangs_ends_the_subscription(redis_server: RedisProcess) -> None:
    reader = subscribed(redis_server, "relay:a")
    collector = Collector(reader)
    assert redis_server.process is not None
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    # Unanswered ping: the iteration ends instead of waiting for good.
    assert collector.done.wait(20), "a hung Redis went unnoticed"
    assert isinstance(collector.ended, SubscriptionLost)


def test_a_redis_that_goes_away_ends_the_subscription(
    redis_server: RedisProcess,
) -> None:
    reader = subscribed(redis_server, "relay:a")
    collector = Collector(reader)
    redis_server.stop()
    assert collector.done.wait(20), "a closed subscription went unnoticed"
    assert isinstance(collector.ended, (SubscriptionLost, OSError))
