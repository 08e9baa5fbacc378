"""Several real nodes on one real Redis: chat across nodes, restarts, outages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import socketio

from services import NginxProcess, RedisProcess
from support import (
    SERVER_DIR,
    RecordingClient,
    ServerProcess,
    fake_library_version,
    new_identity,
    receive_event,
    wait_until,
    websocket_from,
)

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
            "LIST_ROOMS_DEFAULT": "listed",  # list_rooms counts every room
            **env,
        }
        node = ServerProcess(async_mode, tmp_path, **settings)
        nodes.append(node)
        return node.start().wait_until_ready()

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


def connect(
    node: ServerProcess, clients: list[RecordingClient], auth: Any = None
) -> RecordingClient:
    client = RecordingClient(node.url, auth=auth)
    clients.append(client)
    return client


def room_counts(client: RecordingClient) -> list[tuple[str, int]]:
    return [(r["room"], r["count"]) for r in client.call("list_rooms")["rooms"]]


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
        assert room_counts(client) == [("shared", 2)]
    bob.call("typing", {"room": "shared", "typing": True})
    alice.wait_for("typing", lambda d: d["username"] == "bob")

    bob.close()
    assert alice.wait_for("left", lambda d: d["username"] == "bob")["count"] == 1
    assert room_counts(alice) == [("shared", 1)]


def test_message_batches_cross_nodes(
    start_node: StartNode, clients: list[RecordingClient]
) -> None:
    node_a, node_b = start_node("gevent"), start_node("gevent")
    batcher = RecordingClient(node_b.url, auth={"features": ["messages"]})
    clients.append(batcher)
    sender = connect(node_a, clients)
    batcher.call("join", {"room": "batched", "username": "bea"})
    sender.call("join", {"room": "batched", "username": "sam"})
    acks = [
        sender.call("message", {"room": "batched", "message": f"m{i}"})
        for i in range(5)
    ]
    wanted = {ack["id"] for ack in acks}
    batcher.wait_for(
        "messages",
        lambda _: wanted <= {m["id"] for b in batcher.received("messages") for m in b},
    )
    assert batcher.received("message") == []


def texts_before(client: RecordingClient, event: str) -> tuple[list[str], list[str]]:
    """The chat texts a client got before its first `event`, and after it."""
    before: list[str] = []
    after: list[str] = []
    seen = False
    for name, data in client.history():
        if name == event:
            seen = True
        elif name in ("message", "messages"):
            batch = data if name == "messages" else [data]
            (after if seen else before).extend(m["message"] for m in batch)
    return before, after


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_each_node_gets_a_burst_once_in_order_and_before_what_followed_it(
    start_node: StartNode, clients: list[RecordingClient], async_mode: str
) -> None:
    """Messages take the relay, other room events the Socket.IO queue: a member on
    either node, batched or not, gets each message once, in seq order, and before
    the sender's `typing` that followed them."""
    node_a, node_b = start_node(async_mode), start_node(async_mode)
    sender = connect(node_a, clients)
    members = {
        "same node, batched": connect(node_a, clients, auth={"features": ["messages"]}),
        "other node, plain": connect(node_b, clients),
        "other node, batched": connect(
            node_b, clients, auth={"features": ["messages"]}
        ),
    }
    for name, client in members.items():
        client.call("join", {"room": "burst", "username": name.replace(" ", "-")[:32]})
    sender.call("join", {"room": "burst", "username": "sender"})
    texts = [f"m{i}" for i in range(60)]
    for text in texts:
        sender.sio.emit("message", {"room": "burst", "message": text})
    sender.sio.emit("typing", {"room": "burst", "typing": True})
    for name, client in members.items():
        client.wait_for("typing", lambda d: d["username"] == "sender")
        before, after = texts_before(client, "typing")
        assert (before, after) == (texts, []), name
    assert members["other node, plain"].received("messages") == []


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_relayed_messages_leave_before_a_queue_event_read_with_them(
    start_node: StartNode,
    clients: list[RecordingClient],
    redis_server: RedisProcess,
    async_mode: str,
) -> None:
    """Another node's messages (relay channel) and then its `typing` (Socket.IO
    queue), published in one write so the listener reads them together: the
    messages waiting in this node's batch go out before the `typing`."""
    node = start_node(async_mode)
    batched = connect(node, clients, auth={"features": ["messages"]})
    plain = connect(node, clients)
    for client, name in ((batched, "bea"), (plain, "pat")):
        client.call("join", {"room": "relay", "username": name})
    texts = [f"r{i}" for i in range(50)]
    publisher = redis.Redis.from_url(redis_server.url)
    (channel,) = relay_channels(publisher)  # the node's own, as another node writes
    writes = publisher.pipeline(transaction=False)
    for seq, text in enumerate(texts, start=1):
        message = {
            "room": "relay",
            "id": f"far-{seq}",
            "seq": seq,
            "sid": "far-sid",
            "username": "far",
            "trip": None,
            "message": text,
            "timestamp": 1,
        }
        writes.publish(channel, f"relay\n{json.dumps(message)}")
    typing = {"room": "relay", "sid": "far-sid", "username": "far", "typing": True}
    # python-socketio's own queue format (pubsub_manager.emit), from another host.
    emit = {
        "method": "emit",
        "event": "typing",
        "data": [typing],
        "binary": False,
        "namespace": "/",
        "room": ["room:relay", "batch:relay"],
        "skip_sid": None,
        "callback": None,
        "host_id": "farnode",
    }
    writes.publish("chat:socketio", json.dumps(emit))
    writes.execute()
    publisher.close()
    for client in (batched, plain):
        client.wait_for("typing", lambda d: d["username"] == "far")
        assert texts_before(client, "typing") == (texts, [])


