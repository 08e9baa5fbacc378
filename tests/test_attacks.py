"""Attacks on a real server: fuzzed payloads, hostile frames, floods, evasion, churn."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import protocol
from support import RecordingClient, ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("attacks")]

KNOWN_CODES = set(protocol.ERROR_CODES)
ROOT = "/socket.io/?EIO=4&transport=websocket"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this module's servers write their logs."""
    return tmp_path_factory.mktemp("attacks")


@pytest.fixture(scope="module")
def server(logs: Path) -> Iterator[ServerProcess]:
    """A server with limits lifted, so attacks reach the handlers."""
    # Rooms listed, as an operator may choose, so list_rooms shows the fuzzed room.
    process = ServerProcess("eventlet", logs, LIST_ROOMS_DEFAULT="listed").start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()[-3000:]


@pytest.fixture
def strict_server(logs: Path) -> Iterator[ServerProcess]:
    """A server with the default rate limits, as in production."""
    process = ServerProcess(
        "eventlet",
        logs,
        RATE_LIMIT_THRESHOLD="30",
        RATE_LIMIT_DISCONNECT_SCORE="60",
    ).start()
    yield process
    process.stop()


def raw_socket(server: ServerProcess) -> websocket.WebSocket:
    """A raw Engine.IO websocket, connected to the namespace, `connected` consumed."""
    connection = websocket.create_connection(
        server.url.replace("http", "ws") + ROOT, timeout=10
    )
    assert connection.recv().startswith("0{")
    connection.send("40")
    assert connection.recv().startswith("40")
    assert connection.recv().startswith('42["connected"')
    return connection


def answers_list_rooms(connection: websocket.WebSocket) -> bool:
    """The connection still works: list_rooms gets its `rooms` reply."""
    try:
        connection.send('42["list_rooms",{}]')
        while True:
            frame = connection.recv()
            if frame.startswith('42["rooms"'):
                return True
            if frame == "2":
                connection.send("3")
    except (websocket.WebSocketException, OSError):
        return False


# -- Fuzzing every client event with arbitrary JSON-like payloads ----------------

KEYS = st.sampled_from(
    ["room", "message", "username", "typing", "since", "before", "limit", "epoch"]
    + ["client_id", "timestamp", "id", "emoji", "on", "to", "reply_to", "kind"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=300)
    | st.sampled_from(["lobby", "fuzz-room", "", " ", "a" * 65, "\u202eevil", "\x00"])
    | st.sampled_from(["👍", "🏴\U000e0067\U000e007f", "action", "fuzzer", "bystander"])
)
# binary packets close the connection (tests/wire/test_engine_guards.py)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(KEYS | st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=30,
)
PAYLOADS = JSON_LIKE | st.dictionaries(KEYS, JSON_LIKE, max_size=6)


@pytest.fixture(scope="module")
def fuzz_clients(
    server: ServerProcess,
) -> Iterator[tuple[RecordingClient, RecordingClient]]:
    """A fuzzing client, and a bystander chatting in a room the fuzzer can reach."""
    fuzzer = RecordingClient(server.url)
    bystander = RecordingClient(server.url)
    fuzzer.call("join", {"room": "fuzz-room", "username": "fuzzer"})
    bystander.call("join", {"room": "fuzz-room", "username": "bystander"})
    yield fuzzer, bystander
    fuzzer.close()
    bystander.close()


def check_reply(reply: Any) -> None:
    assert isinstance(reply, dict), reply
    if reply.get("ok") is True:
        return
    assert reply["ok"] is False and reply["error"]["code"] in KNOWN_CODES, reply
    assert "Traceback" not in reply["error"]["message"]


@pytest.mark.parametrize("event", protocol.CLIENT_EVENTS + ("not_an_event",))
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=PAYLOADS)
def test_fuzzed_payloads_always_get_a_known_answer(
    fuzz_clients: tuple[RecordingClient, RecordingClient], event: str, payload: Any
) -> None:
    fuzzer, _ = fuzz_clients
    check_reply(fuzzer.call(event, payload))


