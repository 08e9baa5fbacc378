"""python-socketio's packet, with a faster check for binary attachments.

Every packet the server builds (each broadcast, batch and ack) is first scanned for
bytes anywhere in its data, to choose between a text and a binary event. The stock
scan visits every value, builds a list per level and folds it with a lambda; in a
profile at saturation it was 7 % of the server's time. This one returns the same
answer, skips plain values at once and stops at the first bytes it finds (checked
against the stock scan with Hypothesis in tests/wire/test_fast_packet.py; ~10 % CPU
at saturation). Replaces the server's packet class.

Each packet a client sends was also decoded by building that packet: its
constructor scans its (empty) data for bytes, then `decode` copies the text, looks
for an attachment count, a namespace and an id by hand, and only then parses the
JSON (4.4 us a chat message, of which the JSON 0.8; microbenchmark). Nearly every
packet a client sends is an EVENT on the default namespace, "2", an optional ack id
in digits, then a JSON array; those are matched by one regular expression and handed
to python-socketio's `_handle_event_internal` exactly as its own dispatch and
`_handle_event` hand them (checked against them with Hypothesis in
tests/wire/test_fast_packet.py). Every other
packet, and any while a binary packet awaits its attachments, takes the stock
dispatch. To remove both: drop the `fast_packet.install` call in wire/__init__.py.
"""

from __future__ import annotations

import re
from typing import Any

import socketio
from socketio import packet

_PLAIN = frozenset({str, int, float, bool, type(None)})


def contains_binary(data: Any) -> bool:
    """True when bytes or a bytearray sit anywhere in `data` (lists and dicts)."""
    if type(data) in _PLAIN:
        return False
    if isinstance(data, (bytes, bytearray)):
        return True
    if isinstance(data, list):
        values: Any = data
    elif isinstance(data, dict):
        values = data.values()
    else:
        return False
    for value in values:
        if type(value) not in _PLAIN and contains_binary(value):
            return True
    return False


class FastPacket(packet.Packet):  # type: ignore[misc]
    """The stock Socket.IO packet; only the binary scan differs."""

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        return contains_binary(data)


# An EVENT ("2") on the default namespace (no "/name,"), no attachment count, an ack
# id of ASCII digits or none, then the JSON array. Longer ids, other digits and all
# other packets do not match: the stock decode takes them, errors included.
_PLAIN_EVENT = re.compile(r"2([0-9]{0,15})(?=\[)")


def plain_event(data: str) -> tuple[int | None, str] | None:
    """(ack id, JSON text) of a packet `_PLAIN_EVENT` matches, as Packet.decode
    reads them; None for any other packet."""
    head = _PLAIN_EVENT.match(data)
    if head is None:
        return None
    digits = head.group(1)
    return (int(digits) if digits else None), data[head.end() :]


def install(sio: socketio.Server) -> None:
    """Build `sio`'s packets with FastPacket (its JSON module is inherited from the
    stock packet class, which the server's `json` option sets), and dispatch plain
    events without building one. Before packet_filter.py wraps the message handler,
    so its refusals still come first."""
    sio.packet_class = FastPacket
    eio = sio.eio
    stock_dispatch = eio.handlers["message"]
    manager = sio.manager

    def dispatch(eio_sid: str, data: Any) -> Any:
        # As python-socketio's _handle_eio_message, whose first step is to add
        # `data` to a binary packet awaiting attachments from this client.
        if type(data) is str and eio_sid not in sio._binary_packet:
            event = plain_event(data)
            if event is not None:
                ack_id, body = event
                arguments = sio.packet_class.json.loads(body)
                # Then as its _handle_event on the default namespace, in this frame
                # (its info line is dropped anyway, log_limits.WithoutInfo); a client
                # not connected there, or an empty event, goes to it (its warning,
                # its IndexError).
                sid = manager.sid_from_eio_sid(eio_sid, "/")
                if not arguments or not manager.is_connected(sid, "/"):
                    return sio._handle_event(eio_sid, None, ack_id, arguments)
                handle = sio._handle_event_internal
                if sio.async_handlers:
                    sio.start_background_task(
                        handle, sio, sid, eio_sid, arguments, "/", ack_id
                    )
                else:
                    handle(sio, sid, eio_sid, arguments, "/", ack_id)
                return None
        return stock_dispatch(eio_sid, data)

    eio.on("message", dispatch)
