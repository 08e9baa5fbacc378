"""The faults of issue #10 below Socket.IO, each reproduced on a real server.

A sleeping member must not freeze anyone; binary packets, cheap frames and
never-read replies must not grow the server; a cut-off client loses its transport.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import websocket

from support import (
    ENGINE_IO_PATH,
    GENEROUS_LIMITS,
    GREEN_MODES,
    RawClient,
    ServerProcess,
    StartServer,
    answers_list_rooms,
    is_closed,
    join_raw,
    raw_socket,
    wait_until,
)

pytestmark = pytest.mark.integration

BATCHES = {"features": ["messages"]}


def rss_kib(server: ServerProcess) -> int:
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Sender:
    """Sends a numbered message to each room at a steady rate, in its own thread."""

    def __init__(self, client: RawClient, rooms: list[str], per_second: float):
        self.client, self.rooms, self.interval = client, rooms, 1 / per_second
        self.sent: dict[str, list[str]] = {room: [] for room in rooms}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        count = 0
        while not self._stop.wait(self.interval):
            for room in self.rooms:
                text = f"{room}-{count}"
                self.client.emit("message", {"room": room, "message": text})
                self.sent[room].append(text)
            count += 1

    def stop(self) -> dict[str, list[str]]:
        self._stop.set()
        self._thread.join()
        return self.sent


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_member_that_stops_answering_pings_freezes_no_one(
    start_server: StartServer, async_mode: str
) -> None:
    """Issue #10, 1: at the zombie's ping deadline, batched delivery froze for every
    room (flush_all -> send -> ping check -> disconnect -> flush -> same lock)."""
    server = start_server(
        async_mode, PING_INTERVAL_SECONDS="2", PING_TIMEOUT_SECONDS="1"
    )
    member = RawClient(server, BATCHES)
    elsewhere = RawClient(server, BATCHES)
    sender = RawClient(server)
    for client, room in ((member, "z"), (sender, "z"), (elsewhere, "other")):
        assert client.call("join", {"room": room})["ok"]
    assert sender.call("join", {"room": "other"})["ok"]
    # Out of step with Engine.IO's own ping check, which runs in cycles from the
    # first connection: zombies are then found by a send, as in production.
    # Each zombie still writes now and then (its pongs are what is lost), so only
    # its ping deadline can find it, not a read timeout (eventlet has one, of the
    # same length: in production the two race).
    zombies = []
    for _ in range(3):
        time.sleep(0.25)
        zombie = RawClient(server, BATCHES)
        assert zombie.call("join", {"room": "z"})["ok"]
        zombie.sleep(keep_writing=True)
        zombies.append(zombie)
    flow = Sender(sender, ["z", "other"], per_second=16)
    for zombie in zombies:
        member.wait_for("left", lambda d, z=zombie: d["sid"] == z.sid, timeout=20)
    assert member.received("left")[-1]["count"] == 2
    time.sleep(2)  # keep sending after the zombie is gone
    # Joins and typing still get their answers.
    late = RawClient(server, BATCHES)
    assert late.call("join", {"room": "z"}, timeout=5)["ok"]
    assert sender.call("typing", {"room": "z", "typing": True}, timeout=5)["ok"]
    member.wait_for("typing", timeout=5)
    sent = flow.stop()
    for client, room in ((member, "z"), (elsewhere, "other")):
        wait_until(
            lambda c=client, r=room: len(c.received("message")) >= len(sent[r]),
            timeout=10,
            what=f"every message of {room}",
        )
        texts = [m["message"] for m in client.received("message")]
        assert texts == sent[room]
    for client in (*zombies, member, elsewhere, sender, late):
        client.close()


def send_binary_event(connection: websocket.WebSocket, attachments: int) -> None:
    """A BINARY_EVENT header announcing attachments, then some of them."""
    header = f'45{attachments}-["message",{{"_placeholder":true,"num":0}}]'
    connection.send(header)
    for _ in range(3):
        connection.send_binary(b"\x00" * 16384)


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_binary_event_closes_its_connection_before_attachments_pile_up(
    start_server: StartServer, async_mode: str
) -> None:
    """Issue #10, 3: attachments were kept in memory before any handler or limit."""
    server = start_server(async_mode)
    bystander = raw_socket(server)
    attacker = raw_socket(server)
    join_raw(attacker, "r")
    try:
        send_binary_event(attacker, 99_999_999)
    except (websocket.WebSocketException, OSError):
        pass  # closed while sending: what we want
    assert is_closed(attacker)
    bare = raw_socket(server)
    try:
        bare.send_binary(b"\x01\x02")
    except (websocket.WebSocketException, OSError):
        pass
    assert is_closed(bare)
    assert answers_list_rooms(bystander)
    server.wait_for_log("sent a binary packet")
    bystander.close()


