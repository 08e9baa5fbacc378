"""The real server (`python app.py`) over a real websocket, in each async mode."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import socketio
import websocket

from support import (
    SERVER_DIR,
    RecordingClient,
    ServerProcess,
    join_raw,
    raw_socket,
    wait_until,
)

pytestmark = pytest.mark.integration

# Rooms listed as an operator may choose, so that list_rooms shows every room here
# (unlisted rooms: test_moderation_server.py).
SERVER_ENV = {"LIST_ROOMS_DEFAULT": "listed"}


@pytest.fixture
def clients(server: ServerProcess) -> Iterator[list[RecordingClient]]:
    """Opened clients, all closed at teardown."""
    opened: list[RecordingClient] = []
    yield opened
    for client in opened:
        client.close()


def open_client(
    server: ServerProcess, clients: list[RecordingClient]
) -> RecordingClient:
    client = RecordingClient(server.url)
    clients.append(client)
    return client


def test_server_logs_its_async_mode(server: ServerProcess) -> None:
    assert f"async_mode={server.async_mode}" in server.log()
    with requests.get(f"{server.url}/healthz", timeout=5) as health:
        assert health.json() == {"status": "ok"}


def test_two_clients_chat_in_a_room(
    server: ServerProcess, clients: list[RecordingClient]
) -> None:
    alice = open_client(server, clients)
    bob = open_client(server, clients)
    assert alice.wait_for("connected")["limits"]["history_size"] == 100
    alice.call("join", {"room": "chat-room", "username": "alice"})
    bob.call("join", {"room": "chat-room", "username": "bob"})
    alice.wait_for("joined", lambda d: d["username"] == "bob" and d["count"] == 2)

    ack = alice.call("message", {"room": "chat-room", "message": "hi bob"})
    assert ack["ok"] is True
    seen = bob.wait_for("message", lambda d: d["id"] == ack["id"])
    assert seen["username"] == "alice" and seen["message"] == "hi bob"

    bob.call("message", {"room": "chat-room", "message": "hi alice"})
    alice.wait_for("message", lambda d: d["message"] == "hi alice")

    bob.call("typing", {"room": "chat-room", "typing": True})
    alice.wait_for("typing", lambda d: d["username"] == "bob" and d["typing"])

    bob.close()
    left = alice.wait_for("left", lambda d: d["username"] == "bob")
    assert left["count"] == 1


def test_history_and_since_after_reconnect(
    server: ServerProcess, clients: list[RecordingClient]
) -> None:
    writer = open_client(server, clients)
    reader = open_client(server, clients)
    writer.call("join", {"room": "history-room", "username": "writer"})
    state = reader.call("join", {"room": "history-room", "username": "reader"})
    for n in range(3):
        writer.call("message", {"room": "history-room", "message": f"before {n}"})
    reader.wait_for("message", lambda d: d["message"] == "before 2")
    last_seen = max(m["seq"] for m in reader.received("message"))
    reader.close()

    for n in range(2):
        writer.call("message", {"room": "history-room", "message": f"missed {n}"})

    back = open_client(server, clients)
    ack = back.call(
        "join",
        {"room": "history-room", "epoch": state["epoch"], "since": last_seen},
    )
    assert [m["message"] for m in ack["messages"]] == ["missed 0", "missed 1"]
    assert back.wait_for("room_state")["last_seq"] == ack["last_seq"]
    full = back.call("history", {"room": "history-room"})
    assert [m["seq"] for m in full["messages"]] == list(range(1, 6))


def test_bad_payloads_get_errors_and_others_keep_chatting(
    server: ServerProcess, clients: list[RecordingClient]
) -> None:
    rogue = open_client(server, clients)
    friend = open_client(server, clients)
    rogue.call("join", {"room": "robust"})
    friend.call("join", {"room": "robust", "username": "friend"})
    bad = [
        ("join", "not an object", "invalid_payload"),
        ("join", {"room": "../etc"}, "invalid_room"),
        ("message", {"room": "robust", "message": ""}, "empty_message"),
        ("message", {"room": "robust", "message": "x" * 5000}, "message_too_long"),
        ("message", {"room": "other", "message": "hi"}, "not_in_room"),
        ("leave", {"room": "other"}, "not_in_room"),
        ("bogus", {"x": 1}, "unknown_event"),
    ]
    for event, payload, code in bad:
        ack = rogue.call(event, payload)
        assert ack["error"]["code"] == code, (event, ack)
        rogue.wait_for(
            "error", lambda d, e=event, c=code: d["event"] == e and d["code"] == c
        )
    # The protocol has no binary payloads: a binary packet closes its connection.
    rogue.sio.emit("message", b"\x00\xffbinary")
    wait_until(lambda: not rogue.sio.connected, what="rogue disconnected")
    ack = friend.call("message", {"room": "robust", "message": "still fine"})
    assert ack["ok"] is True
    assert friend.call("list_rooms")["rooms"][0]["count"] == 1


def websocket_handshake(server: ServerProcess, origin: str) -> str:
    """The first Engine.IO frame of a raw websocket opened with `origin`, or "".

    A refused handshake either fails the upgrade (eventlet, threading) or, where the
    server upgrades before the app runs (gevent-websocket), closes with no frame.
    """
    url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    try:
        connection = websocket.create_connection(url, origin=origin, timeout=5)
    except websocket.WebSocketBadStatusException:
        return ""
    try:
        return connection.recv()
    except websocket.WebSocketConnectionClosedException:
        return ""
    finally:
        connection.close()


def polling_handshake(server: ServerProcess, origin: str) -> int:
    url = f"{server.url}/socket.io/?EIO=4&transport=polling"
    with requests.get(url, headers={"Origin": origin}, timeout=5) as response:
        return response.status_code


def test_foreign_origin_handshake_is_refused(server: ServerProcess) -> None:
    assert websocket_handshake(server, "http://evil.example") == ""
    assert polling_handshake(server, "http://evil.example") == 400


def test_allowed_origins_can_connect(server: ServerProcess) -> None:
    for origin in ("http://localhost:8080", server.url):
        assert websocket_handshake(server, origin).startswith("0{")
        assert polling_handshake(server, origin) == 200


def test_unknown_async_mode_stops_startup_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=SERVER_DIR,
        env={"ASYNC_MODE": "tornado", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ASYNC_MODE='tornado' is not supported" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_log_format_writes_one_object_per_line(tmp_path: Path) -> None:
    import json

    node = ServerProcess("threading", tmp_path, LOG_FORMAT="json").start()
    try:
        client = RecordingClient(node.url)
        client.call("join", {"room": "logged"})
        client.close()
    finally:
        node.stop()
    lines = [line for line in node.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["message"].startswith("join sid=") for e in entries)


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent", "threading"])
def test_sigterm_stops_an_idle_server_within_seconds(
    tmp_path: Path, async_mode: str
) -> None:
    node = ServerProcess(async_mode, tmp_path).start()
    assert node.process is not None
    node.process.terminate()
    assert node.process.wait(timeout=5) == 0
    assert "shutting down: 0 connection(s) left their rooms" in node.log()


def test_request_heads_longer_than_the_http_buffers_are_served(
    server: ServerProcess,
) -> None:
    """serving.py keeps the per-connection HTTP buffers small (256 bytes)."""
    cookie = "session=" + "c" * 6000
    with requests.get(
        f"{server.url}/healthz", headers={"Cookie": cookie}, timeout=5
    ) as health:
        assert health.json() == {"status": "ok"}
    url = f"{server.url}/socket.io/?EIO=4&transport=polling&pad={'p' * 3000}"
    with requests.get(url, timeout=5) as handshake:
        assert handshake.status_code == 200 and handshake.text.startswith("0{")


def test_long_polling_clients_chat_with_bodies_longer_than_the_http_buffers(
    server: ServerProcess,
) -> None:
    """Posts and poll responses of several KiB through the server's 256-byte HTTP
    buffers: every message arrives whole and in order."""
    texts = [f"{number} " + "é" * 1500 for number in range(5)]
    clients = []
    heard: list[str] = []
    try:
        for name in ("poller", "other"):
            client = socketio.Client(reconnection=False)
            client.connect(server.url, transports=["polling"], wait_timeout=10)
            clients.append(client)
            ack = client.call("join", {"room": "polling", "username": name}, timeout=10)
            assert ack["ok"], ack
        poller, other = clients
        poller.on("message", lambda message: heard.append(message["message"]))
        for text in texts:
            payload = {"room": "polling", "message": text}
            ack = other.call("message", payload, timeout=10)
            assert ack["ok"], ack
        wait_until(lambda: len(heard) >= len(texts))
        assert heard == texts
        assert poller.transport() == "polling"
    finally:
        for client in clients:
            client.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        '4277["test_message",{"message":"x","timestamp":NaN}]',
        '4277["test_message",{"message":"x","timestamp":-Infinity}]',
        '4277["message",{"room":"r","message":"x","timestamp":1e400}]',
        '4277["message",{"room":"r","message":"x","timestamp":' + "9" * 400 + "}]",
        '4277["message",{"room":"r","message":"\\ud800 lone"}]',
    ],
)
def test_numbers_json_cannot_carry_and_lone_surrogates_are_refused(
    server: ServerProcess, frame: str
) -> None:
    """Never echoed (test_message once echoed NaN), never stored (Redis's cjson
    cannot encode them: a seq was used up and history had a gap)."""
    connection = raw_socket(server)
    join_raw(connection, "r")
    connection.send(frame)
    while True:
        reply = connection.recv()
        if reply.startswith("4377"):
            break
    ack = json.loads(reply[4:])[0]
    assert ack["error"]["code"] == "invalid_payload", ack
    connection.close()
