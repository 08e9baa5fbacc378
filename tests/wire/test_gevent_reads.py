"""gevent's websocket reader (wire/websocket_limits.py with wire/gevent_reads.py) on
real gevent socket pairs: once its read buffer is found empty the usual frames are
read off the OS socket, and whatever the mix of frames and however they arrive, the
messages come out whole and in order, as gevent-websocket's own read gives them."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gevent
import pytest
import websocket
from gevent import socket as gevent_socket
from geventwebsocket.exceptions import WebSocketError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wire import gevent_reads, websocket_limits

ABNF = websocket.ABNF
LIMIT = 1 << 20


def frame(data: str | bytes, opcode: int = ABNF.OPCODE_TEXT, fin: int = 1) -> bytes:
    """A masked frame, as a client sends it."""
    return bytes(ABNF.create_frame(data, opcode, fin).format())


class Handler:
    """What gevent-websocket's Stream takes from its request's handler."""

    def __init__(self, sock: Any) -> None:
        self.socket = sock
        self.rfile = sock.makefile("rb")


@contextmanager
def bounded_websocket(limit: int = LIMIT) -> Iterator[tuple[Any, Any]]:
    """gevent-websocket's WebSocket as this server bounds it (to `limit` bytes while
    in use; the process-wide bound is put back after), and its peer."""
    from geventwebsocket import handler as gevent_handler
    from geventwebsocket.websocket import Stream

    websocket_limits._bound_gevent_websocket(LIMIT)  # the class, installed once
    bound_before = websocket_limits._gevent_limit
    websocket_limits._gevent_limit = limit
    ours, peer = gevent_socket.socketpair()
    ours.settimeout(5)
    handler = Handler(ours)
    try:
        yield gevent_handler.WebSocket({}, Stream(handler), handler), peer
    finally:
        websocket_limits._gevent_limit = bound_before
        for closable in (handler.rfile, ours, peer):
            closable.close()


@pytest.fixture
def websocket_pair() -> Iterator[tuple[Any, Any]]:
    with bounded_websocket() as pair:
        yield pair


def read(ws: Any) -> Any:
    return gevent.spawn(ws.read_message).get(timeout=5)


def waiting_reader(ws: Any) -> Any:
    """A green thread reading `ws`'s next message, once it waits for it (the read
    buffer found empty)."""
    waiter = gevent.spawn(ws.read_message)
    gevent.sleep(0.01)
    return waiter


def test_once_the_buffer_is_empty_usual_frames_are_read_off_the_os_socket(
    websocket_pair: tuple[Any, Any],
) -> None:
    ws, peer = websocket_pair
    texts = ["x" * length for length in (0, 1, 125, 126, 300, 65_535)] + ["héllo ✓"]
    for text in texts:
        waiter = waiting_reader(ws)
        peer.sendall(frame(text))
        assert waiter.get(timeout=5) == text
        assert ws._chat_os_socket is not None
    reader = ws.raw_read.__self__
    assert gevent_reads.peek_buffered_now(reader) == b""  # nothing left behind


def test_frames_that_arrived_together_are_read_one_by_one(
    websocket_pair: tuple[Any, Any],
) -> None:
    ws, peer = websocket_pair
    waiter = waiting_reader(ws)
    peer.sendall(frame("first"))
    assert waiter.get(timeout=5) == "first"
    peer.sendall(b"".join(frame(f"m{n}") for n in range(50)))
    assert [read(ws) for _ in range(50)] == [f"m{n}" for n in range(50)]


def test_a_frame_still_coming_is_finished_through_the_buffer(
    websocket_pair: tuple[Any, Any],
) -> None:
    ws, peer = websocket_pair
    waiter = waiting_reader(ws)
    whole = frame("a" * 1000) + frame("next")
    peer.sendall(whole[:300])
    gevent.sleep(0.05)
    assert not waiter.ready()  # waiting for the rest, in the buffer's read
    peer.sendall(whole[300:])
    assert waiter.get(timeout=5) == "a" * 1000
    assert ws._chat_os_socket is None  # the buffer may hold what came after
    assert read(ws) == "next"


def test_a_peer_gone_mid_frame_fails_the_read(
    websocket_pair: tuple[Any, Any],
) -> None:
    ws, peer = websocket_pair
    waiter = waiting_reader(ws)
    peer.sendall(frame("a" * 500)[:100])
    peer.close()
    with pytest.raises(WebSocketError):
        waiter.get(timeout=5)


def test_a_frame_over_the_limit_is_refused_before_it_is_read() -> None:
    with bounded_websocket(limit=1000) as (ws, peer):
        waiter = waiting_reader(ws)
        peer.sendall(frame("a" * 1001))
        with pytest.raises(WebSocketError, match="too big"):
            waiter.get(timeout=5)
        assert peer.recv(2) == b"\x88\x11"  # a close frame: 1009 and its reason


# What a client may send between its usual frames: gevent-websocket reads these.
OTHER_FRAMES = {
    "ping": (lambda: frame(b"are you there", ABNF.OPCODE_PING), None),
    "binary": (lambda: frame(b"\x00\x01\x02", ABNF.OPCODE_BINARY), b"\x00\x01\x02"),
    "fragments": (
        lambda: frame("one ", fin=0) + frame("two", ABNF.OPCODE_CONT),
        "one two",
    ),
    "long": (lambda: frame("L" * 70_000), "L" * 70_000),
}


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kinds=st.lists(
        st.one_of(
            st.integers(0, 400).map(lambda n: ("text", n)),
            st.sampled_from(sorted(OTHER_FRAMES)).map(lambda k: (k, 0)),
        ),
        min_size=1,
        max_size=25,
    ),
    sends=st.lists(
        st.tuples(st.integers(1, 4), st.integers(0, 300), st.booleans()), max_size=25
    ),
)
def test_any_mix_of_frames_in_any_pieces_comes_out_whole_and_in_order(
    kinds: list[tuple[str, int]], sends: list[tuple[int, int, bool]]
) -> None:
    """`sends`: how many frames go in each write, where that write is cut (0: not
    cut; n: its first n bytes, then a pause, then the rest) and whether the sender
    pauses after it (the reader then finds nothing and waits)."""
    frames: list[bytes] = []
    expected: list[Any] = []
    for number, (kind, length) in enumerate(kinds):
        if kind == "text":
            text = f"{number}:" + "é" * length
            frames.append(frame(text))
            expected.append(text)
        else:
            build, message = OTHER_FRAMES[kind]
            frames.append(build())
            if message is not None:
                expected.append(message)
    frames.append(frame("last"))
    expected.append("last")

    def send(peer: Any) -> None:
        rest = list(frames)
        for count, cut, pause in sends:
            write, rest = b"".join(rest[:count]), rest[count:]
            if cut and cut < len(write):
                peer.sendall(write[:cut])
                gevent.sleep(0.001)
                write = write[cut:]
            peer.sendall(write)
            if pause:
                gevent.sleep(0.001)
        peer.sendall(b"".join(rest))

    with bounded_websocket() as (ws, peer):
        sender = gevent.spawn(send, peer)
        got = [read(ws) for _ in expected]
        sender.get(timeout=5)
        assert got == expected


def test_only_a_plain_socket_is_read_off_its_os_socket() -> None:
    ours, peer = gevent_socket.socketpair()
    plain = ours.makefile("rb")
    assert gevent_reads.os_socket_under(plain) is ours._sock
    unbuffered = ours.makefile("rb", buffering=0)
    assert gevent_reads.os_socket_under(unbuffered) is None
    assert gevent_reads.os_socket_under(io.BufferedReader(io.BytesIO(b"x"))) is None
    stdlib = socket.socketpair()
    stdlib_reader = stdlib[0].makefile("rb")
    assert gevent_reads.os_socket_under(stdlib_reader) is None
    for closable in (plain, unbuffered, stdlib_reader, ours, peer, *stdlib):
        closable.close()
