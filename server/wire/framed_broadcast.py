"""Frame a broadcast once and write the same bytes to every websocket recipient.

Engine.IO sends each packet through the recipient's queue to that connection's
writer green thread, which wakes, encodes the packet, frames it as a websocket
message in pure Python and writes it: per recipient, per message. In a profile of
our server at 30,000 deliveries/s that chain was over half of all the time spent.
python-socketio already encodes a broadcast once (one Engine.IO packet object for
all recipients); this module frames that packet once, and writes the frame straight
into each recipient's socket when nothing is waiting before it:

- Order per connection is kept: the direct write is taken only when the
  connection's queue is empty and its writer is not in the middle of a send;
  otherwise the packet goes the normal way, behind what is already queued.
- A slow reader never blocks the broadcaster: the write is non-blocking. If the
  socket takes only part of the frame, the rest is handed to the connection's own
  writer (a marker in its queue), which sends it before anything else.
- Engine.IO's ping-timeout check runs for a direct write as for a queued one, and
  as for a queued one (engine_socket.py) an expired connection is closed by a task
  of its own, never inside the broadcast.
- Long-polling connections, connections being upgraded, and the threading mode
  (real threads, where "queue empty and writer idle" cannot be checked atomically)
  always take the normal path.

Packets to one client (acks above all: one per chat message) take the same path.

Replaces `socketio.Server._send_eio_packet` and `_send_packet`, and Engine.IO's
websocket class per server; relies on `Socket.queue` and each websocket object's
`send` and socket (versions in wire/versions.py; tests/wire/test_framed_broadcast.py
checks the frames against the libraries' own framing, in both modes, through real
servers). Measured gain: at 27k deliveries/s under eventlet CPU per delivery 36-38
-> 32-33 us and p99 400-480 -> 55-90 ms (bench/RESULTS.md). To remove: set
DIRECT_WRITES=false, or drop the `framed_broadcast.install` call in
wire/__init__.py. It could go upstream as an option of Engine.IO's websocket
transport, which is where the queue and the writer live.
"""

from __future__ import annotations

import struct
from typing import Any

import engineio
import socketio
from engineio import packet as eio_packet

from wire import engine_socket as engine_socket_limits

TEXT = 0x1
BINARY = 0x2
FINAL = 0x80


