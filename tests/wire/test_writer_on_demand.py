"""A websocket connection's writer runs only while something is queued
(wire/writer_on_demand.py): started by the first packet, ends when the queue is
empty, keeps the order, and closes the websocket at the end marker. A real client
upgrading from long-polling goes through its copy of Engine.IO's upgrade; the wire
and attack tests cover the rest through real servers (pings, slow consumers, order)."""

from __future__ import annotations

import queue
from typing import Any

import engineio
import pytest
from engineio import packet
from hypothesis import given
from hypothesis import strategies as st

from conftest import StartServer
from support import ASYNC_MODES, RecordingClient, message_listener
from wire import engine_socket, resting, writer_on_demand


class Task:
    def __init__(self, target: Any, args: tuple[Any, ...]) -> None:
        self.target, self.args = target, args

    def run(self) -> None:
        self.target(*self.args)

    def join(self) -> None:
        pass


class FakeServer:
    reason = engineio.Server.reason

    def __init__(self) -> None:
        self.tasks: list[Task] = []

    def start_background_task(self, target: Any, *args: Any) -> Task:
        task = Task(target, args)
        self.tasks.append(task)
        return task

    def get_queue_empty_exception(self) -> type[Exception]:
        return queue.Empty


class FakeWebSocket:
    def __init__(self, fail_on: str | None = None) -> None:
        self.sent: list[str] = []
        self.closed = 0
        self.fail_on = fail_on

    def send(self, data: str) -> None:
        if data == self.fail_on:
            raise OSError("the peer is gone")
        self.sent.append(data)

    def close(self) -> None:
        self.closed += 1


class FakeSocket:
    """What the writer uses of an Engine.IO socket, on a websocket."""

    def __init__(self, ws: FakeWebSocket) -> None:
        self.server = FakeServer()
        self.queue: queue.Queue[Any] = queue.Queue()
        self._chat_writing = False
        self._chat_writer_task = None
        self._chat_writer_ws: Any = ws


def message(text: str) -> packet.Packet:
    return packet.Packet(packet.MESSAGE, text)


def test_the_first_packet_starts_a_writer_that_sends_in_order_and_ends() -> None:
    ws = FakeWebSocket()
    connection = FakeSocket(ws)
    writer_on_demand.enqueue(connection, message("a"))
    writer_on_demand.enqueue(connection, message("b"))
    assert len(connection.server.tasks) == 1  # one writer while it is running
    connection.server.tasks[0].run()
    assert ws.sent == ["4a", "4b"] and ws.closed == 0
    assert not connection._chat_writing  # idle: no task waits on the queue
    connection.queue.join()  # every packet taken was marked done (close(wait=True))
    writer_on_demand.enqueue(connection, message("c"))
    assert len(connection.server.tasks) == 2
    connection.server.tasks[1].run()
    assert ws.sent == ["4a", "4b", "4c"]


def test_the_end_marker_closes_the_websocket_and_no_writer_starts_after() -> None:
    ws = FakeWebSocket()
    connection = FakeSocket(ws)
    writer_on_demand.enqueue(connection, message("last"))
    writer_on_demand.enqueue(connection, None)
    writer_on_demand.enqueue(connection, message("too late"))
    connection.server.tasks[0].run()
    assert ws.sent == ["4last"] and ws.closed == 1
    assert connection._chat_writer_ws is None
    writer_on_demand.enqueue(connection, message("later still"))
    assert len(connection.server.tasks) == 1


@pytest.mark.parametrize("ending", [None, "fail"])
def test_closing_the_websocket_wakes_its_resting_reader(ending: str | None) -> None:
    """A resting reader (resting.py) waits for its socket to be readable, and
    eventlet's close closes the socket without the event loop ever seeing it: the
    writer that closes the websocket rings the reader's bell."""
    ws = FakeWebSocket(fail_on="4b")
    connection = FakeSocket(ws)
    bell, woken = resting.Bell(), []
    bell.wake = lambda: woken.append(ws.closed)
    connection._chat_rest_bell = bell  # type: ignore[attr-defined]
    writer_on_demand.enqueue(connection, message("a"))
    connection.server.tasks[0].run()
    assert woken == []  # idle between packets: the reader rests on
    writer_on_demand.enqueue(connection, message("b" if ending else "c"))
    writer_on_demand.enqueue(connection, None)
    connection.server.tasks[1].run()
    assert woken == [1]  # once, after the websocket was closed


