"""The direct-write broadcast path: same bytes as the libraries, same order, no block.

Unit tests pin the frame format to eventlet's and gevent-websocket's own framing and
drive a Lane through partial writes; integration tests run real eventlet and gevent
servers with real websocket clients, one of which stops reading.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio
import websocket
from engineio import packet as eio_packet

from support import ServerProcess, join_raw, raw_socket
from wire.framed_broadcast import (
    AT_ONCE_ROOM_SIZE,
    CORK_LIMIT_BYTES,
    FIRST,
    FLUSH,
    MORE,
    QUEUE,
    SPILLED,
    FramedBroadcast,
    Lane,
    websocket_frame,
)

LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 70_000]


def eventlet_frame(message: str | bytes) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # importing eventlet warns it is deprecated
        from eventlet.websocket import RFC6455WebSocket

    ws = RFC6455WebSocket.__new__(RFC6455WebSocket)
    ws.extensions = {}
    ws._deflate_enc = None
    return ws._pack_message(message)


def gevent_websocket_frame(message: str | bytes) -> bytes:
    from geventwebsocket.websocket import Header, WebSocket

    data = message.encode() if isinstance(message, str) else message
    text = isinstance(message, str)
    opcode = WebSocket.OPCODE_TEXT if text else WebSocket.OPCODE_BINARY
    return Header.encode_header(True, opcode, b"", len(data), 0) + data


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("kind", ["text", "binary"])
def test_frames_match_the_libraries_own(length: int, kind: str) -> None:
    message: str | bytes = "é" * (length // 2) + "x" * (length % 2)
    if kind == "binary":
        message = bytes(range(256)) * (length // 256) + bytes(length % 256)
    assert websocket_frame(message) == eventlet_frame(message)
    assert websocket_frame(message) == gevent_websocket_frame(message)


class FakeRawSocket:
    """A non-blocking socket that takes at most `room` bytes per send."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.written = b""
        self.sends = 0
        self.fail: OSError | None = None

    def send(self, data: bytes) -> int:
        self.sends += 1
        if self.fail is not None:
            raise self.fail
        if self.room <= 0:
            raise BlockingIOError
        taken = data[: self.room]
        self.room -= len(taken)
        self.written += taken
        return len(taken)


class FakeWebSocket:
    """What Engine.IO's writer writes through: frames whatever it is given."""

    def __init__(self, raw: FakeRawSocket) -> None:
        self.raw = raw

    def send(self, message: str, **kwargs: Any) -> None:
        self.raw.written += websocket_frame(message)


class RecordingQueue:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any) -> None:
        self.items.append(item)

    def empty(self) -> bool:
        return not self.items


class EngineSocket:
    def __init__(self) -> None:
        self.queue = RecordingQueue()


def make_lane(room: int) -> tuple[Lane, FakeRawSocket, FakeWebSocket, EngineSocket]:
    raw = FakeRawSocket(room)
    ws = FakeWebSocket(raw)

    def green_sendall(data: bytes) -> None:
        raw.written += data

    engine = EngineSocket()
    lane = Lane(ws, raw, green_sendall, engine)
    return lane, raw, ws, engine


@pytest.mark.parametrize(
    "payload",
    [
        {"room": "r", "message": 'héllo \u2028 "quoted"', "seq": 7},
        [{"id": "a", "seq": 1}, {"id": "b", "seq": 2}],  # a batch
        {"nested": {"list": [1, 2.5, None, True]}},
    ],
)
def test_a_room_emit_sends_what_socketio_would_to_the_same_members(
    payload: Any,
) -> None:
    """`room_emit` walks the room itself; each member must get the very packet
    python-socketio's own `emit(..., to=room)` would have sent it."""
    sio = socketio.Server(async_mode="threading")
    broadcast = FramedBroadcast(sio, "gevent")  # no lanes: every packet queued
    members = [f"eio{n}" for n in range(5)]
    for eio_sid in [*members, "outsider"]:
        sid = sio.manager.connect(eio_sid, "/")
        if eio_sid != "outsider":
            sio.manager.enter_room(sid, "/", "room:r", eio_sid)
    ours: list[tuple[str, Any]] = []
    theirs: list[tuple[str, Any]] = []
    sio.eio.send_packet = lambda eio_sid, pkt: ours.append((eio_sid, pkt.encode()))
    sio._send_eio_packet = lambda eio_sid, pkt: theirs.append((eio_sid, pkt.encode()))
    broadcast.room_emit("message", payload, "room:r")
    sio.emit("message", payload, to="room:r")
    assert sorted(ours) == sorted(theirs) and len(ours) == len(members)
    broadcast.room_emit("message", payload, "room:nobody")  # an empty room
    assert len(ours) == len(members)


