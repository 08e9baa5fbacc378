"""`messages` batches: only for clients that ask, complete, in order, never twice."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import websocket
from flask_socketio import SocketIOTestClient

from chat.broadcast import Broadcaster
from chat.protocol import accepted_features
from support import ServerProcess, join_raw, raw_socket

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
    connect: Connect,
) -> None:
    """Whether or not the flusher got to the message first, `left` comes after it."""
    for round_ in range(20):
        room = f"order-{round_}"
        batcher, talker = connect(auth=BATCHES), connect()
        join(batcher, room, "bea")
        join(talker, room, "tom")
        batcher.get_received()
        talker.emit("message", {"room": room, "message": "last words"})
        talker.emit("leave", {"room": room}, callback=True)
        events = wait_for_events(batcher, lambda e: any(n == "left" for n, _ in e))
        names = [name for name, _ in events]
        assert names.index("messages") < names.index("left")
        assert batched_messages(events)[0]["message"] == "last words"


def test_a_joiner_gets_a_message_sent_as_it_joins_exactly_once(
    connect: Connect,
) -> None:
    """In room_state or in a batch, never both, whichever the flusher did first."""
    for round_ in range(20):
        room = f"late-{round_}"
        talker = connect()
        join(talker, room, "tom")
        join(connect(auth=BATCHES), room, "bea")  # so there is a batch to hold
        talker.emit("message", {"room": room, "message": "before you came"})
        joiner = connect(auth=BATCHES)
        ack = joiner.emit("join", {"room": room, "username": "jo"}, callback=True)
        talker.emit("message", {"room": room, "message": "welcome"}, callback=True)
        events = wait_for_events(
            joiner,
            lambda e: any(m["message"] == "welcome" for m in batched_messages(e)),
        )
        seen = [m["message"] for m in ack["messages"]] + [
            m["message"] for m in batched_messages(events)
        ]
        assert seen == ["before you came", "welcome"]


# -- The broadcaster's order, with a server that records what it is asked to send


class RecordingServer:
    """Stands in for socketio.Server: records emits; `on_emit` may re-enter."""

    def __init__(self) -> None:
        self.emits: list[tuple[str, Any, Any]] = []
        self.on_emit: Callable[[str], None] = lambda event: None
        self.manager = type("Manager", (), {"rooms": {"/": {}}})()
        self.eio = type("Engine", (), {"create_queue": staticmethod(queue.Queue)})()

    def emit(self, event: str, data: Any, to: Any = None, **kwargs: Any) -> None:
        self.emits.append((event, data, to))
        self.on_emit(event)

    def enter_room(self, sid: str, room: str) -> None:
        self.manager.rooms["/"].setdefault(room, {})[sid] = sid


def message(seq: int) -> dict[str, Any]:
    return {"seq": seq, "message": f"m{seq}"}


def test_an_event_to_a_room_goes_after_its_pending_batch() -> None:
    server = RecordingServer()
    broadcast = Broadcaster(server, clustered=False)  # type: ignore[arg-type]
    broadcast.enter("s1", "r", batching=True)
    broadcast.message("r", message(2))
    broadcast.message("r", message(1))
    broadcast.to_room("left", {"sid": "s2"}, "r")
    assert [(e, d) for e, d, _ in server.emits] == [
        ("messages", [message(1), message(2)]),
        ("left", {"sid": "s2"}),
    ]


def test_a_disconnect_inside_a_batch_send_does_not_deadlock() -> None:
    """The freeze in issue #10: sending a batch found a zombie connection, whose
    disconnect sent `left` to its rooms, which flushed batches again."""
    server = RecordingServer()
    broadcast = Broadcaster(server, clustered=False)  # type: ignore[arg-type]
    for room in ("a", "b"):
        broadcast.enter("s1", room, batching=True)
        broadcast.message(room, message(1))

    def zombie_found(event: str) -> None:
        if event == "messages" and len(server.emits) == 1:
            broadcast.to_room("left", {"sid": "zombie"}, "a")
            broadcast.to_room("left", {"sid": "zombie"}, "b")

    server.on_emit = zombie_found
    finished = threading.Event()
    worker = threading.Thread(
        target=lambda: (broadcast.flush_all(), finished.set()), daemon=True
    )
    worker.start()
    assert finished.wait(5), "flush_all deadlocked on a re-entrant send"
    sent = [(event, to) for event, _, to in server.emits]
    assert sent.count(("messages", "batch:a")) == 1
    assert sent.count(("messages", "batch:b")) == 1
    assert sent.index(("messages", "batch:b")) < sent.index(
        ("left", ["room:b", "batch:b"])
    )
    assert broadcast.batches.pending_count() == 0


# -- Real servers, real websockets -----------------------------------------------


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
    return raw_socket(server, BATCHES)


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
        assert server.metric("chat_batching_connections") == 3
        batches_before = server.metric("chat_message_batches_total")
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
        sent = server.metric("chat_message_batches_total") - batches_before
        assert 1 <= sent < count  # several messages per batch under a burst
    finally:
        for connection in everyone:
            connection.close()
