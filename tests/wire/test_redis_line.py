"""The store pipeline's own Redis connection, on a real Redis: replies in order, error
replies as values, replies larger than its read buffer, and redis-py's health check
kept (a connection idle past its interval and lost meanwhile costs no round trip)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from redis.exceptions import ConnectionError, NoScriptError, ResponseError

from services import RedisProcess
from wire.redis_line import READ_BUFFER_BYTES, RedisLine


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path_factory.mktemp("redis"), persistent=False).start()
    yield process
    process.stop()


@pytest.fixture
def client(redis_server: RedisProcess) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, health_check_interval=1)
    client.flushdb()
    yield client
    client.close()


def kill_others(client: redis.Redis) -> None:
    """Redis closes every client connection but the one asking."""
    assert client.client_kill_filter(_type="normal", skipme=True) >= 1


def test_replies_come_in_order_and_an_error_reply_is_that_commands_own(
    client: redis.Redis,
) -> None:
    line = RedisLine(client.connection_pool)
    replies = line.round_trip(
        [
            (b"SET", "test:a", "one"),
            (b"INCR", "test:a"),  # not a number: an error reply
            (b"EVALSHA", "0" * 40, 0),  # a script Redis never saw
            (b"INCRBY", "test:n", 41),
            (b"GET", "test:a"),
            (b"LRANGE", "test:missing", 0, -1),
        ]
    )
    assert replies[0] == b"OK"
    assert isinstance(replies[1], ResponseError)
    assert not isinstance(replies[1], NoScriptError)
    assert isinstance(replies[2], NoScriptError)
    assert replies[3:] == [41, b"one", []]
    # The line goes on after error replies: they were values, not failures.
    assert line.round_trip([(b"INCR", "test:n")]) == [42]


def test_replies_larger_than_the_read_buffer_are_read_whole(
    client: redis.Redis,
) -> None:
    value = "é" * 700  # 1,400 bytes of UTF-8
    count = 3 * READ_BUFFER_BYTES // 1400
    line = RedisLine(client.connection_pool)
    sets = line.round_trip([(b"SET", f"test:{i}", value) for i in range(count)])
    assert sets == [b"OK"] * count
    gets = line.round_trip([(b"GET", f"test:{i}") for i in range(count)])
    assert gets == [value.encode()] * count


def test_text_replies_when_the_client_decodes_them(redis_server: RedisProcess) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        line = RedisLine(client.connection_pool)
        assert line.round_trip([(b"SET", "test:t", "né"), (b"GET", "test:t")]) == [
            "OK",
            "né",
        ]
    finally:
        client.close()


def test_a_connection_lost_while_idle_past_its_health_check_is_made_again(
    client: redis.Redis,
) -> None:
    line = RedisLine(client.connection_pool)
    assert line.round_trip([(b"INCR", "test:n")]) == [1]
    kill_others(client)
    time.sleep(1.2)  # past the client's 1 s health-check interval
    # redis-py's ping finds the connection gone and connects again: no round trip
    # is lost, as through redis-py's own command path.
    assert line.round_trip([(b"INCR", "test:n")]) == [2]


def test_a_connection_lost_between_round_trips_fails_one_then_recovers(
    client: redis.Redis,
) -> None:
    line = RedisLine(client.connection_pool)
    assert line.round_trip([(b"INCR", "test:n")]) == [1]
    kill_others(client)
    # Within the health-check interval nothing pings first: the round trip that
    # finds the connection gone fails (it is never sent twice) ...
    with pytest.raises((ConnectionError, OSError)):
        line.round_trip([(b"INCR", "test:n")])
    # ... and the next connects afresh.
    assert line.round_trip([(b"INCR", "test:n")]) == [2]