def test_a_room_emit_of_bytes_goes_socketios_way_with_its_attachments() -> None:
    """Bytes anywhere in the data make a binary event with attachments, which only
    python-socketio's own emit builds: room_emit hands it over unchanged."""
    sio = socketio.Server(async_mode="threading")
    broadcast = FramedBroadcast(sio, "gevent")
    sid = sio.manager.connect("eio0", "/")
    sio.manager.enter_room(sid, "/", "room:r", "eio0")
    sent: list[Any] = []
    sio.eio.send_packet = lambda eio_sid, pkt: sent.append(("direct", pkt.encode()))
    sio._send_eio_packet = lambda eio_sid, pkt: sent.append(("socketio", pkt.encode()))
    broadcast.room_emit("file", {"name": "a", "bytes": b"\x00\x01"}, "room:r")
    assert sent == [
        ("socketio", '451-["file",{"name":"a","bytes":{"_placeholder":true,"num":0}}]'),
        ("socketio", b"\x00\x01"),
    ]


def test_frames_of_one_turn_leave_in_one_write_in_order() -> None:
    lane, raw, _, engine = make_lane(room=1000)
    frames = [websocket_frame(f"4m{i}") for i in range(3)]
    assert lane.cork(frames[0]) == FIRST  # first of the turn: register
    assert lane.cork(frames[1]) == MORE
    assert lane.cork(frames[2]) == MORE
    assert raw.written == b""  # nothing before the flush
    raw.sends = 0
    assert lane.flush() == 0
    assert raw.written == b"".join(frames)
    assert raw.sends == 1
    assert engine.queue.items == []


def test_a_partial_flush_hands_the_rest_to_the_writer_before_anything_else() -> None:
    lane, raw, ws, engine = make_lane(room=5)
    first = websocket_frame("4" + "a" * 40)
    assert lane.cork(first) == FIRST
    assert lane.flush() == len(first) - 5
    assert engine.queue.items == [FLUSH]
    # Until the writer has sent the rest, nothing else may be corked.
    assert lane.cork(websocket_frame("4b")) == QUEUE
    # The writer: the marker sends the rest, then the next queued packet follows.
    raw.room = 10_000
    ws.send(FLUSH.encode())
    ws.send("4b")
    assert raw.written == first + websocket_frame("4b")
    assert lane.cork(websocket_frame("4c")) == FIRST
    lane.flush()
    assert raw.written.endswith(websocket_frame("4c"))


def test_a_full_socket_takes_nothing_and_the_frames_are_kept_whole() -> None:
    lane, raw, ws, engine = make_lane(room=0)
    frames = websocket_frame("4x") + websocket_frame("4y")
    lane.cork(websocket_frame("4x"))
    lane.cork(websocket_frame("4y"))
    assert lane.flush() == len(frames)
    assert engine.queue.items == [FLUSH]
    raw.room = 100
    ws.send(FLUSH.encode())
    assert raw.written == frames


def test_the_writer_sends_corked_frames_before_its_own_packet() -> None:
    """A packet that took the queue (a ping) after frames were corked in the same
    turn goes out after them, even when the writer runs before the flush."""
    lane, raw, ws, engine = make_lane(room=1000)
    lane.cork(websocket_frame("4first"))
    ws.send("2")
    assert raw.written == websocket_frame("4first") + websocket_frame("2")
    assert lane.flush() == 0  # nothing left for the flusher
    assert raw.written == websocket_frame("4first") + websocket_frame("2")


def test_much_in_one_turn_is_written_at_once_and_the_rest_queued() -> None:
    """A client asking for big replies again and again within one turn: corking
    stops at CORK_LIMIT_BYTES, what the socket does not take goes to the writer,
    and further frames take the queue (where the queued-bytes cap counts them)."""
    lane, raw, _, engine = make_lane(room=CORK_LIMIT_BYTES)
    big = websocket_frame("4" + "h" * 40_000)
    assert lane.cork(big) == FIRST
    # Over the limit: the first is written out now (whole), the second corked.
    assert lane.cork(big) == FIRST
    assert raw.written == big
    assert engine.queue.items == []
    # Over again: the socket takes only part of the second; the rest goes to the
    # writer, and this third frame takes the queue.
    assert lane.cork(big) == SPILLED
    assert lane.blocked and engine.queue.items == [FLUSH]
    assert raw.written == big + big[: CORK_LIMIT_BYTES - len(big)]


