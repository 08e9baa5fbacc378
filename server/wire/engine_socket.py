"""Limits on each Engine.IO connection that python-engineio does not have.

Replaces `engineio.socket.Socket.send`, `poll`, `receive` and `_websocket_handler`
(python-engineio 4.15, pinned; see wire/versions.py) for servers that opt in
(`install`); every other Engine.IO server in the process keeps the stock methods.

- A connection found past its ping deadline while something is sent to it is
  closed by a task of its own, never inline. Stock Engine.IO closes it inside the
  send, which runs the disconnect handlers in the middle of whatever was sending
  (a broadcast, a batch flush): a re-entrant disconnect that once froze every
  room's batched delivery.
- Outgoing bytes waiting in a connection's queue are capped (max_queued_bytes): a
  client that stops reading is dropped instead of growing the server without bound
  (20 such clients once took it from 58 MB to 1.17 GB in 40 s). It reconnects and
  catches up from history.
- Incoming frames have a budget per connection (a token bucket): frames that cost
  the server work but no rate-limit score (noops, acks, undecodable packets, events
  after a namespace disconnect) can no longer be streamed for free. Over budget, the
  transport is closed.
- `close_transport` really closes a connection: the Engine.IO session, and the
  TCP socket under a websocket, even when its writer is stuck on a full socket.
- `receive_message` (added to Socket as `_chat_receive_message`) takes a MESSAGE
  packet's text straight from writer_on_demand.py's websocket reader: the budget,
  then the message handler, without building the packet (every event a client
  sends passes here).

To remove: drop the `engine_socket.install(...)` call in wire/__init__.py; the
stock methods are used again (with the faults above).
"""

from __future__ import annotations

import logging
import socket as socket_module
import time
from dataclasses import dataclass
from typing import Any

import engineio
from engineio import exceptions as eio_exceptions
from engineio.socket import Socket

from wire import attribute_names, gevent_handover, resting, writer_on_demand
from wire.limits import ConnectionLimits, packet_size
from wire.request_headers import forget_request_headers

log = logging.getLogger("chat.wire")

# What this module sets on Engine.IO's sockets (see attribute_names.py).
SOCKET_ATTRIBUTES = (
    "_chat_dropped",
    "_chat_close_planned",
    "_chat_queued",
    "_chat_tokens",
    "_chat_tokens_at",
    "_chat_over_budget",
    "_chat_raw_socket",
)
_STOCK = {
    "send": Socket.send,
    "poll": Socket.poll,
    "receive": Socket.receive,
    "_websocket_handler": Socket._websocket_handler,
    "check_ping_timeout": Socket.check_ping_timeout,
}
# A close that did not finish (a writer stuck on a full socket) is forced after this.
CLOSE_GRACE_SECONDS = 2.0


@dataclass
class WireCounters:
    """How often the limits acted (for /metrics)."""

    slow_consumers_dropped: int = 0
    frame_budget_closes: int = 0
    ping_timeouts: int = 0
    # Websocket readers resting now, and how often one woke (resting.py).
    resting_readers: int = 0
    reader_wakes: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "slow_consumers_dropped": self.slow_consumers_dropped,
            "frame_budget_closes": self.frame_budget_closes,
            "ping_timeouts": self.ping_timeouts,
            "resting_readers": self.resting_readers,
            "reader_wakes": self.reader_wakes,
        }


@dataclass
class _State:
    """Per-server settings, hung on the Engine.IO server object."""

    limits: ConnectionLimits
    counters: WireCounters
    async_mode: str


def _state(engine_socket: Any) -> _State | None:
    return getattr(engine_socket.server, "_chat_wire", None)


def past_ping_deadline(engine_socket: Any) -> bool:
    """True when the client did not answer the last ping in time."""
    last_ping = engine_socket.last_ping
    return bool(
        last_ping and time.time() - last_ping > engine_socket.server.ping_timeout
    )


def _close_planned(engine_socket: Any) -> bool:
    return bool(
        engine_socket.closing or getattr(engine_socket, "_chat_close_planned", False)
    )


def close_later(engine_socket: Any, reason: str, force: bool = False) -> None:
    """Close the connection from a task of its own (never inside a send).

    `force`: the client is dropped (not reading, over budget, hostile): nothing more
    is queued for it, and no goodbye packets are sent.
    """
    if force:
        engine_socket._chat_dropped = True
    if _close_planned(engine_socket):
        return
    engine_socket._chat_close_planned = True
    engine_socket.server.start_background_task(
        close_transport, engine_socket, reason, force
    )


