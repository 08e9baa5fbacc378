"""Fixtures of the room store tests: each store, empty, with a small history.

`store` runs a test on the in-memory store (its clock moved by hand) and on the
Redis store (a private redis-server per module, flushed per test).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chat.moderation import Moderation
from services import RedisProcess
from state.base import RoomStore
from state.memory import MemoryRoomStore
from state.policy_store import MemoryPolicyStore, PolicyStore, RedisPolicyStore
from state.redis_space import RedisSpace, connect
from state.redis_store import RedisRoomStore
from store_settings import HISTORY, LEASE, TTL
from support import ManualClock


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One private redis-server for this module."""
    process = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    yield process
    process.stop()


@pytest.fixture
def clock() -> ManualClock:
    """The in-memory store's monotonic clock, moved by hand."""
    return ManualClock(1000.0)


@pytest.fixture
def redis_space(redis_server: RedisProcess) -> Iterator[RedisSpace]:
    client = connect(redis_server.url)
    client.flushdb()
    space = RedisSpace(client, "test:")
    space.sync_clock()
    yield space
    client.close()


@pytest.fixture(params=["memory", "redis"])
def store(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> Iterator[RoomStore]:
    """Each store with a 5-message history, a 2 s room TTL and a 1 s name lease."""
    if request.param == "memory":
        yield MemoryRoomStore(
            history_size=HISTORY,
            room_ttl_seconds=TTL,
            nick_lease_seconds=LEASE,
            clock=clock,
        )
        return
    space = request.getfixturevalue("redis_space")
    yield RedisRoomStore(
        space, HISTORY, TTL, node_id="node-a", nick_lease_seconds=LEASE
    )


SERVER_MOD = "servermod2"


class Clock:
    """A wall clock in ms, moved by hand (moderation's expiries)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def policies(request: pytest.FixtureRequest) -> Iterator[PolicyStore]:
    """Each policy store, empty."""
    if request.param == "memory":
        yield MemoryPolicyStore()
        return
    space: RedisSpace = request.getfixturevalue("redis_space")
    yield RedisPolicyStore(space, owner_ttl_seconds=7 * 86400)


@pytest.fixture
def wall_clock() -> Clock:
    return Clock()


@pytest.fixture
def mod(policies: PolicyStore, wall_clock: Clock) -> Moderation:
    """Moderation on each policy store: SERVER_MOD moderates every room, owners keep
    rooms for 7 days, kicks last 300 s."""
    return Moderation(
        policies,
        server_moderators=frozenset({SERVER_MOD}),
        owner_ttl_seconds=7 * 86400,
        kick_seconds=300,
        listed_by_default=False,
        clock_ms=wall_clock,
    )