def relay_channels(client: redis.Redis) -> set[bytes]:
    """The relay channels nodes read now: one per node."""
    return set(client.pubsub_channels("chat:socketio:messages:*"))


def test_a_message_is_relayed_to_the_other_nodes_only(
    start_node: StartNode, clients: list[RecordingClient], redis_server: RedisProcess
) -> None:
    """The node that stored a message delivers it to its own members itself: Redis
    publishes it once to each other node's channel and never back to the sender's."""
    observer = redis_server.client()
    node_a = start_node("gevent")
    (channel_a,) = relay_channels(observer)
    node_b = start_node("gevent")
    (channel_b,) = relay_channels(observer) - {channel_a}
    watch = observer.pubsub()
    watch.psubscribe("chat:socketio:messages:*")
    sender, local, remote = (
        connect(node_a, clients),
        connect(node_a, clients),
        connect(node_b, clients),
    )
    for client, name in ((sender, "sam"), (local, "lou"), (remote, "rem")):
        client.call("join", {"room": "relayed", "username": name})
    texts = [f"t{i}" for i in range(5)]
    for text in texts:
        assert sender.call("message", {"room": "relayed", "message": text})["ok"]
    for client in (local, remote):
        client.wait_for("message", lambda d: d["message"] == texts[-1])
        got = [m["message"] for m in client.received("message")]
        assert got == texts
    published: list[tuple[bytes, bytes]] = []

    def all_published() -> bool:
        event = watch.get_message(timeout=0.5)
        if event and event["type"] == "pmessage":
            published.append((event["channel"], event["data"]))
        return len(published) >= len(texts)

    wait_until(all_published, timeout=5, what="the relayed messages")
    assert [c for c, _ in published] == [channel_b] * len(texts)
    assert [json.loads(d.split(b"\n", 1)[1])["message"] for _, d in published] == texts
    watch.close()
    observer.close()


