"""Several real nodes on one real Redis: chat across nodes, restarts, outages."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from services import RedisProcess
from support import SERVER_DIR, RecordingClient, ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("cluster")]

NODE_TIMEOUT = "3"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A private redis-server for one test."""
    process = RedisProcess(tmp_path / "redis").start()
    yield process
    process.stop()


StartNode = Callable[..., ServerProcess]


@pytest.fixture
def start_node(tmp_path: Path, redis_server: RedisProcess) -> Iterator[StartNode]:
    """Starts nodes on the test's Redis; all are stopped at teardown."""
    nodes: list[ServerProcess] = []

    def start(async_mode: str = "eventlet", **env: str) -> ServerProcess:
        settings = {
            "REDIS_URL": redis_server.url,
            "NODE_TIMEOUT_SECONDS": NODE_TIMEOUT,
            **env,
        }
        node = ServerProcess(async_mode, tmp_path, **settings)
        nodes.append(node)
        return node.start()

    yield start
    for node in nodes:
        node.stop()


@pytest.fixture
def clients() -> Iterator[list[RecordingClient]]:
    """Clients opened by a test, closed at teardown."""
    opened: list[RecordingClient] = []
    yield opened
    for client in opened:
        client.close()


def connect(node: ServerProcess, clients: list[RecordingClient]) -> RecordingClient:
    client = RecordingClient(node.url)
    clients.append(client)
    return client


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_clients_on_two_nodes_share_a_room(
    start_node: StartNode, clients: list[RecordingClient], async_mode: str
) -> None:
    node_a, node_b = start_node(async_mode), start_node(async_mode)
    alice, bob = connect(node_a, clients), connect(node_b, clients)
    alice.call("join", {"room": "shared", "username": "alice"})
    state = bob.call("join", {"room": "shared", "username": "bob"})
    assert sorted(m["username"] for m in state["members"]) == ["alice", "bob"]
    alice.wait_for("joined", lambda d: d["username"] == "bob" and d["count"] == 2)

    ack = alice.call("message", {"room": "shared", "message": "from A"})
    assert bob.wait_for("message", lambda m: m["id"] == ack["id"])["seq"] == 1
    ack = bob.call("message", {"room": "shared", "message": "from B"})
    assert alice.wait_for("message", lambda m: m["id"] == ack["id"])["seq"] == 2

    for client in (alice, bob):
        assert client.call("list_rooms")["rooms"] == [{"room": "shared", "count": 2}]
    bob.call("typing", {"room": "shared", "typing": True})
    alice.wait_for("typing", lambda d: d["username"] == "bob")

    bob.close()
    assert alice.wait_for("left", lambda d: d["username"] == "bob")["count"] == 1
    assert alice.call("list_rooms")["rooms"] == [{"room": "shared", "count": 1}]


def test_history_epoch_and_seq_survive_restarting_every_node(
    start_node: StartNode, clients: list[RecordingClient]
) -> None:
    node_a, node_b = start_node(), start_node()
    writer = connect(node_a, clients)
    reader = connect(node_b, clients)
    writer.call("join", {"room": "durable", "username": "writer"})
    state = reader.call("join", {"room": "durable", "username": "reader"})
    for n in range(3):
        writer.call("message", {"room": "durable", "message": f"before {n}"})
    reader.wait_for("message", lambda m: m["seq"] == 3)
    epoch = state["epoch"]

    for node in (node_a, node_b):
        node.stop()
    node_a.start()
    node_b.start()

    writer = connect(node_a, clients)
    writer.call("join", {"room": "durable", "username": "writer"})
    ack = writer.call("message", {"room": "durable", "message": "after restart"})
    assert ack["seq"] == 4
    back = connect(node_b, clients)
    rejoin = back.call(
        "join", {"room": "durable", "username": "reader", "epoch": epoch, "since": 3}
    )
    assert rejoin["epoch"] == epoch
    assert [m["message"] for m in rejoin["messages"]] == ["after restart"]


def test_retries_with_a_client_id_are_stored_once_across_nodes(
    start_node: StartNode, clients: list[RecordingClient]
) -> None:
    node_a, node_b = start_node(), start_node()
    first, second = connect(node_a, clients), connect(node_b, clients)
    for client in (first, second):
        client.call("join", {"room": "dedupe"})
    payload = {"room": "dedupe", "message": "once", "client_id": "c-42"}
    original = first.call("message", payload)
    retry = second.call("message", payload)
    assert (retry["id"], retry["seq"]) == (original["id"], original["seq"])
    assert [
        m["seq"] for m in second.call("history", {"room": "dedupe"})["messages"]
    ] == [1]