def test_after_fuzzing_the_server_serves_and_its_state_is_consistent(
    fuzz_clients: tuple[RecordingClient, RecordingClient],
) -> None:
    fuzzer, bystander = fuzz_clients
    fuzzer.call("join", {"room": "fuzz-room"})
    ack = bystander.call("message", {"room": "fuzz-room", "message": "still here"})
    assert ack["ok"]
    fuzzer.wait_for("message", lambda m: m["id"] == ack["id"])
    state = bystander.call("join", {"room": "fuzz-room"})
    names = sorted(member["username"] for member in state["members"])
    assert "bystander" in names
    listed = {r["room"]: r["count"] for r in bystander.call("list_rooms")["rooms"]}
    assert listed["fuzz-room"] == len(state["members"])
    seqs = [m["seq"] for m in state["messages"]]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


# -- Hostile frames below Socket.IO ----------------------------------------------

HOSTILE_FRAMES: list[str | bytes] = [
    '42["message",{',
    "42" + "[" * 5000 + "]" * 5000,
    '42["join",' + "{" * 3000,
    "49xyz",
    "zzzz",
    "",
    b"\x00\x01\x02\xff",
    '42{"a":1}',
    "42[]",
    "42[5]",
    '42[null,{"room":"x"}]',
    '451-["message",{"_placeholder":true,"num":0}]',
    '451-["message",{"_placeholder":true,"num":7}]',
    '42["message",{"room":"lobby","message":"' + "\\ud800" * 10 + '"}]',
    "4" + "9" * 5000 + '["join",{}]',
    "41",
    "1",
    "6",
]


@pytest.mark.parametrize("frame", HOSTILE_FRAMES, ids=range(len(HOSTILE_FRAMES)))
def test_hostile_frames_hurt_no_one_else(
    server: ServerProcess, frame: str | bytes
) -> None:
    bystander = raw_socket(server)
    attacker = raw_socket(server)
    try:
        if isinstance(frame, bytes):
            attacker.send_binary(frame)
        else:
            attacker.send(frame)
    except (websocket.WebSocketException, OSError):
        pass
    attacker.close()
    assert answers_list_rooms(bystander)
    bystander.close()


def test_invalid_utf8_closes_only_that_connection(server: ServerProcess) -> None:
    bystander = raw_socket(server)
    attacker = raw_socket(server)
    frame = websocket.ABNF.create_frame(b'42["x",\xff\xfe]', websocket.ABNF.OPCODE_TEXT)
    attacker.send_frame(frame)
    assert not answers_list_rooms(attacker)
    assert answers_list_rooms(bystander)


def test_ten_thousand_bad_frames_do_not_flood_the_log(server: ServerProcess) -> None:
    """The first undecodable packet closes the connection (wire/packet_filter.py);
    what the attacker manages to send before the close costs a line at most each,
    and the log stays small however many it sends on new connections."""
    before = server.log_path.stat().st_size
    sent = 0
    while sent < 10_000:
        attacker = raw_socket(server)
        try:
            for _ in range(1_000):
                attacker.send('42["message",{')
                sent += 1
        except (websocket.WebSocketException, OSError):
            pass  # closed by the server, as it should be
        assert not answers_list_rooms(attacker)
        attacker.close()
    growth = server.log_path.stat().st_size - before
    assert growth < 200_000, f"log grew by {growth} bytes"
    assert answers_list_rooms(raw_socket(server))


# -- Flooding and evasion, with production limits --------------------------------


def test_flooder_is_limited_while_neighbours_on_the_same_address_chat(
    strict_server: ServerProcess,
) -> None:
    alice = RecordingClient(strict_server.url)
    bob = RecordingClient(strict_server.url)
    flooder = RecordingClient(strict_server.url)
    for name, client in (("alice", alice), ("bob", bob), ("flooder", flooder)):
        client.call("join", {"room": "flooded", "username": name})

    outcome: dict[str, Any] = {"accepted": 0, "first_refusal_after": None}

    def flood() -> None:
        started = time.monotonic()
        while time.monotonic() - started < 3 and flooder.sio.connected:
            try:
                ack = flooder.call("message", {"room": "flooded", "message": "spam"}, 5)
            except Exception:
                break
            if ack["ok"]:
                outcome["accepted"] += 1
            elif outcome["first_refusal_after"] is None:
                assert ack["error"]["code"] == "rate_limited"
                outcome["first_refusal_after"] = time.monotonic() - started

    flooding = threading.Thread(target=flood)
    flooding.start()
    sent: dict[str, list[str]] = {"alice": [], "bob": []}
    for n in range(8):
        for name, client in (("alice", alice), ("bob", bob)):
            text = f"{name} says {n}"
            ack = client.call("message", {"room": "flooded", "message": text})
            assert ack["ok"], ack
            sent[name].append(text)
        time.sleep(0.35)
    flooding.join()

    assert outcome["first_refusal_after"] is not None
    assert outcome["accepted"] <= 30
    print(
        f"flooder: {outcome['accepted']} accepted, first refused after "
        f"{outcome['first_refusal_after']:.2f}s"
    )
    for reader, writer in ((alice, "bob"), (bob, "alice")):
        reader.wait_for("message", lambda m, w=writer: m["message"] == sent[w][-1])
        texts = [
            m["message"] for m in reader.received("message") if m["username"] == writer
        ]
        assert texts == sent[writer]
    for client in (alice, bob, flooder):
        client.close()