def test_with_the_stock_message_queue_messages_still_cross_nodes(
    start_node: StartNode, clients: list[RecordingClient], tmp_path: Path
) -> None:
    """When python-socketio is not the version the relay was written for, the
    stock queue carries messages and batches between nodes instead."""
    fake = fake_library_version(tmp_path / "fake", "python-socketio", "5.99.0")
    node_a = start_node("gevent", PYTHONPATH=fake)
    node_b = start_node("gevent", PYTHONPATH=fake)
    node_a.wait_for_log("running the stock library path for")
    sender = connect(node_a, clients)
    plain = connect(node_b, clients)
    batched = connect(node_b, clients, auth={"features": ["messages"]})
    for client, name in ((sender, "sam"), (plain, "pat"), (batched, "bea")):
        client.call("join", {"room": "stock", "username": name})
    texts = [f"s{i}" for i in range(10)]
    for text in texts:
        sender.sio.emit("message", {"room": "stock", "message": text})
    sender.sio.emit("typing", {"room": "stock", "typing": True})
    for client in (plain, batched):
        client.wait_for("typing", lambda d: d["username"] == "sam")
        assert texts_before(client, "typing") == (texts, [])


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
    node_a.start().wait_until_ready()
    node_b.start().wait_until_ready()

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
    """One sender (one session) reconnecting to the other node and retrying; a
    different sender's message with the same client_id is its own."""
    node_a, node_b = start_node(), start_node()
    session = {"session": "tab-0123456789abcdef"}
    first = connect(node_a, clients, session)
    second = connect(node_b, clients, session)
    stranger = connect(node_b, clients)
    for client in (first, second, stranger):
        client.call("join", {"room": "dedupe"})
    payload = {"room": "dedupe", "message": "once", "client_id": "c-42"}
    original = first.call("message", payload)
    retry = second.call("message", payload)
    assert (retry["id"], retry["seq"]) == (original["id"], original["seq"])
    other = stranger.call("message", {**payload, "message": "mine"})
    assert other["seq"] == 2
    history = second.call("history", {"room": "dedupe"})["messages"]
    assert [(m["seq"], m["message"]) for m in history] == [(1, "once"), (2, "mine")]


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
    assert left["count"] == 1 and left["reason"] == "lost"
    assert room_counts(survivor) == [("wake", 1)]
    members = survivor.call("join", {"room": "wake"})["members"]
    assert [m["username"] for m in members] == ["survivor"]


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_a_node_taken_for_dead_while_paused_comes_back_to_its_rooms(
    start_node: StartNode, clients: list[RecordingClient], async_mode: str
) -> None:
    """A node stopped (not killed) for longer than its timeout is reaped by the
    survivor, which stops relaying messages to it. When it runs again it notices,
    puts its member back, tells it the seq to catch up to, and hears the room again."""
    node_a, node_b = start_node(async_mode), start_node(async_mode)
    sleeper = connect(node_a, clients)
    awake = connect(node_b, clients)
    sleeper.call("join", {"room": "nap", "username": "sleeper"})
    awake.call("join", {"room": "nap", "username": "awake"})
    assert node_a.process is not None
    os.kill(node_a.process.pid, signal.SIGSTOP)
    try:
        awake.wait_for("left", lambda d: d["username"] == "sleeper", timeout=15)
        missed = awake.call("message", {"room": "nap", "message": "while you slept"})
        assert missed["ok"]
    finally:
        os.kill(node_a.process.pid, signal.SIGCONT)
    node_a.wait_for_log("taken for dead", timeout=15)
    sleeper.wait_for(
        "room_seq",
        lambda d: d["room"] == "nap" and d["last_seq"] >= missed["seq"],
        timeout=10,
    )
    awake.wait_for("joined", lambda d: d["username"] == "sleeper", timeout=10)
    after = awake.call("message", {"room": "nap", "message": "welcome back"})
    sleeper.wait_for("message", lambda d: d["id"] == after["id"], timeout=10)
    assert "Traceback" not in node_a.log()


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_a_name_is_one_persons_across_nodes_and_outlives_its_node(
    start_node: StartNode, clients: list[RecordingClient], async_mode: str
) -> None:
    node_a, node_b = start_node(async_mode), start_node(async_mode)
    identity = new_identity()
    alice = connect(node_a, clients, auth={"identity": identity})
    trip = alice.call("join", {"room": "names", "username": "alice"})["trip"]
    watcher = connect(node_b, clients)
    watcher.call("join", {"room": "names", "username": "watcher"})
    grabber = connect(node_b, clients, auth={"identity": new_identity()})
    refused = grabber.call("join", {"room": "names", "username": "Alice"})
    assert refused["error"]["code"] == "nickname_taken"
    # alice's second tab, through the other node, is alice.
    second_tab = connect(node_b, clients, auth={"identity": identity})
    ack = second_tab.call("join", {"room": "names", "username": "other"})
    assert (ack["username"], ack["trip"], len(ack["members"])) == ("alice", trip, 2)
    second_tab.close()
    assert node_a.process is not None
    node_a.process.kill()
    watcher.wait_for("left", lambda d: d["username"] == "alice", timeout=15)
    # The survivor reaped alice: her name waits for her (NICK_LEASE_SECONDS).
    refused = grabber.call("join", {"room": "names", "username": "alice"})
    assert refused["error"]["code"] == "nickname_taken"
    back = connect(node_b, clients, auth={"identity": identity})
    ack = back.call("join", {"room": "names", "username": "alice"})
    assert ack["ok"] and (ack["username"], ack["trip"]) == ("alice", trip)


