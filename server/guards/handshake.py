"""Admission at the Engine.IO handshake: every session counts against its address.

Socket.IO's own `connect` comes later (the client's `40` packet), and a client that
never sends it, or keeps a long-polling session without it, would otherwise hold
memory that no limit sees. So the per-address rate and cap apply here, through
Engine.IO's public `on('connect'/'disconnect')` hooks, wrapping python-socketio's
own handlers. A refused handshake gets HTTP 401 with `{"code", "message"}` (codes
from the protocol's list).
The address found here is left in the WSGI environ for the chat's handlers.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import socketio

from chat.protocol import ERROR_CODES
from guards.admission import Admission
from guards.client_address import Network, client_address

log = logging.getLogger("chat.admission")

ADDRESS_KEY = "chat.client_address"


def address_of(environ: dict[str, Any]) -> str:
    """The client address the handshake found (or the peer, if it ran without)."""
    return str(environ.get(ADDRESS_KEY) or environ.get("REMOTE_ADDR") or "unknown")


class HandshakeAdmission:
    """Counts Engine.IO sessions per address from handshake to close."""

    def __init__(self, admission: Admission, trusted: tuple[Network, ...]) -> None:
        self._admission = admission
        self._trusted = trusted
        self._lock = threading.Lock()
        self._addresses: dict[str, str] = {}  # addresses[eio_sid] = address

    def install(self, sio: socketio.Server) -> None:
        eio = sio.eio
        on_connect = eio.handlers["connect"]
        on_disconnect = eio.handlers["disconnect"]

        def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
            address = client_address(environ, self._trusted)
            refusal = self._admission.admit(address)
            if refusal is not None:
                log.warning("refused handshake from %s: %s", address, refusal)
                return {"code": refusal, "message": ERROR_CODES[refusal]}
            environ[ADDRESS_KEY] = address
            with self._lock:
                self._addresses[eio_sid] = address
            return on_connect(eio_sid, environ)

        def disconnect(eio_sid: str, reason: Any = None) -> Any:
            try:
                return on_disconnect(eio_sid, reason)
            finally:
                with self._lock:
                    address = self._addresses.pop(eio_sid, None)
                if address is not None:
                    self._admission.release(address)

        eio.on("connect", connect)
        eio.on("disconnect", disconnect)