def test_no_cork_while_the_writer_is_sending() -> None:
    raw = FakeRawSocket(1000)
    seen: list[int] = []
    engine = EngineSocket()

    class ReentrantWebSocket(FakeWebSocket):
        def send(self, message: str, **kwargs: Any) -> None:
            # A green thread switch inside the writer's send: the broadcaster runs.
            seen.append(lane.cork(websocket_frame("4direct")))
            super().send(message)

    ws = ReentrantWebSocket(raw)
    lane = Lane(ws, raw, lambda data: None, engine)
    ws.send("4queued")
    assert seen == [QUEUE]
    assert raw.written == websocket_frame("4queued")


def test_a_broken_socket_leaves_it_to_the_writer() -> None:
    lane, raw, _, engine = make_lane(room=1000)
    raw.fail = ConnectionResetError()
    lane.cork(websocket_frame("4x"))
    assert lane.flush() == 0
    assert engine.queue.items == []


class Connection(EngineSocket):
    """The parts of an Engine.IO socket that `_deliver` reads: upgraded, idle."""

    upgraded = True
    upgrading = closing = closed = False
    last_ping = None

    def __init__(self) -> None:
        super().__init__()
        self.server = type("Server", (), {"ping_timeout": 20})()


def room_of_lanes(
    size: int,
) -> tuple[FramedBroadcast, list[FakeRawSocket], list[Lane], list[Any]]:
    """A broadcaster with a room `r` of `size` members, each on a lane of its own
    over a fake socket; what took Engine.IO's queue is collected."""
    sio = socketio.Server(async_mode="threading")
    broadcast = FramedBroadcast(sio, "gevent")
    queued: list[Any] = []
    sio.eio.send_packet = lambda eio_sid, pkt: queued.append((eio_sid, pkt.encode()))
    raws, lanes = [], []
    for n in range(size):
        raw = FakeRawSocket(100_000)
        lane = Lane(FakeWebSocket(raw), raw, lambda data: None, Connection())
        broadcast._lanes[f"eio{n}"] = lane
        sid = sio.manager.connect(f"eio{n}", "/")
        sio.manager.enter_room(sid, "/", "r", f"eio{n}")
        raws.append(raw)
        lanes.append(lane)
    return broadcast, raws, lanes, queued


def frame_of(text: str) -> bytes:
    return websocket_frame(f'42["message",{{"text":"{text}"}}]')


def test_a_small_rooms_frames_wait_for_the_flush_in_one_write() -> None:
    broadcast, raws, _, queued = room_of_lanes(AT_ONCE_ROOM_SIZE - 1)
    broadcast.room_emit("message", {"text": "a"}, "r")
    broadcast.room_emit("message", {"text": "b"}, "r")
    assert all(raw.written == b"" for raw in raws)
    broadcast.flush()
    assert all(raw.written == frame_of("a") + frame_of("b") for raw in raws)
    assert all(raw.sends == 1 for raw in raws) and queued == []


def test_a_large_room_is_written_during_the_walk_and_later_frames_corked() -> None:
    """A member of a large room gets its first frame of a turn as the walk reaches
    it; frames after it in the same turn (more messages, its ack) share the flush's
    write; the next turn starts with a write at once again."""
    broadcast, raws, lanes, queued = room_of_lanes(AT_ONCE_ROOM_SIZE)
    broadcast.room_emit("message", {"text": "a"}, "r")
    assert all(raw.written == frame_of("a") for raw in raws)
    broadcast.room_emit("message", {"text": "b"}, "r")
    broadcast.send_eio_packet("eio0", eio_packet.Packet(eio_packet.MESSAGE, "3"))
    assert all(raw.written == frame_of("a") for raw in raws)  # corked
    broadcast.flush()
    assert raws[0].written == frame_of("a") + frame_of("b") + websocket_frame("43")
    assert all(raw.written == frame_of("a") + frame_of("b") for raw in raws[1:])
    assert all(raw.sends == 2 for raw in raws)
    broadcast.room_emit("message", {"text": "c"}, "r")  # a new turn
    assert all(raw.written.endswith(frame_of("b") + frame_of("c")) for raw in raws[1:])
    assert queued == [] and broadcast.counts()["direct_writes"] == 3 * len(raws) + 1