def test_readiness_follows_redis_and_requests_say_unavailable(
    start_node: StartNode, clients: list[RecordingClient], redis_server: RedisProcess
) -> None:
    node, other = start_node(), start_node()
    client = connect(node, clients)
    listener = connect(other, clients)
    client.call("join", {"room": "outage", "username": "steady"})
    listener.call("join", {"room": "outage", "username": "listener"})
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
    restarted = time.monotonic()
    deadline = restarted + 15
    while True:
        reply = client.call("message", {"room": "outage", "message": "after"})
        if reply["ok"]:
            acked.append(reply)
            break
        assert time.monotonic() < deadline, "chat did not come back"
        time.sleep(0.1)
    # Delivery to the other node: through the queue, or the room_seq resync.
    while not any(m["id"] == reply["id"] for m in listener.received("message")):
        if any(n["last_seq"] >= reply["seq"] for n in listener.received("room_seq")):
            break
        assert time.monotonic() < deadline, "the other node never heard of it"
        time.sleep(0.05)
    print(f"delivery gap after Redis came back: {time.monotonic() - restarted:.2f}s")
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
            "TRIP_SECRET": "y" * 32,
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
    assert left["count"] == 1 and left["reason"] == "shutdown"
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


@pytest.fixture
def nginx_for(
    tmp_path: Path,
) -> Iterator[Callable[[list[ServerProcess]], NginxProcess]]:
    """Starts deploy/nginx.conf in front of given nodes; stopped at teardown."""
    started: list[NginxProcess] = []

    def start(nodes: list[ServerProcess]) -> NginxProcess:
        proxy = NginxProcess(tmp_path / "nginx", [node.port for node in nodes])
        started.append(proxy.start())
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def gauge(node: ServerProcess, name: str) -> float:
    with requests.get(f"{node.url}/metrics", timeout=5) as response:
        for line in response.text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
    raise AssertionError(name)


