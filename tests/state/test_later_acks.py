"""Messages acknowledged after their round trip to Redis, the connection reading on
meanwhile (wire/later_acks.py): real nodes on a real Redis, raw websockets that send
without waiting for acks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from services import RedisProcess
from support import RawClient, RecordingClient, ServerProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("cluster")]

MODES = ["eventlet", "gevent", "threading"]
# A burst of messages as fast as a socket takes them, within the rate limit.
BURST_LIMITS = {"RATE_LIMIT_THRESHOLD": "500", "RATE_LIMIT_DISCONNECT_SCORE": "1000"}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis").start()
    yield process
    process.stop()


@pytest.fixture
def start_node(
    tmp_path: Path, private_redis: RedisProcess
) -> Iterator[Callable[[str], ServerProcess]]:
    """One node on the test's Redis, taking bursts; stopped at teardown."""
    nodes: list[ServerProcess] = []

    def start(async_mode: str) -> ServerProcess:
        node = ServerProcess(
            async_mode, tmp_path, REDIS_URL=private_redis.url, **BURST_LIMITS
        )
        nodes.append(node)
        return node.start()

    yield start
    for node in nodes:
        node.stop()


@pytest.fixture
def clients() -> Iterator[list[RecordingClient | RawClient]]:
    opened: list[RecordingClient | RawClient] = []
    yield opened
    for client in opened:
        client.close()


def in_flight(node: ServerProcess) -> int:
    found = re.search(r"^chat_messages_in_flight (\S+)$", node.metrics(), re.M)
    assert found, "no chat_messages_in_flight gauge"
    return int(float(found.group(1)))


def reader_and_sender(
    node: ServerProcess, clients: list[RecordingClient | RawClient], room: str
) -> tuple[RecordingClient, RawClient]:
    """Two members of `room`: one reading on socket.io, one sending on a raw
    websocket that does not wait for acks."""
    reader = RecordingClient(node.url)
    clients.append(reader)
    reader.call("join", {"room": room, "username": "reader"})
    sender = RawClient(node)
    clients.append(sender)
    sender.call("join", {"room": room, "username": "sender"})
    return reader, sender


@pytest.mark.parametrize("async_mode", MODES)
def test_a_burst_is_stored_and_acked_in_order_and_what_follows_waits_for_it(
    start_node: Callable[[str], ServerProcess],
    clients: list[RecordingClient | RawClient],
    async_mode: str,
) -> None:
    node = start_node(async_mode)
    reader, sender = reader_and_sender(node, clients, "burst")
    # 40 messages, one to a room the sender is not in (refused by the store), one
    # empty (refused before it), then a leave, all sent before the first ack can
    # have come back.
    ids = []
    for n in range(40):
        room = "elsewhere" if n == 20 else "burst"
        text = "" if n == 30 else f"m{n}"
        ids.append(sender.emit("message", {"room": room, "message": text}))
    leave = sender.emit("leave", {"room": "burst"})
    acks = [sender.ack(ack_id) for ack_id in ids]
    assert acks[20]["ok"] is False and acks[20]["error"]["code"] == "not_in_room"
    assert acks[30]["ok"] is False and acks[30]["error"]["code"] == "empty_message"
    stored = [ack for n, ack in enumerate(acks) if n not in (20, 30)]
    assert all(ack["ok"] for ack in stored), stored
    seqs = [ack["seq"] for ack in stored]
    assert seqs == sorted(seqs) and len(set(seqs)) == 38
    assert sender.ack(leave)["ok"] is True
    # Every ack came back in the order its event was sent.
    assert [i for i in sender.acks if i in ids or i == leave] == [*ids, leave]
    error = sender.wait_for("error", lambda e: e["code"] == "not_in_room")
    assert error["event"] == "message"
    # The room heard every message in order, then the leave, never before.
    reader.wait_for("left", lambda d: d["username"] == "sender")
    heard = [
        (name, data["message"] if name == "message" else data["username"])
        for name, data in reader.history()
        if name in ("message", "left")
    ]
    expected = [("message", f"m{n}") for n in range(40) if n not in (20, 30)]
    assert heard == [*expected, ("left", "sender")]


@pytest.mark.parametrize("async_mode", MODES)
def test_while_redis_holds_writes_the_connection_reads_on_and_the_acks_follow(
    start_node: Callable[[str], ServerProcess],
    private_redis: RedisProcess,
    clients: list[RecordingClient | RawClient],
    async_mode: str,
) -> None:
    node = start_node(async_mode)
    reader, sender = reader_and_sender(node, clients, "held")
    admin = redis.Redis.from_url(private_redis.url)
    admin.execute_command("CLIENT", "PAUSE", "3000", "WRITE")
    try:
        ids = [
            sender.emit("message", {"room": "held", "message": f"h{n}"})
            for n in range(5)
        ]
        # All five read and waiting on Redis together, none acked yet.
        wait_until(lambda: in_flight(node) == 5, timeout=2.5, what="5 in flight")
        assert not any(ack_id in sender.acks for ack_id in ids)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    seqs = [sender.ack(ack_id)["seq"] for ack_id in ids]
    assert seqs == sorted(seqs)
    reader.wait_for("message", lambda m: m["message"] == "h4")
    assert [m["message"] for m in reader.received("message")] == [
        f"h{n}" for n in range(5)
    ]
    wait_until(lambda: in_flight(node) == 0, what="nothing in flight")


@pytest.mark.parametrize("async_mode", MODES)
def test_a_connection_that_sends_and_closes_has_its_messages_stored_first(
    start_node: Callable[[str], ServerProcess],
    clients: list[RecordingClient | RawClient],
    async_mode: str,
) -> None:
    node = start_node(async_mode)
    reader, sender = reader_and_sender(node, clients, "gone")
    for n in range(20):
        sender.emit("message", {"room": "gone", "message": f"g{n}"})
    sender.close()
    reader.wait_for("left", lambda d: d["username"] == "sender")
    heard = [
        data["message"] if name == "message" else "left"
        for name, data in reader.history()
        if name in ("message", "left")
    ]
    assert heard == [f"g{n}" for n in range(20)] + ["left"]