def close_unanswered(engine_socket: Any) -> None:
    """Close a connection that did not answer its last PING in time, from a task."""
    if _close_planned(engine_socket):
        return
    state = _state(engine_socket)
    if state is not None:
        state.counters.ping_timeouts += 1
    close_later(engine_socket, engine_socket.server.reason.PING_TIMEOUT)


def close_connection(sio: Any, sid: str) -> None:
    """Close a Socket.IO connection's transport soon, after what is being sent now
    (the ack of the request that got it cut off)."""
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
    connection = sio.eio.sockets.get(eio_sid) if eio_sid else None
    if connection is not None:
        close_later(connection, sio.eio.reason.SERVER_DISCONNECT)
    else:  # no Engine.IO session (Flask-SocketIO's test client): the namespace only
        sio.disconnect(sid)


def close_transport(engine_socket: Any, reason: str, force: bool = False) -> None:
    """Close the session (disconnect handlers run here) and then its socket.

    `force` skips the goodbye packets: for a client that does not read, they would
    only wait behind everything else it did not read.
    """
    try:
        if not engine_socket.closing:
            engine_socket.close(wait=False, abort=force, reason=reason)
    except Exception:
        log.exception("closing connection %s failed", engine_socket.sid)
    server = engine_socket.server
    if force:
        _shutdown(engine_socket)
        return
    server.sleep(CLOSE_GRACE_SECONDS)
    _shutdown(engine_socket)