def test_websocket_clients_spread_over_nodes_through_nginx_and_chat(
    start_node: StartNode, nginx_for: Callable[[list[ServerProcess]], NginxProcess]
) -> None:
    nodes = [start_node(TRUSTED_PROXIES="127.0.0.1") for _ in range(2)]
    proxy = nginx_for(nodes)
    sources = [f"127.0.0.{n}" for n in range(2, 18)]
    sockets = [websocket_from(proxy.port, source) for source in sources]
    try:
        for n, connection in enumerate(sockets):
            connection.send(f'42["join",{{"room":"spread","username":"u{n}"}}]')
            receive_event(connection, "room_state")
        spread = [gauge(node, "chat_connected_clients") for node in nodes]
        assert sum(spread) == len(sources) and min(spread) > 0, spread
        sockets[0].send('42["message",{"room":"spread","message":"hello all"}]')
        for connection in sockets:
            message = receive_event(connection, "message")
            assert message["message"] == "hello all"  # type: ignore[index]
        logs = nodes[0].log() + nodes[1].log()
        assert "addr=127.0.0.9" in logs, "X-Forwarded-For from nginx was not trusted"
    finally:
        for connection in sockets:
            connection.close()


def test_polling_first_client_upgrades_through_nginx(
    start_node: StartNode,
    nginx_for: Callable[[list[ServerProcess]], NginxProcess],
    clients: list[RecordingClient],
) -> None:
    nodes = [start_node(TRUSTED_PROXIES="127.0.0.1") for _ in range(2)]
    proxy = nginx_for(nodes)
    poller = socketio.Client(reconnection=False)
    seen: list[dict[str, object]] = []
    poller.on("message", lambda data: seen.append(data))
    poller.connect(proxy.url, transports=["polling", "websocket"], wait_timeout=10)
    try:
        poller.call("join", {"room": "upgrade", "username": "poller"}, timeout=10)
        direct = connect(nodes[1], clients)
        direct.call("join", {"room": "upgrade", "username": "direct"})
        ack = direct.call("message", {"room": "upgrade", "message": "to the poller"})
        deadline = time.monotonic() + 10
        while not any(m.get("id") == ack["id"] for m in seen):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert poller.transport() == "websocket"
        reply = poller.call(
            "message", {"room": "upgrade", "message": "back"}, timeout=10
        )
        assert direct.wait_for("message", lambda m: m["id"] == reply["id"])
    finally:
        poller.disconnect()


class ResilientSender:
    """A client that survives its node dying: it reconnects (through nginx), joins
    again, and retries each message with the same client_id until acknowledged."""

    def __init__(self, url: str, room: str, name: str, count: int) -> None:
        self.room, self.name, self.count = room, name, count
        self.acked: dict[str, dict[str, object]] = {}
        self.sids: set[str] = set()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2)
        self.sio.on("connect", self._rejoin)
        # One session for all its connections: retries after a reconnect are its own.
        # An identity, so that its name is still its own on the surviving node.
        auth = {"session": f"session-of-{name}-0123456789", "identity": new_identity()}
        self.sio.connect(url, transports=["websocket"], auth=auth, wait_timeout=10)
        self.thread = threading.Thread(target=self._send_all)

    def _rejoin(self) -> None:
        self.sids.add(self.sio.get_sid())
        self.sio.start_background_task(
            self.sio.call,
            "join",
            {"room": self.room, "username": self.name},
            timeout=10,
        )

    def _send_all(self) -> None:
        for n in range(self.count):
            client_id = f"{self.name}-{n}"
            payload = {"room": self.room, "message": client_id, "client_id": client_id}
            while client_id not in self.acked:
                try:
                    reply = self.sio.call("message", payload, timeout=3)
                except Exception:
                    time.sleep(0.2)
                    continue
                if reply.get("ok"):
                    self.acked[client_id] = reply
                else:
                    time.sleep(0.2)
            time.sleep(0.02)


@pytest.fixture
def resilient_senders() -> Iterator[list[ResilientSender]]:
    """Senders closed after the test even when it fails: a client left behind
    keeps reconnecting (and drawing on `random`) under the next tests."""
    senders: list[ResilientSender] = []
    yield senders
    for sender in senders:
        sender.sio.disconnect()


