"""wire/eventlet_reader.py: an eventlet websocket's messages read by a plain
function give what eventlet's own generator gives, frame for frame: the messages,
the answers sent back (pongs, close replies) and the end, for the same bytes."""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from wire import eventlet_reader

with warnings.catch_warnings():  # deprecated upstream; it is our default
    warnings.simplefilter("ignore")
    import eventlet
    from eventlet.green import socket as green_socket
    from eventlet.websocket import RFC6455WebSocket


def client_frame(opcode: int, payload: bytes, final: bool = True) -> bytes:
    """A frame as a browser sends it: masked."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([(0x80 if final else 0) | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", size)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return head + mask + masked


def close_frame(status: int) -> bytes:
    return client_frame(0x8, struct.pack("!H", status))


STOCK_WAIT: Callable[[Any], Any] = getattr(
    eventlet_reader.wait, "__wrapped__", RFC6455WebSocket.wait
)

SCENARIOS = {
    "texts": client_frame(0x1, b"hello") + client_frame(0x1, ("é" * 200).encode()),
    "fragments around a ping": client_frame(0x1, b"hel", final=False)
    + client_frame(0x9, b"are you there")
    + client_frame(0x0, b"lo"),
    "a close": client_frame(0x1, b"bye") + close_frame(1000),
    "a bad close status": close_frame(999),
    "an unknown opcode": client_frame(0x3, b"?"),
    "the peer gone": client_frame(0x1, b"half") + b"\x81",
}


def read_all(wait: Callable[[Any], Any], data: bytes) -> tuple[list[Any], bytes]:
    """Every value `wait` gives for `data` up to the first None and one more call,
    and what the websocket sent back."""
    ours, peer = green_socket.socketpair()
    ws = RFC6455WebSocket(ours, {}, 13)
    if wait is eventlet_reader.wait:
        ws.iterator = None  # as eventlet_handover leaves it
    peer.sendall(data)
    peer.shutdown(green_socket.SHUT_WR)
    results: list[Any] = []

    def reader() -> None:
        while True:
            try:
                value = wait(ws)
            except Exception as error:  # the stock generator lets some escape
                results.append(type(error).__name__)
                value = None
            results.append(value)
            if value is None:
                results.append(wait(ws))  # and for good
                return

    eventlet.spawn(reader).wait()
    ours.close()
    sent = b""
    while chunk := peer.recv(4096):
        sent += chunk
    peer.close()
    return results, sent


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_it_reads_what_eventlets_generator_reads(scenario: str) -> None:
    data = SCENARIOS[scenario]
    assert read_all(eventlet_reader.wait, data) == read_all(STOCK_WAIT, data)


def test_the_scenarios_cover_messages_answers_and_every_end() -> None:
    """So that the comparison above cannot pass on empty results."""
    results, sent = read_all(eventlet_reader.wait, SCENARIOS["texts"])
    assert results[:2] == ["hello", "é" * 200]
    results, sent = read_all(eventlet_reader.wait, SCENARIOS["fragments around a ping"])
    assert results[0] == "hello" and sent.startswith(b"\x8a\x0dare you there")
    results, sent = read_all(eventlet_reader.wait, SCENARIOS["a bad close status"])
    protocol_error = struct.pack("!H", 1002)
    assert results == [None, None] and sent[0] == 0x88 and sent[2:4] == protocol_error
    results, sent = read_all(eventlet_reader.wait, SCENARIOS["an unknown opcode"])
    assert results == [None, None] and sent[0] == 0x88 and sent[2:4] == protocol_error
    results, sent = read_all(eventlet_reader.wait, SCENARIOS["a close"])
    assert results == ["bye", None, None] and sent[:4] == b"\x88\x02\x03\xe8"
