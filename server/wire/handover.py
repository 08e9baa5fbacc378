"""What the eventlet and gevent handovers share: Engine.IO's websocket handler run
through a `hand_over` of the async mode's own (eventlet_handover.py,
gevent_handover.py), and which requests must stay on their own green thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import engineio

# Engine.IO's websocket handler: takes the websocket, returns when it is done.
App = Callable[[Any], Any]
HandOver = Callable[[Any, App], Any]


def install(eio: engineio.Server, hand_over: HandOver) -> None:
    """`eio`'s websockets are served through `hand_over(ws, handler)`."""
    base = eio._async["websocket"]

    class HandedOverWebSocketWSGI(base):  # type: ignore[misc, valid-type]
        def __init__(self, handler: App, server: Any) -> None:
            super().__init__(lambda ws: hand_over(ws, handler), server)

    # A per-server copy: other Engine.IO servers in the process keep the default.
    eio._async = {**eio._async, "websocket": HandedOverWebSocketWSGI}


def announces_body(environ: dict[str, Any]) -> bool:
    """A request with a body stays on its own thread: the WSGI server reads the rest
    of the body there after the application returns, and two readers of one socket
    would corrupt both."""
    length = environ.get("CONTENT_LENGTH") or "0"
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked or length.strip() != "0"
