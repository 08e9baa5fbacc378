"""Socket.IO binary packets are refused: the chat's protocol has none.

A BINARY_EVENT header announces how many attachments follow, and python-socketio
keeps every attachment in memory until they have all arrived, before any handler
or limit sees the event: `45999999-["message",{}]` followed by binary frames grew
a server by 300 MB/s. Here any binary packet (the header, types 5 and 6, or a
bare binary frame) closes the connection before python-socketio reads it.
Uses only Engine.IO's public `on("message")` hook, wrapping python-socketio's own.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

from wire import engine_socket

log = logging.getLogger("chat.wire")

BINARY_EVENT = "5"
BINARY_ACK = "6"


def is_binary_packet(data: Any) -> bool:
    """True for a binary frame or a Socket.IO binary event/ack header."""
    if isinstance(data, (bytes, bytearray)):
        return True
    return isinstance(data, str) and data[:1] in (BINARY_EVENT, BINARY_ACK)


def install(sio: socketio.Server) -> None:
    eio = sio.eio
    on_message = eio.handlers["message"]

    def message(eio_sid: str, data: Any) -> Any:
        if is_binary_packet(data):
            connection = eio.sockets.get(eio_sid)
            log.warning("closing sid=%s: sent a binary packet", eio_sid)
            if connection is not None:
                engine_socket.close_later(
                    connection, eio.reason.TRANSPORT_ERROR, force=True
                )
            return None
        return on_message(eio_sid, data)

    eio.on("message", message)
