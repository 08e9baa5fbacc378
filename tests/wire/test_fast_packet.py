"""The faster binary scan answers exactly as python-socketio's own, and plain events
are handed on exactly as its own dispatch hands them."""

from __future__ import annotations

from typing import Any

import pytest
import socketio
from hypothesis import given
from hypothesis import strategies as st
from socketio import packet

from wire import fast_packet
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


# -- plain events dispatched without building a packet ---------------------------------

JSON_BODIES = st.sampled_from(
    [
        '["message",{"room":"a","message":"hi"}]',
        '["join",{"room":"a"}]',
        "[]",
        '["x"]',
        "[1,2]",
        "[",
        '["unterminated',
        '{"a":1}',
        "null",
        "",
        "[]extra",
    ]
)
PACKETS = st.builds(
    lambda kind, digits, body: kind + digits + body,
    st.sampled_from(["2", "2", "2", "3", "0", "1", "4", "5", "9", ""]),
    st.text("0123456789", max_size=18)
    | st.sampled_from(["", "\u0663", "1-", "/chat,", "12/", " "]),
    JSON_BODIES | st.text(max_size=6),
)


def dispatch_outcome(
    data: str, fast: bool, connected: bool = True, async_handlers: bool = False
) -> tuple[str, Any]:
    """What python-socketio's `_handle_event_internal` was handed for `data` from a
    client (connected to the default namespace, or not), or the type of what the
    dispatch raised, with or without the fast path."""
    sio = socketio.Server(async_mode="threading", async_handlers=async_handlers)
    if fast:
        fast_packet.install(sio)
    client_sid = sio.manager.connect("eio1", "/") if connected else None
    handed: list[tuple[Any, ...]] = []

    def handle_event(server: Any, sid: str, *args: Any) -> None:
        # The sid is random: whether it is the client's is what compares.
        handed.append(("event", server is sio, sid == client_sid, *args))

    sio._handle_event_internal = handle_event  # type: ignore[method-assign]
    sio.start_background_task = lambda task, *args: task(*args)  # type: ignore[method-assign]
    sio._handle_connect = lambda *args: handed.append(("connect", *args))  # type: ignore[method-assign]
    sio._handle_disconnect = lambda *args: handed.append(("disconnect", *args))  # type: ignore[method-assign]
    sio._handle_ack = lambda *args: handed.append(("ack", *args))  # type: ignore[method-assign]
    try:
        sio.eio.handlers["message"]("eio1", data)
    except Exception as error:  # what the stock dispatch raises, packet_filter refuses
        return "raised", type(error)
    return "handed", handed


@given(PACKETS, st.booleans(), st.booleans())
def test_every_packet_is_dispatched_as_the_stock_dispatch_does(
    data: str, connected: bool, async_handlers: bool
) -> None:
    assert dispatch_outcome(
        data, fast=True, connected=connected, async_handlers=async_handlers
    ) == dispatch_outcome(
        data, fast=False, connected=connected, async_handlers=async_handlers
    )


@pytest.mark.parametrize(
    ("data", "ack_id", "arguments"),
    [
        ('2["message",{"room":"a"}]', None, ["message", {"room": "a"}]),
        ('217["join",{"room":"a"}]', 17, ["join", {"room": "a"}]),
        ("2007[1]", 7, [1]),
    ],
)
def test_a_plain_event_is_read_by_the_fast_path(
    data: str, ack_id: int | None, arguments: list[Any]
) -> None:
    assert fast_packet.plain_event(data) is not None
    outcome, handed = dispatch_outcome(data, fast=True)
    assert outcome == "handed" and len(handed) == 1
    kind, same_server, its_sid, eio_sid, handed_arguments, namespace, handed_id = (
        handed[0]
    )
    assert (kind, same_server, its_sid) == ("event", True, True)
    assert (eio_sid, namespace) == ("eio1", "/")
    assert (handed_arguments, handed_id) == (arguments, ack_id)
    # From a client not connected to the namespace: nothing handled.
    assert dispatch_outcome(data, fast=True, connected=False) == ("handed", [])


@pytest.mark.parametrize(
    "data", ["21-[1]", "2/chat,[1]", "2\u0663[1]", "2" + "1" * 16 + "[1]", "3[1]", "2"]
)
def test_any_other_packet_is_left_to_the_stock_decode(data: str) -> None:
    assert fast_packet.plain_event(data) is None


def test_a_client_owing_attachments_is_left_to_the_stock_dispatch() -> None:
    """A binary packet waiting for its attachments takes the next frames as them
    (packet_filter.py refuses binary packets before this is ever reached)."""
    sio = socketio.Server(async_mode="threading")
    fast_packet.install(sio)
    attachments: list[Any] = []

    class AwaitingAttachments:
        def add_attachment(self, data: Any) -> bool:
            attachments.append(data)
            return False

    sio._binary_packet["eio1"] = AwaitingAttachments()
    sio.eio.handlers["message"]("eio1", '2["message",{}]')
    assert attachments == ['2["message",{}]']