@pytest.mark.parametrize("async_mode", GREEN_MODES)
@pytest.mark.parametrize(
    "frame",
    [
        "6",  # Engine.IO noop
        '431["x"]',  # an ack nobody asked for
        "4x",  # undecodable Socket.IO packet
    ],
)
def test_a_stream_of_cheap_frames_is_cut_off(
    start_server: StartServer, async_mode: str, frame: str
) -> None:
    """Issue #10, 4: frames below the rate limiter cost the sender nothing."""
    lifted = {
        key: value for key, value in GENEROUS_LIMITS.items() if "FRAME" not in key
    }
    server = start_server(
        async_mode, **lifted, FRAMES_PER_SECOND="40", FRAME_BURST="200"
    )
    canary = raw_socket(server)
    streamer = raw_socket(server)
    try:
        for _ in range(5000):
            streamer.send(frame)
    except (websocket.WebSocketException, OSError):
        pass
    assert is_closed(streamer)
    assert answers_list_rooms(canary)
    budget_closes = server.metric("chat_frame_budget_closes_total")
    if frame == "4x":
        # Refused as undecodable by the handler, which runs in its own greenlet
        # while the reader keeps spending the budget: either guard may win.
        refusals = server.log().count("sent a packet that does not decode")
        assert budget_closes + min(refusals, 1) >= 1
        assert budget_closes <= 1
    else:
        assert budget_closes == 1
    canary.close()


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_client_that_never_reads_is_dropped_and_the_server_stays_small(
    start_server: StartServer, async_mode: str
) -> None:
    """Issue #10, 5: replies to a client that never reads were queued without end
    (20 such clients: 58 MB -> 1.17 GB in 40 s)."""
    server = start_server(async_mode, MAX_QUEUED_BYTES_PER_CONNECTION="1048576")
    canary = raw_socket(server)
    talker = raw_socket(server)
    join_raw(talker, "big")
    for index in range(100):  # a full history: each reply is ~100 messages
        talker.send(f'42["message",{{"room":"big","message":"{"x" * 1900} {index}"}}]')
    join_raw(talker, "big")  # all stored
    hoarders = []
    for _ in range(5):
        hoarder = websocket.WebSocket()
        hoarder.sock_opt.sockopt.append((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096))
        hoarder.connect(server.url.replace("http", "ws") + ENGINE_IO_PATH, timeout=10)
        hoarder.recv()
        hoarder.send("40")
        hoarder.recv()
        hoarder.recv()
        hoarder.send('42["join",{"room":"big"}]')
        hoarders.append(hoarder)
    before = rss_kib(server)
    payload = '421["history",{"room":"big"}]'  # the reply is the ack
    try:
        for _ in range(400):  # ~80 MB of replies asked for, never read
            for hoarder in hoarders:
                hoarder.send(payload)
    except (websocket.WebSocketException, OSError):
        pass  # dropped while asking
    wait_until(
        lambda: server.metric("chat_slow_consumers_dropped_total") == len(hoarders),
        timeout=20,
        what="every hoarder dropped",
    )
    assert rss_kib(server) - before < 40 * 1024
    assert answers_list_rooms(canary)
    for connection in (canary, talker, *hoarders):
        connection.close()


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_cut_off_client_loses_its_transport_not_only_its_namespace(
    start_server: StartServer, async_mode: str
) -> None:
    """Issue #10, 4: the websocket of a rate-limited flooder stayed open."""
    server = start_server(
        async_mode, RATE_LIMIT_THRESHOLD="30", RATE_LIMIT_DISCONNECT_SCORE="60"
    )
    flooder = raw_socket(server)
    try:
        for _ in range(500):
            flooder.send('42["list_rooms",{}]')
    except (websocket.WebSocketException, OSError):
        pass
    assert is_closed(flooder, timeout=10)
    wait_until(
        lambda: server.metric("chat_connected_clients") == 0,
        what="the session released",
    )