def test_reconnecting_does_not_reset_the_limit(strict_server: ServerProcess) -> None:
    flooder = RecordingClient(strict_server.url)
    flooder.call("join", {"room": "evasion"})
    while flooder.call("message", {"room": "evasion", "message": "spam"})["ok"]:
        pass
    flooder.close()
    again = RecordingClient(strict_server.url)
    ack = again.call("list_rooms")
    assert ack["ok"] is False and ack["error"]["code"] == "rate_limited"
    assert ack["error"]["retry_after_ms"] > 0
    again.close()


def test_hammering_while_limited_is_disconnected_and_logged(
    strict_server: ServerProcess,
) -> None:
    flooder = RecordingClient(strict_server.url)
    for _ in range(200):
        if not flooder.sio.connected:
            break
        flooder.sio.emit("list_rooms", {})
        time.sleep(0.002)
    deadline = time.monotonic() + 10
    while flooder.sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not flooder.sio.connected
    assert "kept sending while refused" in strict_server.log()


# -- Churn -----------------------------------------------------------------------


def gauge(server: ServerProcess, name: str) -> float:
    with requests.get(f"{server.url}/metrics", timeout=5) as response:
        match = re.search(rf"^{name} ([0-9.e+]+)$", response.text, re.M)
    assert match, name
    return float(match.group(1))


def rss_kib(server: ServerProcess) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.M)
    assert match
    return int(match.group(1))


def churn(server: ServerProcess, cycles: int) -> None:
    for n in range(cycles):
        connection = raw_socket(server)
        connection.send(f'42["join",{{"room":"churn-{n % 50}","username":"c{n}"}}]')
        while not connection.recv().startswith('42["room_state"'):
            pass
        connection.send(f'42["typing",{{"room":"churn-{n % 50}","typing":true}}]')
        connection.close()


def test_churn_leaves_no_state_and_memory_settles(
    logs: Path, record_property: Any
) -> None:
    # Engine.IO frees a closed connection's socket when its next ping is due: a short
    # interval lets each batch's leftovers go before RSS is read.
    server = ServerProcess(
        "eventlet",
        logs,
        ROOM_TTL_SECONDS="0",
        PING_INTERVAL_SECONDS="1",
        PING_TIMEOUT_SECONDS="1",
    ).start()

    def churn_and_settle(cycles: int) -> int:
        churn(server, cycles)
        time.sleep(2.5)
        return rss_kib(server)

    try:
        after_warmup = churn_and_settle(1000)
        after_more = churn_and_settle(1500)
        after_all = churn_and_settle(1500)
        deadline = time.monotonic() + 10
        while gauge(server, "chat_connected_clients") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # the idle-room sweep runs every second with ROOM_TTL_SECONDS=0
        for name in (
            "chat_connected_clients",
            "chat_room_members",
            "chat_connections_in_rooms",
            "chat_client_addresses",
            "chat_rate_limited_connections",
            "chat_handler_connection_state",
            "chat_typing_state",
            "chat_rooms",
        ):
            assert gauge(server, name) == 0, name
        assert gauge(server, "chat_rate_limit_remembered_scores") <= 16
        record_property("rss_kib", [after_warmup, after_more, after_all])
        print(f"churn RSS KiB: {after_warmup} -> {after_more} -> {after_all}")
        assert after_all - after_more < 3072, "memory keeps growing with churn"
    finally:
        server.stop()