def test_a_large_rooms_write_at_once_keeps_each_members_order() -> None:
    """A member with a frame corked earlier in the turn, one whose socket is full,
    and one whose writer is busy: none gets the room's frame ahead of what it had."""
    broadcast, raws, lanes, queued = room_of_lanes(AT_ONCE_ROOM_SIZE)
    broadcast.send_eio_packet("eio3", eio_packet.Packet(eio_packet.MESSAGE, "3"))
    raws[1].room = 5
    lanes[2]._busy = True
    broadcast.room_emit("message", {"text": "a"}, "r")
    assert raws[1].written == frame_of("a")[:5]
    assert lanes[1].engine_socket.queue.items == [FLUSH]
    assert queued == [("eio2", '42["message",{"text":"a"}]')]
    assert raws[3].written == b""
    broadcast.flush()
    assert raws[3].written == websocket_frame("43") + frame_of("a")
    broadcast.room_emit("message", {"text": "b"}, "r")
    assert ("eio1", '42["message",{"text":"b"}]') in queued  # behind its rest
    assert broadcast.counts()["partial_writes"] == 1


# -- Real servers ---------------------------------------------------------------


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    process = ServerProcess(
        request.param,
        tmp_path_factory.mktemp("framed"),
        PING_INTERVAL_SECONDS="1",
        PING_TIMEOUT_SECONDS="2",
    ).start()
    yield process
    process.stop()


def socket_writes(server: ServerProcess) -> dict[str, float]:
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    found = re.findall(r'chat_socket_writes_total\{path="(\w+)"\} ([0-9.e+]+)', text)
    return {path: float(value) for path, value in found}


def join(connection: websocket.WebSocket, room: str) -> None:
    connection.send(f'420["join",{{"room":"{room}"}}]')
    while not connection.recv().startswith("430"):
        pass


def read_messages(
    connection: websocket.WebSocket, count: int, timeout: float = 30
) -> list[dict[str, Any]]:
    """The next `count` chat messages, answering pings on the way."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count:
        assert time.monotonic() < deadline, f"only {len(messages)} of {count}"
        frame = connection.recv()
        if frame == "2":
            connection.send("3")
        elif frame.startswith('42["message"'):
            messages.append(json.loads(frame[2:])[1])
    return messages


def assert_in_seq_order(messages: list[dict[str, Any]], count: int) -> None:
    seqs = [message["seq"] for message in messages]
    assert seqs == list(range(seqs[0], seqs[0] + count))


@pytest.mark.integration
def test_every_member_gets_every_message_in_order(server: ServerProcess) -> None:
    before = socket_writes(server)
    members = [raw_socket(server) for _ in range(5)]
    for member in members:
        join(member, "order")
    sender = members[0]
    for index in range(200):
        sender.send(f'42["message",{{"room":"order","message":"m{index}"}}]')
    for member in members:
        messages = read_messages(member, 200)
        assert [m["message"] for m in messages] == [f"m{i}" for i in range(200)]
        assert_in_seq_order(messages, 200)
        member.close()
    after = socket_writes(server)
    assert after["direct"] - before["direct"] >= 500  # most of the 1,000 deliveries


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def steady_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """Stock ping timings: joining a hundred members on a busy machine can take
    longer than `server`'s 3 s, and a member not read meanwhile would be dropped."""
    process = ServerProcess(request.param, tmp_path_factory.mktemp("steady")).start()
    yield process
    process.stop()


@pytest.mark.integration
def test_a_large_room_gets_every_message_in_order_with_the_senders_acks(
    steady_server: ServerProcess,
) -> None:
    """Past AT_ONCE_ROOM_SIZE a frame is written as the walk reaches its member:
    bursts (several messages a turn) and single messages alike arrive whole and in
    order, and the sender gets its own copy of each message before that one's ack."""
    members = [raw_socket(steady_server) for _ in range(AT_ONCE_ROOM_SIZE + 10)]
    for member in members:
        assert join_raw(member, "large")["ok"]
    sender = members[0]
    count = 0
    for burst in (1, 30, 1, 10):
        for _ in range(burst):
            payload = json.dumps({"room": "large", "message": f"m{count}"})
            sender.send(f'42{count}["message",{payload}]')
            count += 1
        time.sleep(0.05)
    for member in members[1:]:
        messages = read_messages(member, count)
        assert [m["message"] for m in messages] == [f"m{i}" for i in range(count)]
        assert_in_seq_order(messages, count)
    seen: list[str] = []
    acks = 0
    while acks < count:
        frame = sender.recv()
        if frame == "2":
            sender.send("3")
        elif frame.startswith(('42["message"', "43")):
            seen.append(frame)
            acks += frame.startswith("43")
    copies = [json.loads(frame[2:])[1]["message"] for frame in seen if frame[1] == "2"]
    assert copies == [f"m{i}" for i in range(count)]
    for index in range(count):
        ack = next(i for i, f in enumerate(seen) if re.match(rf"43{index}\[", f))
        assert seen.index(next(f for f in seen if f'"m{index}"' in f)) < ack
    for member in members:
        member.close()