def test_a_killed_node_loses_no_acknowledged_message(
    start_node: StartNode,
    nginx_for: Callable[[list[ServerProcess]], NginxProcess],
    clients: list[RecordingClient],
    resilient_senders: list[ResilientSender],
) -> None:
    nodes = [
        start_node(TRUSTED_PROXIES="127.0.0.1", HISTORY_SIZE="500") for _ in range(2)
    ]
    proxy = nginx_for(nodes)
    senders = resilient_senders
    senders.extend(ResilientSender(proxy.url, "death", f"s{n}", 40) for n in range(3))
    # Every sender connects from 127.0.0.1, so nginx sends them all to one node.
    doomed = max(nodes, key=lambda node: gauge(node, "chat_connected_clients"))
    survivor = next(node for node in nodes if node is not doomed)
    watcher = connect(survivor, clients)
    watcher.call("join", {"room": "death", "username": "watcher"})
    for sender in senders:
        sender.thread.start()
    while sum(len(s.acked) for s in senders) < 30:
        time.sleep(0.05)
    # Taken before the kill: the members list shows one sid per person, so the
    # sids it lacks afterwards are not necessarily the dead node's.
    doomed_sids = {sid for sender in senders for sid in sender.sids}
    assert len(doomed_sids) == len(senders)
    assert doomed.process is not None
    doomed.process.kill()
    killed_at = time.monotonic()
    for sender in senders:
        sender.thread.join(timeout=90)
        assert not sender.thread.is_alive()
    history = watcher.call("history", {"room": "death"})["messages"]
    acked_ids = sorted(str(r["id"]) for s in senders for r in s.acked.values())
    assert sorted(m["id"] for m in history) == acked_ids
    assert [m["seq"] for m in history] == sorted(m["seq"] for m in history)
    assert len({m["client_id"] for m in history}) == len(history) == 120
    for sid in doomed_sids:
        watcher.wait_for("left", lambda d, sid=sid: d["sid"] == sid, timeout=15)
    print(f"dead node's members gone {time.monotonic() - killed_at:.1f}s after kill")


def test_changes_and_whispers_cross_nodes(
    start_node: StartNode, clients: list[RecordingClient]
) -> None:
    node_a, node_b = start_node("gevent"), start_node("eventlet")
    alice = connect(node_a, clients, auth={"identity": new_identity()})
    bob = connect(node_b, clients, auth={"identity": new_identity()})
    carol = connect(node_b, clients)
    for client, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        client.call("join", {"room": "talk", "username": name})
    sent = alice.call("message", {"room": "talk", "message": "hi @bob"})
    assert bob.wait_for("message", lambda m: m["id"] == sent["id"])["mentions"]
    react = {"room": "talk", "id": sent["id"], "emoji": "👋", "on": True}
    assert bob.call("react", react)["ok"]
    assert alice.wait_for("reaction")["count"] == 1
    ack = alice.call("whisper", {"room": "talk", "to": "bob", "message": "psst"})
    assert bob.wait_for("whisper")["id"] == ack["id"]
    edit = alice.call("edit", {"room": "talk", "id": sent["id"], "message": "hi all"})
    carol.wait_for("message_edited", lambda e: e["seq"] == edit["seq"])
    assert carol.received("whisper") == []