def test_a_dead_nodes_members_leave_presence(
    start_node: StartNode, clients: list[RecordingClient]
) -> None:
    node_a, node_b = start_node(), start_node()
    doomed = connect(node_a, clients)
    survivor = connect(node_b, clients)
    doomed.call("join", {"room": "wake", "username": "doomed"})
    survivor.call("join", {"room": "wake", "username": "survivor"})
    assert node_a.process is not None
    node_a.process.kill()
    started = time.monotonic()
    left = survivor.wait_for("left", lambda d: d["username"] == "doomed", timeout=15)
    elapsed = time.monotonic() - started
    print(
        f"dead node's member left after {elapsed:.1f}s (NODE_TIMEOUT={NODE_TIMEOUT}s)"
    )
    assert left["count"] == 1
    assert survivor.call("list_rooms")["rooms"] == [{"room": "wake", "count": 1}]
    members = survivor.call("join", {"room": "wake"})["members"]
    assert [m["username"] for m in members] == ["survivor"]


def test_readiness_follows_redis_and_requests_say_unavailable(
    start_node: StartNode, clients: list[RecordingClient], redis_server: RedisProcess
) -> None:
    node = start_node()
    client = connect(node, clients)
    client.call("join", {"room": "outage", "username": "steady"})
    acked = [client.call("message", {"room": "outage", "message": "before"})]
    with requests.get(f"{node.url}/readyz", timeout=5) as ready:
        assert ready.status_code == 200

    redis_server.stop()
    refused = client.call("message", {"room": "outage", "message": "during"})
    assert refused["ok"] is False and refused["error"]["code"] == "unavailable"
    deadline = time.monotonic() + 10
    while True:
        with requests.get(f"{node.url}/readyz", timeout=10) as ready:
            if ready.status_code == 503:
                break
        assert time.monotonic() < deadline, "readyz never turned 503"
        time.sleep(0.2)

    redis_server.start()
    deadline = time.monotonic() + 15
    while True:
        reply = client.call("message", {"room": "outage", "message": "after"})
        if reply["ok"]:
            acked.append(reply)
            break
        assert time.monotonic() < deadline, "chat did not come back"
        time.sleep(0.2)
    history = client.call("history", {"room": "outage"})["messages"]
    assert [m["id"] for m in history] == [a["id"] for a in acked]
    assert "Traceback" not in node.log()


def test_startup_fails_clearly_without_redis(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=SERVER_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SECRET_KEY": "x" * 32,
            "ASYNC_MODE": "threading",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_drains_presence_at_once_and_exits_quickly(
    start_node: StartNode, clients: list[RecordingClient]
) -> None:
    leaving, staying = start_node(NODE_TIMEOUT_SECONDS="60"), start_node()
    goer, watcher = connect(leaving, clients), connect(staying, clients)
    goer.call("join", {"room": "drain", "username": "goer"})
    watcher.call("join", {"room": "drain", "username": "watcher"})
    assert leaving.process is not None
    leaving.process.terminate()
    assert leaving.process.wait(timeout=5) == 0
    left = watcher.wait_for("left", lambda d: d["username"] == "goer", timeout=5)
    assert left["count"] == 1
    assert "shutting down: 1 connection(s) left their rooms" in leaving.log()


def test_metrics_count_what_a_scripted_chat_did(
    start_node: StartNode, clients: list[RecordingClient]
) -> None:
    node = start_node()
    talker = connect(node, clients)
    talker.call("join", {"room": "counted", "username": "talker"})
    for n in range(5):
        talker.call(
            "message", {"room": "counted", "message": f"m{n}", "client_id": f"c{n}"}
        )
    talker.call("message", {"room": "counted", "message": "m0", "client_id": "c0"})
    talker.call("message", {"room": "nowhere", "message": "x"})
    talker.call("join", "bad")
    with requests.get(f"{node.url}/metrics", timeout=5) as response:
        text = response.text
    assert "chat_messages_accepted_total 5.0" in text
    assert "chat_messages_broadcast_total 5.0" in text
    assert 'chat_errors_total{code="not_in_room"} 1.0' in text
    assert 'chat_errors_total{code="invalid_payload"} 1.0' in text
    assert 'chat_handler_seconds_count{event="message"} 7.0' in text
    assert "chat_connected_clients 1.0" in text