def test_a_failed_send_closes_the_websocket_as_the_stock_writer_does() -> None:
    ws = FakeWebSocket(fail_on="4b")
    connection = FakeSocket(ws)
    for text in "abc":
        writer_on_demand.enqueue(connection, message(text))
    connection.server.tasks[0].run()
    assert ws.sent == ["4a"] and ws.closed == 1
    assert not connection._chat_writing and connection._chat_writer_ws is None


def test_nothing_starts_before_the_websocket_takes_over() -> None:
    connection = FakeSocket(FakeWebSocket())
    connection._chat_writer_ws = None  # long-polling: Engine.IO's poll reads it
    writer_on_demand.enqueue(connection, message("open"))
    assert connection.server.tasks == [] and connection.queue.qsize() == 1


@pytest.mark.parametrize("async_mode", ASYNC_MODES)
def test_a_client_that_starts_on_polling_upgrades_and_chats_both_ways(
    start_server: StartServer, async_mode: str
) -> None:
    server = start_server(async_mode)
    poller, heard = message_listener(server.url, ["polling", "websocket"])
    other = RecordingClient(server.url)
    try:
        poller.call("join", {"room": "upgrade", "username": "poller"}, timeout=10)
        other.call("join", {"room": "upgrade", "username": "other"})
        for number in range(20):  # through the upgrade and after it
            ack = other.call("message", {"room": "upgrade", "message": f"m{number}"})
            assert ack["ok"], ack
        reply = poller.call("message", {"room": "upgrade", "message": "back"})
        assert reply["ok"], reply
        assert other.wait_for("message", lambda m: m["id"] == reply["id"])
        assert poller.transport() == "websocket"
        # All 20, in order, before its own message came back to it.
        assert [m["message"] for m in heard][:20] == [f"m{n}" for n in range(20)]
    finally:
        poller.disconnect()
        other.close()


# -- a MESSAGE's text handed on without the packet (engine_socket.receive_message) -----


class ReadingSocket:
    """What the reader uses of an Engine.IO socket: what it was handed, and how."""

    def __init__(self) -> None:
        self.server = FakeServer()
        self.closed = False
        self.handed: list[tuple[str, Any]] = []

    def receive(self, pkt: packet.Packet) -> None:
        self.handed.append(("packet", (pkt.packet_type, pkt.data)))

    def _chat_receive_message(self, data: str) -> None:
        self.handed.append(("message text", data))


def read_all(frames: list[Any]) -> list[tuple[str, Any]]:
    sock = ReadingSocket()
    pending = iter([*frames, None])  # None: the client closed
    assert writer_on_demand._read(sock, lambda: next(pending)) is None
    return sock.handed


@given(st.text(max_size=8) | st.from_regex(r"\A4[0-9][\[\]{}0-9a-z\"]{0,6}\Z"))
def test_a_message_text_is_handed_on_as_the_stock_decode_reads_it(frame: str) -> None:
    try:
        stock = packet.Packet(encoded_packet=frame)
    except (ValueError, IndexError, TypeError):
        return  # the reader closes on those, either way
    handed = read_all([frame])
    if handed == [("message text", handed[0][1])]:
        assert stock.packet_type == packet.MESSAGE and stock.data == handed[0][1]
    else:
        assert handed == [("packet", (stock.packet_type, stock.data))]


@pytest.mark.parametrize(
    ("frame", "path"),
    [
        ('42["message",{"room":"a"}]', "message text"),
        ('431["x"]', "message text"),
        ("4x", "packet"),  # not a Socket.IO packet: the stock decode tries JSON
        ("4{}", "packet"),
        ("4", "packet"),
        ("2", "packet"),
        (b"\x01", "packet"),
    ],
)
def test_only_a_socketio_packet_in_a_message_takes_the_short_way(
    frame: Any, path: str
) -> None:
    assert [how for how, _ in read_all([frame])] == [path]


def test_a_failing_message_handler_is_logged_and_the_reader_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = engineio.Server(async_mode="threading", async_handlers=False)
    handed: list[str] = []

    def on_message(sid: str, data: str) -> None:
        handed.append(data)
        if data == "2boom":
            raise RuntimeError("a handler bug")

    server.on("message", on_message)
    sock = ReadingSocket()
    sock.server = server  # type: ignore[assignment]
    sock.sid = "s1"  # type: ignore[attr-defined]
    sock._chat_receive_message = (  # type: ignore[method-assign]
        lambda data: engine_socket.receive_message(sock, data)
    )
    pending = iter(["42boom", "42after", None])
    with caplog.at_level("ERROR", logger="engineio.server"):
        writer_on_demand._read(sock, lambda: next(pending))
    assert handed == ["2boom", "2after"]
    assert "message handler error" in caplog.text