def test_catching_up_after_a_restart_with_redis_shows_each_change_once(
    start_node: StartNode, clients: list[RecordingClient]
) -> None:
    node = start_node("gevent")
    alice = connect(node, clients, auth={"identity": new_identity()})
    bob_identity = new_identity()
    bob = connect(node, clients, auth={"identity": bob_identity})
    alice.call("join", {"room": "restart", "username": "alice"})
    state = bob.call("join", {"room": "restart", "username": "bob"})
    first = alice.call("message", {"room": "restart", "message": "one"})
    second = alice.call("message", {"room": "restart", "message": "two"})
    bob.wait_for("message", lambda m: m["id"] == second["id"])
    bob.close()
    changes = [
        alice.call("edit", {"room": "restart", "id": first["id"], "message": "1"}),
        alice.call(
            "react", {"room": "restart", "id": second["id"], "emoji": "✅", "on": True}
        ),
        alice.call("delete", {"room": "restart", "id": first["id"]}),
    ]
    assert node.process is not None
    node.process.kill()
    node.process.wait()
    restarted = start_node("eventlet")
    back = connect(restarted, clients, auth={"identity": bob_identity})
    caught_up = back.call(
        "join",
        {
            "room": "restart",
            "username": "bob",
            "epoch": state["epoch"],
            "since": second["seq"],
        },
    )
    assert caught_up["epoch"] == state["epoch"]
    assert [(e["event"], e["seq"]) for e in caught_up["messages"]] == [
        ("message_edited", changes[0]["seq"]),
        ("reaction", changes[1]["seq"]),
        ("message_deleted", changes[2]["seq"]),
    ]


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_a_ban_or_lock_made_on_one_node_holds_on_the_other_at_once(
    start_node: StartNode, clients: list[RecordingClient], async_mode: str
) -> None:
    """Issue #14: moderation is stored with the room, for every node."""
    node_a, node_b = start_node(async_mode), start_node(async_mode)
    owner = connect(node_a, clients, auth={"identity": new_identity()})
    spammer_identity = new_identity()
    spammer = connect(node_b, clients, auth={"identity": spammer_identity})
    watcher = connect(node_b, clients)
    owner.call("join", {"room": "guarded", "username": "owner"})
    spammer.call("join", {"room": "guarded", "username": "spammer"})
    watcher.call("join", {"room": "guarded", "username": "watcher"})
    ban = owner.call("ban", {"room": "guarded", "name": "spammer", "minutes": 10})
    assert ban["ok"], ban
    # The spammer's connection is on the other node: it is told, and is out.
    left = spammer.wait_for("left", lambda d: d["reason"] == "banned")
    assert left["by"] == "owner" and left["until"] == ban["until"]
    refused = spammer.call("message", {"room": "guarded", "message": "still?"})
    assert refused["error"]["code"] == "not_in_room"
    owner.call("message", {"room": "guarded", "message": "after the ban"})
    watcher.wait_for("message", lambda m: m["message"] == "after the ban")
    assert spammer.received("message") == []
    again = connect(node_b, clients, auth={"identity": spammer_identity})
    assert again.call("join", {"room": "guarded"})["error"]["code"] == "banned"
    # A lock made through node B keeps a newcomer on node A out (another room:
    # every test client shares one address, which the ban above covers).
    locker = connect(node_b, clients, auth={"identity": new_identity()})
    locker.call("join", {"room": "locked", "username": "locker"})
    assert locker.call("lock", {"room": "locked", "locked": True})["locked"]
    newcomer = connect(node_a, clients, auth={"identity": new_identity()})
    assert newcomer.call("join", {"room": "locked"})["error"]["code"] == "room_locked"


def test_ownership_survives_its_node(
    start_node: StartNode, clients: list[RecordingClient]
) -> None:
    node_a, node_b = start_node(), start_node()
    identity = new_identity()
    owner = connect(node_a, clients, auth={"identity": identity})
    state = owner.call("join", {"room": "kept", "username": "owner"})
    assert state["info"]["owner"] == state["trip"]
    owner.call("topic", {"room": "kept", "topic": "still mine"})
    assert node_a.process is not None
    node_a.process.kill()
    node_a.process.wait()
    other = connect(node_b, clients, auth={"identity": new_identity()})
    info = other.call("join", {"room": "kept", "username": "other"})["info"]
    assert info["owner"] == state["trip"] and info["topic"] == "still mine"
    back = connect(node_b, clients, auth={"identity": identity})
    assert back.call("join", {"room": "kept", "username": "owner"})["ok"]
    assert back.call("kick", {"room": "kept", "name": "other"})["ok"]
