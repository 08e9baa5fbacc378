from __future__ import annotations

import random
import warnings
from typing import Any

import pytest

from wire.websocket_speedups import xor_mask


def eventlets_own_apply_mask() -> Any:
    """eventlet's `_apply_mask`, as shipped (this process never patches eventlet)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from eventlet.websocket import RFC6455WebSocket
    original = RFC6455WebSocket._apply_mask
    assert original.__module__ == "eventlet.websocket"
    return original


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 125, 126, 4096, 70_000])
@pytest.mark.parametrize("offset", [0, 1, 2, 3, 17])
def test_xor_mask_matches_the_byte_by_byte_original(length: int, offset: int) -> None:
    generator = random.Random(length * 31 + offset)
    data = bytes(generator.getrandbits(8) for _ in range(length))
    mask = [generator.getrandbits(8) for _ in range(4)]
    reference = eventlets_own_apply_mask()(data, mask, offset=offset)
    assert xor_mask(data, mask, offset) == bytes(reference)


def test_masking_twice_gives_the_data_back() -> None:
    data = "héllo wörld 👋".encode() * 100
    mask = b"\x01\x80\xff\x7f"
    assert xor_mask(xor_mask(data, mask), mask) == data


def test_gevent_websocket_header_unmasks_like_before() -> None:
    from geventwebsocket.websocket import Header

    from wire import websocket_speedups

    header = Header(fin=True, opcode=1, length=10)
    header.mask = b"\x12\x34\x56\x78"
    payload = bytes(range(10))
    expected = header.mask_payload(payload)
    websocket_speedups.install("gevent")
    assert header.mask_payload(payload) == expected