def websocket_frame(payload: str | bytes) -> bytes:
    """An unmasked, unfragmented RFC 6455 frame, as a server sends it."""
    if isinstance(payload, str):
        data, opcode = payload.encode("utf-8"), TEXT
    else:
        data, opcode = bytes(payload), BINARY
    length = len(data)
    if length < 126:
        header = struct.pack("!BB", FINAL | opcode, length)
    elif length < 65536:
        header = struct.pack("!BBH", FINAL | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", FINAL | opcode, 127, length)
    return header + data


class _FlushMarker:
    """Queued after a partial direct write: the writer sends the rest, then goes on."""

    packet_type = eio_packet.NOOP
    data = None

    def encode(self) -> _FlushMarker:
        return self


FLUSH = _FlushMarker()


class Lane:
    """One websocket's write side, shared by Engine.IO's writer and the broadcaster."""

    __slots__ = ("_send", "_raw", "_green_sendall", "_busy", "_pending")

    def __init__(self, ws: Any, raw_socket: Any, green_sendall: Any) -> None:
        self._send = ws.send
        self._raw = raw_socket
        self._green_sendall = green_sendall
        self._busy = False
        self._pending = b""
        ws.send = self.send_from_writer

    def send_from_writer(self, message: Any, **kwargs: Any) -> Any:
        """Engine.IO's writer (and the websocket's own close) call this as `ws.send`."""
        self._busy = True
        try:
            if self._pending:
                pending, self._pending = self._pending, b""
                self._green_sendall(pending)
            if message is FLUSH:
                return None
            return self._send(message, **kwargs)
        finally:
            self._busy = False

    def try_write(self, frame: bytes, engine_socket: Any) -> int | None:
        """Write `frame` now without blocking: the bytes written at once, or None
        when nothing was written and the frame must take the queue."""
        if self._busy or self._pending:
            return None
        try:
            written = int(self._raw.send(frame))
        except BlockingIOError:
            written = 0
        except OSError:
            return None  # the writer meets the same error and closes the connection
        if written < len(frame):
            self._pending = frame[written:]
            engine_socket.queue.put(FLUSH)
        return written


def _eventlet_lane(ws: Any) -> Lane | None:
    if getattr(ws, "extensions", None):
        return None  # compressed frames differ per connection
    sock = ws.socket
    return Lane(ws, sock.fd, sock.sendall)


def _gevent_lane(ws: Any) -> Lane | None:
    websocket = ws._sock
    handler_socket = websocket.stream.handler.socket
    return Lane(ws, handler_socket._sock, websocket.raw_write)


LANE_FACTORIES = {"eventlet": _eventlet_lane, "gevent": _gevent_lane}


class FramedBroadcast:
    """The direct-write path of one Socket.IO server, and how often it was taken."""

    def __init__(self, sio: socketio.Server, async_mode: str) -> None:
        self._eio: engineio.Server = sio.eio
        self._make_lane = LANE_FACTORIES[async_mode]
        self._lanes: dict[str, Lane] = {}
        self._last_packet: Any = None
        self._last_frame: bytes = b""
        self.direct_writes = 0
        self.partial_writes = 0  # direct writes whose rest went to the writer
        self.queued_writes = 0

    def run_handler(self, handler: Any, ws: Any) -> Any:
        """Engine.IO's websocket handler, with this connection's lane registered."""
        engine_socket = handler.__self__
        lane = self._make_lane(ws)
        if lane is not None:
            self._lanes[engine_socket.sid] = lane
        try:
            return handler(ws)
        finally:
            if lane is not None and self._lanes.get(engine_socket.sid) is lane:
                del self._lanes[engine_socket.sid]

    def counts(self) -> dict[str, int]:
        return {
            "direct_writes": self.direct_writes,
            "partial_writes": self.partial_writes,
            "queued_writes": self.queued_writes,
        }

    def send_eio_packet(self, eio_sid: str, pkt: Any) -> None:
        """Replaces `socketio.Server._send_eio_packet`: direct when it can be."""
        lane = self._lanes.get(eio_sid)
        engine_socket = self._eio.sockets.get(eio_sid) if lane is not None else None
        if (
            lane is not None
            and engine_socket is not None
            and engine_socket.upgraded
            and not engine_socket.upgrading
            and not engine_socket.closing
            and not engine_socket.closed
            and engine_socket.queue.empty()
        ):
            if engine_socket_limits.past_ping_deadline(engine_socket):
                engine_socket.send(pkt)  # the queued path closes it, from a task
                return
            frame = self._frame(pkt)
            written = lane.try_write(frame, engine_socket)
            if written is not None:
                self.direct_writes += 1
                if written < len(frame):
                    self.partial_writes += 1
                return
        self.queued_writes += 1
        self._eio.send_packet(eio_sid, pkt)

    def send_packet(self, eio_sid: str, pkt: Any) -> None:
        """Replaces `socketio.Server._send_packet` (acks, connects, errors): the same
        Engine.IO MESSAGE packets that `engineio.Server.send` would queue."""
        encoded = pkt.encode()
        for part in encoded if isinstance(encoded, list) else [encoded]:
            self.send_eio_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, part))

    def _frame(self, pkt: Any) -> bytes:
        """The frame of `pkt`, made once for all the recipients of a broadcast."""
        if pkt is not self._last_packet:
            self._last_frame = websocket_frame(pkt.encode())
            self._last_packet = pkt
        return self._last_frame


def install(sio: socketio.Server, async_mode: str) -> FramedBroadcast | None:
    """Route `sio`'s packets through the direct-write path (eventlet and gevent)."""
    if async_mode not in LANE_FACTORIES:
        return None
    broadcast = FramedBroadcast(sio, async_mode)
    eio = sio.eio
    base = eio._async["websocket"]

    class LanedWebSocketWSGI(base):  # type: ignore[misc, valid-type]
        def __init__(self, handler: Any, server: Any) -> None:
            super().__init__(lambda ws: broadcast.run_handler(handler, ws), server)

        def _negotiate_permessage_deflate(self, extensions: Any) -> None:
            """No compression (eventlet), like stock socket.io: frames stay shared."""
            return None

    # A per-server copy: other Engine.IO servers in the process keep the default.
    eio._async = {**eio._async, "websocket": LanedWebSocketWSGI}
    sio._send_eio_packet = broadcast.send_eio_packet
    sio._send_packet = broadcast.send_packet
    return broadcast
