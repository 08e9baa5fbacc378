"""`messages` batches: only for clients that ask, complete, in order, never twice."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import websocket
from flask_socketio import SocketIOTestClient

from protocol import accepted_features
from support import ServerProcess
from test_attacks import raw_socket
from test_framed_broadcast import join as join_raw

BATCHES = {"features": ["messages"]}
Connect = Callable[..., SocketIOTestClient]


@pytest.mark.parametrize(
    "auth",
    [None, "messages", 3, [], {}, {"features": "messages"}, {"features": [1, None]}],
)
def test_odd_auth_announces_nothing(auth: Any) -> None:
    assert accepted_features(auth) == frozenset()


def test_known_features_are_picked_and_unknown_ones_ignored() -> None:
    auth = {"features": ["messages", "telepathy"], "token": "x"}
    assert accepted_features(auth) == frozenset({"messages"})


# -- Through the Flask-SocketIO test client --------------------------------------


def wait_for_events(
    client: SocketIOTestClient, done: Callable[[list[tuple[str, Any]]], bool]
) -> list[tuple[str, Any]]:
    """Events received until `done` holds; batches come from the flusher thread."""
    events: list[tuple[str, Any]] = []
    deadline = time.monotonic() + 10
    while not done(events):
        assert time.monotonic() < deadline, f"gave up waiting: {events}"
        for item in client.get_received():
            args = item["args"]
            events.append(
                (item["name"], args if item["name"] == "message" else args[0])
            )
        time.sleep(0.01)
    return events


def batched_messages(events: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [m for name, batch in events if name == "messages" for m in batch]


def join(client: SocketIOTestClient, room: str, username: str) -> None:
    ack = client.emit("join", {"room": room, "username": username}, callback=True)
    assert ack["ok"], ack


def test_batch_clients_get_messages_and_plain_clients_get_message(
    connect: Connect,
) -> None:
    batcher = connect(auth=BATCHES)
    plain = connect()
    for client, name in ((batcher, "bea"), (plain, "pat")):
        join(client, "mix", name)
    for client in (batcher, plain):
        client.get_received()
    for index in range(20):
        ack = plain.emit(
            "message", {"room": "mix", "message": f"m{index}"}, callback=True
        )
        assert ack["ok"]
    batched = wait_for_events(batcher, lambda e: len(batched_messages(e)) >= 20)
    assert [name for name, _ in batched] == ["messages"] * len(batched)
    assert [m["message"] for m in batched_messages(batched)] == [
        f"m{i}" for i in range(20)
    ]
    seqs = [m["seq"] for m in batched_messages(batched)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    plain_events = plain.get_received()
    assert [e["name"] for e in plain_events].count("message") == 20
    assert "messages" not in {e["name"] for e in plain_events}


def test_a_pending_batch_goes_before_the_leave_that_follows_it(
    app: Any, connect: Connect
) -> None:
    batcher = connect(auth=BATCHES)
    talker = connect()
    join(batcher, "order", "bea")
    join(talker, "order", "tom")
    batcher.get_received()
    batches = app.extensions["chat_events"].batches
    # Hold the flusher off: what is pending must go out before `left`, not after.
    with batches._send_lock:
        talker.emit(
            "message", {"room": "order", "message": "last words"}, callback=True
        )
        assert batches.pending_count() == 1
    talker.emit("leave", {"room": "order"}, callback=True)
    events = wait_for_events(batcher, lambda e: any(n == "left" for n, _ in e))
    names = [name for name, _ in events]
    assert names.index("messages") < names.index("left")
    assert batched_messages(events)[0]["message"] == "last words"


def test_a_joiner_does_not_get_a_pending_message_twice(
    app: Any, connect: Connect
) -> None:
    talker = connect()
    join(talker, "late", "tom")
    join(connect(auth=BATCHES), "late", "bea")  # so there is a batch to hold
    batches = app.extensions["chat_events"].batches
    batches._started = True  # no flusher: the message stays pending until the join
    talker.emit(
        "message", {"room": "late", "message": "before you came"}, callback=True
    )
    assert batches.pending_count() == 1
    joiner = connect(auth=BATCHES)
    ack = joiner.emit("join", {"room": "late", "username": "jo"}, callback=True)
    assert batches.pending_count() == 0
    assert [m["message"] for m in ack["messages"]] == ["before you came"]
    talker.emit("message", {"room": "late", "message": "welcome"}, callback=True)
    batches.flush_all()
    events = wait_for_events(joiner, lambda e: len(batched_messages(e)) >= 1)
    assert [m["message"] for m in batched_messages(events)] == ["welcome"]


# -- Real servers, real websockets -----------------------------------------------


@pytest.fixture(scope="module", params=["eventlet", "gevent", "threading"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    process = ServerProcess(request.param, tmp_path_factory.mktemp("batches")).start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


def metric(server: ServerProcess, name: str) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def assert_delivered(
    server: ServerProcess, texts: list[str], expected: list[str]
) -> None:
    """All of them, once; in sending order where handlers run one at a time.

    Under threading python-socketio handles each event in a thread of its own, so
    one sender's messages may be numbered out of sending order (as without batches).
    """
    if server.async_mode == "threading":
        assert sorted(texts) == sorted(expected)
    else:
        assert texts == expected


def batch_socket(server: ServerProcess) -> websocket.WebSocket:
    """A raw Engine.IO websocket that announces batches in its connect packet."""
    connection = websocket.create_connection(
        server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
        timeout=10,
    )
    assert connection.recv().startswith("0{")
    connection.send("40" + json.dumps(BATCHES))
    assert connection.recv().startswith("40")
    assert connection.recv().startswith('42["connected"')
    return connection


def read_chat(
    connection: websocket.WebSocket, count: int
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """(batches, single messages) in arrival order, until `count` messages came.

    A raw socket read by one thread: python-socketio's client hands each packet to
    a thread of its own, which would blur the arrival order under test.
    """
    batches: list[list[dict[str, Any]]] = []
    singles: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while sum(map(len, batches)) + len(singles) < count:
        assert time.monotonic() < deadline, "messages missing"
        frame = connection.recv()
        if frame == "2":
            connection.send("3")
        elif frame.startswith('42["messages"'):
            batches.append(json.loads(frame[2:])[1])
        elif frame.startswith('42["message"'):
            singles.append(json.loads(frame[2:])[1])
    return batches, singles


@pytest.mark.integration
def test_a_burst_arrives_complete_and_in_order_in_growing_batches(
    server: ServerProcess,
) -> None:
    batch_readers = [batch_socket(server) for _ in range(3)]
    plain_reader = raw_socket(server)
    sender = raw_socket(server)
    everyone = [*batch_readers, plain_reader, sender]
    try:
        for connection in everyone:
            join_raw(connection, "burst")
        assert metric(server, "chat_batching_connections") == 3
        batches_before = metric(server, "chat_message_batches_total")
        count = 400
        for index in range(count):  # back to back: they arrive faster than handled
            sender.send(f'42["message",{{"room":"burst","message":"b{index}"}}]')
        expected = [f"b{i}" for i in range(count)]
        for reader in batch_readers:
            batches, singles = read_chat(reader, count)
            assert singles == []
            for batch in batches:
                seqs = [m["seq"] for m in batch]
                assert seqs == sorted(seqs)
            texts = [m["message"] for batch in batches for m in batch]
            assert_delivered(server, texts, expected)
        batches, singles = read_chat(plain_reader, count)
        assert batches == []
        assert_delivered(server, [m["message"] for m in singles], expected)
        sent = metric(server, "chat_message_batches_total") - batches_before
        assert 1 <= sent < count  # several messages per batch under a burst
    finally:
        for connection in everyone:
            connection.close()
