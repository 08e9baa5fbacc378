"""The faster binary scan answers exactly as python-socketio's own."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from socketio import packet

from wire.fast_packet import FastPacket, contains_binary

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | st.binary(max_size=3)
    | st.binary(max_size=3).map(bytearray)
)
DATA = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=20,
)


@given(DATA)
def test_same_answer_as_the_stock_scan(data: Any) -> None:
    assert contains_binary(data) == packet.Packet.data_is_binary(data)


@pytest.mark.parametrize(
    ("data", "binary"),
    [
        (["message", {"room": "a", "seq": 1}], False),
        (["messages", [{"room": "a"}, {"blob": b"\x00"}]], True),
        ({"nested": {"deeper": [1, 2, bytearray(b"x")]}}, True),
        (("tuple", b"bytes"), False),  # stock ignores tuples, and so do we
    ],
)
def test_packets_choose_text_or_binary_events(data: Any, binary: bool) -> None:
    built = FastPacket(packet.EVENT, data=data)
    assert built.packet_type == (packet.BINARY_EVENT if binary else packet.EVENT)
