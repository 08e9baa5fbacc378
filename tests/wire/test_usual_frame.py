"""The one-go read of the usual websocket message under eventlet
(wire/websocket_limits.py), on a real socket pair with frames built by
websocket-client: the usual frame is read whole, every other is left untouched."""

from __future__ import annotations

import socket
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from wire import websocket_limits
from wire.websocket_limits import read_usual_eventlet_message

ABNF = websocket.ABNF


class EventletLike:
    """What the read uses of eventlet's RFC6455WebSocket (its `_get_bytes` as
    eventlet writes it)."""

    # A reader handed over may rest between messages (tests/wire/test_resting.py).
    _chat_may_rest = False

    def __init__(self, sock: socket.socket, max_frame_length: int = 1 << 20) -> None:
        self.socket = sock
        self.max_frame_length = max_frame_length

    def _get_bytes(self, numbytes: int) -> bytes:
        data = b""
        while len(data) < numbytes:
            part = self.socket.recv(numbytes - len(data))
            if not part:
                raise ConnectionError("closed")
            data += part
        return data


class RefusesFlags(socket.socket):
    """Like an SSL socket: recv takes no flags."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if flags:
            raise ValueError("non-zero flags not allowed")
        return super().recv(bufsize)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    server.settimeout(5)
    yield client, server
    client.close()
    server.close()


def frame(data: str | bytes, opcode: int = ABNF.OPCODE_TEXT, fin: int = 1) -> bytes:
    """A masked frame, as a client sends it."""
    return bytes(ABNF.create_frame(data, opcode, fin).format())


def left_unread(server: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += server.recv(size - len(data))
    return data


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 300, 65_535])
def test_a_whole_text_frame_is_read_exactly(
    pair: tuple[socket.socket, socket.socket], length: int
) -> None:
    client, server = pair
    text = ("é" * length)[: length // 2] + "x" * (length - 2 * (length // 2))
    assert len(text.encode()) == length
    client.sendall(frame(text) + frame("next"))
    ws = EventletLike(server)
    assert read_usual_eventlet_message(ws, 1 << 20) == text
    assert read_usual_eventlet_message(ws, 1 << 20) == "next"


@pytest.mark.parametrize(
    "sent",
    [
        frame("x" * 65_536),  # a 64-bit length
        frame("first part", fin=0),
        frame(b"\x00\x01", ABNF.OPCODE_BINARY),
        frame("", ABNF.OPCODE_PING),
        frame("", ABNF.OPCODE_CLOSE),
        bytes(
            ABNF(fin=1, opcode=ABNF.OPCODE_TEXT, mask_value=False, data=b"hi").format()
        ),
    ],
    ids=["64-bit-length", "fragment", "binary", "ping", "close", "unmasked"],
)
def test_any_other_frame_is_left_whole_for_eventlet(
    pair: tuple[socket.socket, socket.socket], sent: bytes
) -> None:
    client, server = pair
    client.sendall(sent)
    assert read_usual_eventlet_message(EventletLike(server), 1 << 20) is None
    assert left_unread(server, len(sent)) == sent


def test_a_frame_over_the_limit_is_left_for_eventlet_to_refuse(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    sent = frame("x" * 200)
    client.sendall(sent)
    assert read_usual_eventlet_message(EventletLike(server), 100) is None
    assert read_usual_eventlet_message(EventletLike(server, 100), 1 << 20) is None
    assert left_unread(server, len(sent)) == sent


@pytest.mark.parametrize(
    "bad", [b"\xff", b"\xed\xa0\x80"], ids=["invalid", "surrogate"]
)
def test_text_that_is_not_utf8_fails_as_eventlet_would(
    pair: tuple[socket.socket, socket.socket], bad: bytes
) -> None:
    client, server = pair
    client.sendall(frame(b"ok " + bad, ABNF.OPCODE_TEXT))
    with pytest.raises(UnicodeDecodeError):
        read_usual_eventlet_message(EventletLike(server), 1 << 20)


def test_a_socket_that_takes_no_flags_is_left_to_eventlet() -> None:
    a, b = socket.socketpair()
    server = RefusesFlags(fileno=b.detach())
    try:
        sent = frame("hello")
        a.sendall(sent)
        assert read_usual_eventlet_message(EventletLike(server), 1 << 20) is None
        assert left_unread(server, len(sent)) == sent
    finally:
        a.close()
        server.close()


# -- under eventlet: the usual frame read straight off the OS socket ----------------


@pytest.fixture
def eventlet_sockets(monkeypatch: pytest.MonkeyPatch) -> Any:
    """eventlet, with its socket classes known to the read as the server's install
    makes them known (put back after the test)."""
    with warnings.catch_warnings():  # deprecated upstream; it is our default
        warnings.simplefilter("ignore")
        import eventlet
    for name in (
        "_green_socket_type",
        "_raw_types",
        "_IOClosed",
        "_SOCKET_BLOCKING",
        "_SOCKET_CLOSED",
        "_SOCKET_BLOCKING_OR_CLOSED",
    ):
        monkeypatch.setattr(websocket_limits, name, getattr(websocket_limits, name))
    websocket_limits._know_eventlet_sockets()
    return eventlet


class CountsSlowReads(EventletLike):
    """Counts what went through eventlet's own read."""

    def __init__(self, sock: Any, may_rest: bool) -> None:
        super().__init__(sock)
        self._chat_may_rest = may_rest
        self.slow_reads: list[int] = []

    def _get_bytes(self, numbytes: int) -> bytes:
        self.slow_reads.append(numbytes)
        return super()._get_bytes(numbytes)