@pytest.mark.integration
def test_a_reader_that_stops_reading_blocks_no_one_and_loses_nothing(
    server: ServerProcess,
) -> None:
    before = socket_writes(server)
    # A tiny receive buffer, and no reading: the server's writes to it fill up.
    stalled = websocket.create_connection(
        server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
        timeout=30,
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),),
    )
    assert stalled.recv().startswith("0{")
    stalled.send("40")
    assert stalled.recv().startswith("40")
    join(stalled, "stall")
    reader, sender = raw_socket(server), raw_socket(server)
    join(reader, "stall")
    join(sender, "stall")
    text = "s" * 1900
    count = 1500  # ~3 MB: far more than the stalled socket's buffers hold

    def send_all() -> None:
        for index in range(count):
            sender.send(f'42["message",{{"room":"stall","message":"{index}:{text}"}}]')

    sending = threading.Thread(target=send_all)
    sending.start()
    # The other member gets everything while the stalled one reads nothing.
    received = read_messages(reader, count, timeout=60)
    sending.join(timeout=60)
    assert [int(m["message"].split(":")[0]) for m in received] == list(range(count))
    after = socket_writes(server)
    assert after["partial"] > before["partial"]  # the stalled socket filled up
    # Then the stalled member catches up: all of it, in order, frames intact. (It
    # answers pings from here on; it was silent for less than the ping timeout.)
    caught_up = read_messages(stalled, count, timeout=60)
    assert [m["message"] for m in caught_up] == [m["message"] for m in received]
    assert_in_seq_order(caught_up, count)
    for connection in (stalled, reader, sender):
        connection.close()


@pytest.mark.integration
def test_a_client_that_stops_answering_pings_is_still_dropped(
    server: ServerProcess,
) -> None:
    silent, watcher, sender = raw_socket(server), raw_socket(server), raw_socket(server)
    for connection in (silent, watcher, sender):
        join(connection, "pings")
    # Keep broadcasts flowing to the silent client, which never reads or pongs.
    deadline = time.monotonic() + 20
    left = None
    while left is None and time.monotonic() < deadline:
        sender.send('42["message",{"room":"pings","message":"tick"}]')
        watcher.settimeout(0.2)
        try:
            while True:
                frame = watcher.recv()
                if frame == "2":
                    watcher.send("3")
                elif frame.startswith('42["left"'):
                    left = json.loads(frame[2:])[1]
                    break
        except websocket.WebSocketTimeoutException:
            pass
        try:
            sender.settimeout(0.01)
            while True:
                if sender.recv() == "2":
                    sender.send("3")
        except websocket.WebSocketTimeoutException:
            pass
    assert left is not None, "the silent client was never dropped"
    assert left["room"] == "pings" and left["count"] == 2
    for connection in (silent, watcher, sender):
        connection.close()


@pytest.mark.integration
def test_compression_is_not_negotiated_so_frames_stay_shared(
    server: ServerProcess,
) -> None:
    connection = websocket.create_connection(
        server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
        timeout=10,
        header=["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"],
    )
    try:
        headers = {k.lower(): v for k, v in (connection.getheaders() or {}).items()}
        assert "sec-websocket-extensions" not in headers
        assert connection.recv().startswith("0{")
    finally:
        connection.close()


@pytest.mark.integration
def test_direct_writes_can_be_turned_off(tmp_path: Any) -> None:
    process = ServerProcess("gevent", tmp_path, DIRECT_WRITES="false").start()
    try:
        members = [raw_socket(process) for _ in range(3)]
        for member in members:
            join(member, "stock")
        members[0].send('42["message",{"room":"stock","message":"hi"}]')
        for member in members:
            assert read_messages(member, 1)[0]["message"] == "hi"
            member.close()
        assert socket_writes(process) == {}
    finally:
        process.stop()
