"""Redis misbehaving under a live node: a hang, and a restart that loses everything.

Issue #10, 7: while Redis hung, even an `error` to one local client waited for it,
and a message refused as `unavailable` was stored once Redis came back; after a
fast restart without persistence, presence was never restored.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import RedisProcess
from support import GREEN_MODES, RecordingClient, ServerProcess, StartServer, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("cluster")]


@pytest.fixture
def volatile_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server that keeps nothing across a restart."""
    process = RedisProcess(tmp_path / "redis", persistent=False).start()
    yield process
    process.stop()


def node(start_server: StartServer, redis: RedisProcess, mode: str) -> ServerProcess:
    return start_server(mode, REDIS_URL=redis.url, NODE_TIMEOUT_SECONDS="3")


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_while_redis_hangs_refusals_come_at_once_and_nothing_is_stored_later(
    start_server: StartServer, volatile_redis: RedisProcess, async_mode: str
) -> None:
    server = node(start_server, volatile_redis, async_mode)
    client = RecordingClient(server.url)
    assert client.call("join", {"room": "hang", "username": "ann"})["ok"]
    assert volatile_redis.process is not None
    os.kill(volatile_redis.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        # Local refusals never wait on Redis: nothing about them is shared.
        bad = client.call("join", {"room": "../nope"}, timeout=5)
        assert bad["error"]["code"] == "invalid_room"
        client.wait_for("error", lambda e: e["code"] == "invalid_room", timeout=5)
        refused = client.call(
            "message",
            {"room": "hang", "message": "during", "client_id": "c-1"},
            timeout=8,
        )
        assert refused["error"]["code"] == "unavailable"
        answered_within = time.monotonic() - started
    finally:
        os.kill(volatile_redis.process.pid, signal.SIGCONT)
    print(f"answers while Redis hung came within {answered_within:.1f}s")
    wait_until(
        lambda: client.call("message", {"room": "hang", "message": "after"})["ok"],
        timeout=15,
        what="the chat back",
    )
    history = client.call("history", {"room": "hang"})["messages"]
    assert [m["message"] for m in history] == ["after"]
    client.close()


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_presence_comes_back_after_a_fast_restart_that_lost_everything(
    start_server: StartServer, volatile_redis: RedisProcess, async_mode: str
) -> None:
    server = node(start_server, volatile_redis, async_mode)
    ann, bob = RecordingClient(server.url), RecordingClient(server.url)
    assert ann.call("join", {"room": "fast", "username": "ann"})["ok"]
    assert bob.call("join", {"room": "fast", "username": "bob"})["ok"]
    volatile_redis.stop()
    volatile_redis.start()  # same port, empty
    wait_until(
        lambda: ann.call("message", {"room": "fast", "message": "back"}).get("ok"),
        timeout=15,
        what="ann's message accepted again",
    )
    members = bob.call("join", {"room": "fast", "username": "bob"})["members"]
    assert sorted(m["username"] for m in members) == ["ann", "bob"]
    bob.wait_for("message", lambda m: m["message"] == "back")
    ann.close()
    bob.close()