def _shutdown(engine_socket: Any) -> None:
    """Shut the TCP socket of a websocket down, unblocking its reader and writer."""
    raw = getattr(engine_socket, "_chat_raw_socket", None)
    if raw is None:
        return
    try:
        raw.shutdown(socket_module.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _raw_socket(ws: Any, async_mode: str) -> Any:
    try:
        if async_mode == "eventlet":
            return ws.socket
        if async_mode == "gevent":
            return gevent_handover.socket_of(ws._sock)
        return ws.ws.sock
    except AttributeError:
        return None


# -- the replaced methods ------------------------------------------------------------


def send(self: Any, pkt: Any) -> None:
    """Socket.send: queue a packet, unless the client is gone or not reading."""
    state = _state(self)
    if state is None:
        return _STOCK["send"](self, pkt)  # type: ignore[no-any-return]
    if self.closed:
        raise eio_exceptions.SocketIsClosedError()
    if getattr(self, "_chat_dropped", False):
        return None  # dropped: nothing more is queued for it
    if past_ping_deadline(self):
        close_unanswered(self)
        return None
    queued = getattr(self, "_chat_queued", 0) + packet_size(pkt)
    if queued > state.limits.max_queued_bytes:
        state.counters.slow_consumers_dropped += 1
        log.warning(
            "dropping a slow consumer sid=%s: %d bytes queued", self.sid, queued
        )
        close_later(self, self.server.reason.TRANSPORT_ERROR, force=True)
        return None
    self._chat_queued = queued
    writer_on_demand.enqueue(self, pkt)
    return None


def check_ping_timeout(self: Any) -> bool:
    """Socket.check_ping_timeout, which Engine.IO's service task calls for every
    connection: an overdue client is closed as the heartbeat closes it, its socket
    shut down after the grace period. The stock close left the socket open, and
    under threading a silent client's reader blocked on it for good, whenever this
    task noticed the timeout before the heartbeat did (on a loaded machine)."""
    if _state(self) is None:
        return _STOCK["check_ping_timeout"](self)  # type: ignore[no-any-return]
    if self.closed:
        raise eio_exceptions.SocketIsClosedError()
    if past_ping_deadline(self):
        close_unanswered(self)
        return False
    return True


def poll(self: Any) -> list[Any]:
    """Socket.poll: the writer takes what is queued; the count goes down with it."""
    packets: list[Any] = _STOCK["poll"](self)
    if _state(self) is not None:
        if self.queue.empty():
            self._chat_queued = 0  # also undoes any drift between threads
        else:
            taken = sum(packet_size(pkt) for pkt in packets)
            self._chat_queued = max(0, getattr(self, "_chat_queued", 0) - taken)
    return packets


def spend_frame(self: Any) -> bool:
    """Whether the connection's budget has this frame: a token bucket
    (FRAMES_PER_SECOND, FRAME_BURST), written out in this one frame, since every
    packet of every client passes here. Over budget, the connection is closed."""
    state: _State | None = getattr(self.server, "_chat_wire", None)
    if state is None:
        return True
    if getattr(self, "_chat_over_budget", False):
        return False
    limits = state.limits
    now = time.monotonic()
    tokens = getattr(self, "_chat_tokens", None)
    if tokens is None:
        tokens = limits.frame_burst
    else:
        tokens = min(
            limits.frame_burst,
            tokens + (now - self._chat_tokens_at) * limits.frames_per_second,
        )
    self._chat_tokens_at = now
    if tokens < 1:
        self._chat_tokens = tokens
        self._chat_over_budget = True
        state.counters.frame_budget_closes += 1
        log.warning("closing sid=%s: over its frame budget", self.sid)
        close_later(self, self.server.reason.TRANSPORT_ERROR, force=True)
        return False
    self._chat_tokens = tokens - 1
    return True


def receive(self: Any, pkt: Any) -> Any:
    """Socket.receive: every frame spends from the connection's budget first."""
    if not spend_frame(self):
        return None
    return _STOCK["receive"](self, pkt)


def receive_message(self: Any, data: str) -> None:
    """Socket.receive for a MESSAGE packet's text (every event a client sends),
    read off a websocket by writer_on_demand.py: the budget, then the server's
    message handler as Engine.IO's `_trigger_event` runs it (an exception logged,
    never raised), without the packet object, the stock receive and its log line."""
    if not spend_frame(self):
        return
    server = self.server
    if server.async_handlers:
        server._trigger_event("message", self.sid, data, run_async=True)
        return
    handler = server.handlers.get("message")
    if handler is None:
        return
    try:
        handler(self.sid, data)
    except Exception:
        server.logger.exception("message handler error")


def websocket_handler(self: Any, ws: Any) -> Any:
    """Socket._websocket_handler: remembers the websocket's socket, so that it can
    be shut; its writer runs only while something is queued (writer_on_demand.py)
    where that is installed."""
    state = _state(self)
    # Found now, while the websocket has it: gevent-websocket and simple-websocket
    # let go of it once the websocket is closed (the writer's goodbye does that),
    # and the reader may still be blocked on it then. Kept after this returns:
    # under threading the handler returns at the goodbye while simple-websocket's
    # reader thread still holds the socket open; shutting a socket already closed
    # only raises (caught), its number is never reused through this object.
    self._chat_raw_socket = _raw_socket(ws, state.async_mode if state else "")
    forget_request_headers(
        getattr(ws, "environ", None),
        rebuild=state is not None and state.async_mode in ("eventlet", "gevent"),
    )

    def finish() -> None:
        # What Engine.IO does once the request that carried the websocket returns,
        # done here for a websocket that outlives its request (gevent_handover.py).
        if self.closed and self.server.sockets.get(self.sid) is self:
            del self.server.sockets[self.sid]

    if writer_on_demand.enabled(self.server):
        # Its reader may rest (resting.py): this ends with it, not before.
        return resting.after(lambda: writer_on_demand.serve_websocket(self, ws), finish)
    try:
        return _STOCK["_websocket_handler"](self, ws)
    finally:
        finish()


def install(
    eio: engineio.Server, limits: ConnectionLimits, async_mode: str
) -> WireCounters:
    """Put `eio`'s connections under `limits` (other servers keep stock methods)."""
    counters = WireCounters()
    eio._chat_wire = _State(limits, counters, async_mode)
    attribute_names.reserve(Socket, SOCKET_ATTRIBUTES)
    replacements = {
        "send": send,
        "poll": poll,
        "receive": receive,
        "_websocket_handler": websocket_handler,
        "check_ping_timeout": check_ping_timeout,
    }
    for name, replacement in replacements.items():
        # What it replaces, for inspect.signature and tests/wire/test_versions.py.
        replacement.__wrapped__ = _STOCK[name]  # type: ignore[attr-defined]
        setattr(Socket, name, replacement)
    # New beside them: what writer_on_demand's reader calls for a MESSAGE's text.
    Socket._chat_receive_message = receive_message
    return counters


def uses_limits(eio: engineio.Server) -> bool:
    return getattr(eio, "_chat_wire", None) is not None
