"""wire/gevent_reads.py: a websocket's reader waits for its next
message on the socket itself, not inside the read buffer's C code, and peeks at
what the buffer holds or the socket has as the buffer's own peek would."""

from __future__ import annotations

import traceback
from typing import Any

import gevent
import pytest
from gevent import socket as gevent_socket

from wire.gevent_reads import peek_after_waiting, peek_buffered_now


def buffered_pair(timeout: float = 5.0) -> tuple[Any, Any, Any]:
    """A server socket with gevent-websocket's kind of read buffer, and its peer."""
    ours, peer = gevent_socket.socketpair()
    ours.settimeout(timeout)
    return ours.makefile("rb", 256), ours, peer


def test_what_is_there_is_peeked_at_without_waiting_and_not_consumed() -> None:
    reader, ours, peer = buffered_pair()
    peer.sendall(b"\x81\x85abcdefgh and the rest")
    assert peek_buffered_now(reader)[:8] == b"\x81\x85abcdef"
    assert reader.read(4) == b"\x81\x85ab"
    assert peek_buffered_now(reader)[:4] == b"cdef"  # from the buffer
    assert ours.gettimeout() == 5.0  # left as it was
    for closable in (reader, ours, peer):
        closable.close()


def test_with_nothing_there_it_waits_on_the_socket_itself() -> None:
    reader, ours, peer = buffered_pair()
    waiter = gevent.spawn(peek_after_waiting, reader)
    gevent.sleep(0.05)
    assert not waiter.ready()
    parked = [frame.name for frame in traceback.extract_stack(waiter.gr_frame)]
    assert parked[-1] == "wait_readable"  # on the socket, not in the buffer's readinto
    assert "readinto" not in parked
    peer.sendall(b"hello")
    assert waiter.get(timeout=5) == b"hello"
    assert reader.read(5) == b"hello"
    for closable in (reader, ours, peer):
        closable.close()


def test_at_the_end_it_gives_nothing() -> None:
    reader, ours, peer = buffered_pair()
    peer.close()
    assert gevent.spawn(peek_after_waiting, reader).get(timeout=5) == b""
    for closable in (reader, ours):
        closable.close()


def test_a_silent_peer_times_out_as_the_buffers_read_would() -> None:
    reader, ours, peer = buffered_pair(timeout=0.1)
    with pytest.raises(TimeoutError):
        gevent.spawn(peek_after_waiting, reader).get(timeout=5)
    for closable in (reader, ours, peer):
        closable.close()
