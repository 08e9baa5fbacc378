"""Socket.IO packets the chat refuses before python-socketio keeps anything of them.

- Binary packets: the chat's protocol has none. A BINARY_EVENT header announces how
  many attachments follow, and python-socketio keeps every attachment in memory
  until all have arrived, before any handler or limit sees the event:
  `45999999-["message",{}]` followed by binary frames grew a server by 300 MB/s.
- Packets that do not decode (`4x`, a CONNECT_ERROR from a client, ...) or decode
  to something that is no event (`42{"a":1}`, `42[]`, JSON nested thousands deep):
  python-socketio raises (ValueError, KeyError, IndexError, RecursionError), and
  Engine.IO logs a traceback per packet. Our own handlers never raise (the request
  guard answers every failure), so whatever escapes here is such a packet.
Either closes the connection at once (no client of ours ever sends one), logged as
one warning line; packets that arrive while it closes are ignored. Uses only
Engine.IO's public `on("message")` hook, wrapping python-socketio's own handler.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

from wire import engine_socket

log = logging.getLogger("chat.wire")

BINARY_EVENT = "5"
BINARY_ACK = "6"
_BINARY_HEADERS = (BINARY_EVENT, BINARY_ACK)
# What python-socketio raises on a packet it cannot make an event or ack of.
UNDECODABLE = (ValueError, KeyError, IndexError, TypeError, RecursionError)


def is_binary_packet(data: Any) -> bool:
    """True for a binary frame or a Socket.IO binary event/ack header."""
    if isinstance(data, (bytes, bytearray)):
        return True
    return isinstance(data, str) and data[:1] in _BINARY_HEADERS


def install(sio: socketio.Server) -> None:
    eio = sio.eio
    on_message = eio.handlers["message"]
    sockets = eio.sockets

    def refuse(eio_sid: str, why: str) -> None:
        log.warning("closing sid=%s: %s", eio_sid, why)
        connection = eio.sockets.get(eio_sid)
        if connection is not None:
            engine_socket.close_later(
                connection, eio.reason.TRANSPORT_ERROR, force=True
            )

    def message(eio_sid: str, data: Any) -> Any:
        # Every packet passes here: the checks are written out in this one frame.
        # `_chat_dropped`: set by engine_socket.close_later(force=True).
        if getattr(sockets.get(eio_sid), "_chat_dropped", False):
            return None  # being closed: nothing more it sends is handled or logged
        if type(data) is not str or data[:1] in _BINARY_HEADERS:
            if is_binary_packet(data):
                return refuse(eio_sid, "sent a binary packet")
        try:
            return on_message(eio_sid, data)
        except UNDECODABLE:
            return refuse(eio_sid, "sent a packet that does not decode")

    eio.on("message", message)