@pytest.mark.parametrize("may_rest", [True, False], ids=["resting", "not-resting"])
def test_eventlet_a_frame_come_whole_is_read_off_the_os_socket(
    eventlet_sockets: Any, may_rest: bool
) -> None:
    from eventlet.green import socket as green_socket

    ours, peer = green_socket.socketpair()
    text = "é" * 300 + "x"
    peer.sendall(frame(text) + frame("next"))
    ws = CountsSlowReads(ours, may_rest)
    read = eventlet_sockets.spawn(read_usual_eventlet_message, ws, 1 << 20)
    assert read.wait() == text
    assert eventlet_sockets.spawn(read_usual_eventlet_message, ws, 1 << 20).wait() == (
        "next"
    )
    assert ws.slow_reads == []
    peer.close()
    ours.close()


def test_eventlet_a_frame_still_coming_is_finished_by_eventlets_read(
    eventlet_sockets: Any,
) -> None:
    from eventlet.green import socket as green_socket

    ours, peer = green_socket.socketpair()
    text = "y" * 1000
    sent = frame(text)
    peer.sendall(sent[:300])
    ws = CountsSlowReads(ours, True)
    reader = eventlet_sockets.spawn(read_usual_eventlet_message, ws, 1 << 20)
    eventlet_sockets.sleep(0.05)
    peer.sendall(sent[300:])
    assert reader.wait() == text
    assert ws.slow_reads == [len(sent) - 300]  # only what had not come
    peer.close()
    ours.close()


def test_eventlet_a_peer_gone_mid_frame_fails_as_eventlets_read_does(
    eventlet_sockets: Any,
) -> None:
    from eventlet.green import socket as green_socket

    ours, peer = green_socket.socketpair()
    peer.sendall(frame("z" * 500)[:100])
    peer.close()
    ws = CountsSlowReads(ours, True)
    with pytest.raises(ConnectionError):
        eventlet_sockets.spawn(read_usual_eventlet_message, ws, 1 << 20).wait()
    assert eventlet_sockets.spawn(read_usual_eventlet_message, ws, 1 << 20).wait() is (
        None
    )  # at the end: nothing to peek at, left to eventlet
    ours.close()
