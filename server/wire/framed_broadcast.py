"""Frame a broadcast once and write the same bytes to every websocket recipient.

Engine.IO sends each packet through the recipient's queue to that connection's
writer green thread, which wakes, encodes the packet, frames it as a websocket
message in pure Python and writes it: per recipient, per message. In a profile of
our server at 30,000 deliveries/s that chain was over half of all the time spent.
python-socketio already encodes a broadcast once (one Engine.IO packet object for
all recipients); this module frames that packet once, and writes the frame straight
into each recipient's socket when nothing is waiting before it:

- Frames are corked for the rest of the event loop's turn: one flusher task writes
  each connection's frames of that turn in one system call once the loop has
  handled the input that was ready (no timer; at low load that is at once). Under
  load a connection gets several packets per turn (messages, acks, batches) and
  the system calls, a third of the server's time, are shared among them. A
  connection's corked bytes are capped (CORK_LIMIT_BYTES): past it they are
  written out at once.
- In a room of AT_ONCE_ROOM_SIZE members or more, a member's first frame of a turn
  is written as the walk reaches it, and only its later frames of that turn are
  corked: corking all 500 of a large room's frames before writing the first made
  every member wait for the whole walk. Smaller rooms keep corking, where a sender's
  own copy of its message and its ack leave in one write.
- Order per connection is kept: a frame is corked only when the connection's
  queue is empty and its writer is not in the middle of a send; otherwise the
  packet goes the normal way, behind what is already queued, and the writer sends
  whatever is corked before its own packet.
- A slow reader never blocks the broadcaster: the writes are non-blocking. If the
  socket takes only part of them, the rest is handed to the connection's own
  writer (a marker in its queue), which sends it before anything else.
- Engine.IO's ping-timeout check runs for a direct write as for a queued one, and
  as for a queued one (engine_socket.py) an expired connection is closed by a task
  of its own, never inside the broadcast.
- Long-polling connections, connections being upgraded, and the threading mode
  (real threads, where "queue empty and writer idle" cannot be checked atomically)
  always take the normal path.

Packets to one client (acks above all: one per chat message) take the same path.
The chat's messages and batches reach a room through `room_emit`, which walks the
room's members (python-socketio's `Manager.rooms`) in one loop here, instead of
python-socketio's generator and a call per recipient: CPU per delivery at 20k/s
(bench/ab.py, gevent, five interleaved rounds a side) plain path 5.80 -> 5.44 us,
batches 4.37 -> 4.28 us; a 500-member room's p99 unchanged.

Replaces `socketio.Server._send_eio_packet` and `_send_packet`, and Engine.IO's
websocket class per server; relies on `Socket.queue` and each websocket object's
`send` and socket (versions in wire/versions.py; tests/wire/test_framed_broadcast.py
checks the frames against the libraries' own framing, in both modes, through real
servers). Measured gain: at 27k deliveries/s under eventlet CPU per delivery 36-38
-> 32-33 us and p99 400-480 -> 55-90 ms; corking, clients without batches (scenario A):
highest passing rate gevent 95.8k -> 173.3k, eventlet 96.3k -> 161.3k deliveries/s,
with clients that take batches unchanged (259k -> 254k, 225k -> 219k); the
per-recipient path written flat (the frame and the clock taken once per packet, the
session kept on the lane): 45.9k -> 42.6k instructions per delivery under gevent
(bench/instructions.py); Lane.cork's usual case written out in `_deliver`, and the
broadcast's count added once: 34.1k -> 33.5k (plain path). `room_emit` encodes the
event itself instead of making python-socketio's packet (whose constructor walks
every value of the data looking for bytes; 4.1 -> 0.8 us a message, microbenchmark):
both together, plain path, 34.0k -> 31.4k under gevent, 39.6k -> 37.1k under
eventlet, batches 35.1k -> 32.6k under gevent. To remove: set
DIRECT_WRITES=false, or drop the `framed_broadcast.install` call in
wire/__init__.py. It could go upstream as an option of Engine.IO's websocket
transport, which is where the queue and the writer live.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Iterable
from typing import Any

import engineio
import socketio
from engineio import packet as eio_packet
from socketio import packet as socketio_packet

from wire import attribute_names, gevent_handover, resting, writer_on_demand

log = logging.getLogger("chat.wire")

TEXT = 0x1
BINARY = 0x2
FINAL = 0x80
# A Socket.IO EVENT packet's type, as the first character of its encoding.
_EVENT = str(socketio_packet.EVENT)


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
# The most a connection keeps corked in one loop turn before writing it out.
CORK_LIMIT_BYTES = 64 * 1024


# From this many members on, a room's frame is written to each member as the walk
# reaches it, where smaller rooms cork it (a lane's first frame of a turn only:
# later ones are corked behind it). Not in every room: in rooms of 10 a sender's
# own copy then left in one write and its ack in another, and the plain path at
# 20k deliveries/s cost 30.10 -> 32.90 us per delivery; in a room of 100 that
# extra write is one in a hundred.
AT_ONCE_ROOM_SIZE = 100

# What `Lane.cork` did with a frame.
QUEUE = 0  # nothing: the frame takes the connection's queue (the writer is busy)
FIRST = 1  # corked, the lane's first of this turn: register it for the flush
MORE = 2  # corked behind others of this turn
SPILLED = 3  # over CORK_LIMIT_BYTES: written out, the rest left to the writer; QUEUE


class Lane:
    """One websocket's write side, shared by Engine.IO's writer and the broadcaster.

    Frames for it are corked for the rest of the event loop's turn and written
    together by the broadcaster's flusher: a connection that gets several packets in
    one turn (messages, an ack, a batch) gets them in one system call."""

    __slots__ = (
        "engine_socket",
        "_send",
        "_raw",
        "_green_sendall",
        "_busy",
        "_pending",
        "_corked",
        "_corked_bytes",
        "written_in_turn",
    )

    def __init__(
        self, ws: Any, raw_socket: Any, green_sendall: Any, engine_socket: Any
    ) -> None:
        self.engine_socket = engine_socket  # the Engine.IO session it writes for
        self._send = ws.send
        self._raw = raw_socket
        self._green_sendall = green_sendall
        self._busy = False
        self._pending = b""
        self._corked: list[bytes] = []
        self._corked_bytes = 0
        # The flusher's turn in which a frame was last written at once (large rooms).
        self.written_in_turn = -1
        ws.send = self.send_from_writer

    def send_from_writer(self, message: Any, **kwargs: Any) -> Any:
        """Engine.IO's writer (and the websocket's own close) call this as `ws.send`:
        what is pending or corked went first, so it goes out first."""
        self._busy = True
        try:
            if self._pending:
                pending, self._pending = self._pending, b""
                self._green_sendall(pending)
            if self._corked:
                corked, self._corked, self._corked_bytes = self._corked, [], 0
                self._green_sendall(b"".join(corked))
            if message is FLUSH:
                return None
            return self._send(message, **kwargs)
        finally:
            self._busy = False

    def cork(self, frame: bytes) -> int:
        """Keep `frame` for this turn's flush, unless the writer is sending or has the
        rest of a frame: FIRST, MORE, QUEUE or SPILLED (above)."""
        if self._busy or self._pending:
            return QUEUE
        corked_bytes = self._corked_bytes + len(frame)
        if corked_bytes > CORK_LIMIT_BYTES:
            # Much for one turn (a client asking for history again and again): out
            # now, so what the socket does not take is queued and counted
            # (MAX_QUEUED_BYTES_PER_CONNECTION) instead of growing here.
            self.flush()
            if self._pending:
                return SPILLED
            corked_bytes = len(frame)
        corked = self._corked
        corked.append(frame)
        self._corked_bytes = corked_bytes
        return FIRST if len(corked) == 1 else MORE

    @property
    def blocked(self) -> bool:
        """The writer has bytes to send first (the rest of a partial write)."""
        return bool(self._pending)

    def flush(self) -> int:
        """Write what is corked without blocking; the rest goes to the writer. The
        number of bytes that had to be left to the writer."""
        corked = self._corked
        if not corked or self._busy or self._pending:
            return 0  # the writer takes the corked frames before its next packet
        size = self._corked_bytes
        self._corked, self._corked_bytes = [], 0
        data = corked[0] if len(corked) == 1 else b"".join(corked)
        try:
            written: int = self._raw.send(data)
        except BlockingIOError:
            written = 0
        except OSError:
            return 0  # the writer meets the same error and closes the connection
        if written < size:
            self._pending = data[written:]
            writer_on_demand.enqueue(self.engine_socket, FLUSH)
            return size - written
        return 0


def _eventlet_lane(ws: Any, engine_socket: Any) -> Lane | None:
    if getattr(ws, "extensions", None):
        return None  # compressed frames differ per connection
    sock = ws.socket
    return Lane(ws, sock.fd, sock.sendall, engine_socket)


def _gevent_lane(ws: Any, engine_socket: Any) -> Lane | None:
    websocket = ws._sock
    sock = gevent_handover.socket_of(websocket)
    return Lane(ws, sock._sock, websocket.raw_write, engine_socket)


LANE_FACTORIES = {"eventlet": _eventlet_lane, "gevent": _gevent_lane}


class FramedBroadcast:
    """The direct-write path of one Socket.IO server, and how often it was taken."""

    def __init__(self, sio: socketio.Server, async_mode: str) -> None:
        self._sio = sio
        self._eio: engineio.Server = sio.eio
        self._make_lane = LANE_FACTORIES[async_mode]
        self._lanes: dict[str, Lane] = {}
        self._last_packet: Any = None
        self._last_frame: bytes = b""
        self._framed_at = 0.0  # time.time() of the last frame, for ping deadlines
        # Lanes with corked frames, written by the flusher when the loop goes idle.
        self._corked: list[Lane] = []
        self._wake = self._eio.create_queue()
        self._turn = 0  # the flusher's runs so far: each one ends a turn
        self.direct_writes = 0
        self.partial_writes = 0  # flushes whose rest went to the writer
        self.queued_writes = 0

    def run_handler(self, handler: Any, ws: Any) -> Any:
        """Engine.IO's websocket handler, with this connection's lane registered
        until the handler has really ended (not while its reader rests:
        resting.py)."""
        engine_socket = handler.__self__
        lane = self._make_lane(ws, engine_socket)
        if lane is None:
            return handler(ws)
        self._lanes[engine_socket.sid] = lane

        def forget_lane() -> None:
            if self._lanes.get(engine_socket.sid) is lane:
                del self._lanes[engine_socket.sid]

        return resting.after(lambda: handler(ws), forget_lane)

    def counts(self) -> dict[str, int]:
        return {
            "direct_writes": self.direct_writes,
            "partial_writes": self.partial_writes,
            "queued_writes": self.queued_writes,
        }

    def run_flusher(self) -> None:
        """Writes every lane's corked frames once the loop has handled the input
        that was ready (woken by the first frame corked in a turn)."""
        while True:
            self._wake.get()
            try:
                self.flush()
            except Exception:
                log.exception("writing corked frames failed")

    def flush(self) -> None:
        self._turn += 1
        while self._corked:
            lanes, self._corked = self._corked, []
            for lane in lanes:
                if lane.flush():
                    self.partial_writes += 1

    def send_eio_packet(self, eio_sid: str, pkt: Any) -> None:
        """Replaces `socketio.Server._send_eio_packet`: direct when it can be."""
        self._deliver((eio_sid,), pkt)

    def room_emit(self, event: str, data: Any, room: str) -> None:
        """`event` to every member of Socket.IO room `room` on this node, as
        `sio.emit(event, data, to=room, ignore_queue=True)` sends it (no callback,
        nobody skipped), with its recipients walked in one loop here instead of a
        generator and a call per recipient (Manager.emit): in a 500-member room that
        walk is most of a message's work."""
        members = self._sio.manager.rooms.get("/", {}).get(room)
        if members is None:
            return  # python-socketio drops a room with its last member
        # Copied: a send can find a connection dead and run its disconnect, which
        # leaves the room while it is being walked. The room is a bidict (sid to
        # Engine.IO sid): listing its inverse costs half what its values() does.
        eio_sids = list(members.inverse)
        try:
            # What the packet class's encode gives an EVENT on "/" without an id,
            # without making the packet, whose constructor first walks every value
            # of `data` looking for bytes (each message of a batch).
            encoded = _EVENT + self._sio.packet_class.json.dumps(
                [event, data], separators=(",", ":")
            )
        except TypeError:  # bytes somewhere (never the chat's events): attachments
            self._sio.emit(event, data, to=room, ignore_queue=True)
            return
        packet = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        self._deliver(eio_sids, packet, len(eio_sids) >= AT_ONCE_ROOM_SIZE)

    def _deliver(
        self, eio_sids: Iterable[str], pkt: Any, at_once: bool = False
    ) -> None:
        """Each recipient's copy of one packet: corked for a direct write when its
        connection is idle, through Engine.IO's queue otherwise. `at_once` (a
        large room's packet): an idle lane's first frame of the turn is written
        now instead of corked.

        Runs once per recipient of every broadcast, so it is written flat: the
        frame, the clock and the ping timeout are taken once per packet, the count
        added once, and Lane.cork's usual case (an idle lane under its cap) is
        written out here; the lane's own method takes every other case."""
        lanes = self._lanes
        frame = b""
        framed_at = ping_timeout = 0.0
        direct = written_at_once = 0
        for eio_sid in eio_sids:
            lane = lanes.get(eio_sid)
            if lane is not None:
                connection = lane.engine_socket
                if (
                    connection.upgraded
                    and not connection.upgrading
                    and not connection.closing
                    and not connection.closed
                    and connection.queue.empty()
                ):
                    if not frame:
                        if pkt is not self._last_packet:
                            self._frame(pkt)
                        frame = self._last_frame
                        framed_at = self._framed_at
                        ping_timeout = connection.server.ping_timeout
                    last_ping = connection.last_ping
                    if last_ping and framed_at - last_ping > ping_timeout:
                        # Past its ping deadline (engine_socket.past_ping_deadline):
                        # the queued path closes it, from a task.
                        connection.send(pkt)
                        continue
                    if not lane._busy and not lane._pending:
                        if (
                            at_once
                            and not lane._corked
                            and lane.written_in_turn != self._turn
                        ):
                            lane.written_in_turn = self._turn
                            written_at_once += 1
                            lane._corked.append(frame)  # and written out at once
                            lane._corked_bytes = len(frame)
                            if lane.flush():
                                self.partial_writes += 1
                            continue
                        corked_bytes = lane._corked_bytes + len(frame)
                        if corked_bytes <= CORK_LIMIT_BYTES:
                            corked = lane._corked
                            corked.append(frame)
                            lane._corked_bytes = corked_bytes
                            direct += 1
                            if len(corked) == 1:  # _register_corked, written out
                                corked_lanes = self._corked
                                corked_lanes.append(lane)
                                if len(corked_lanes) == 1:
                                    self._wake.put(True)
                            continue
                    outcome = lane.cork(frame)
                    if outcome == FIRST:
                        direct += 1
                        self._register_corked(lane)
                        continue
                    if outcome == MORE:
                        direct += 1
                        continue
                    if outcome == SPILLED:
                        self.partial_writes += 1
            self.queued_writes += 1
            self._eio.send_packet(eio_sid, pkt)
        self.direct_writes += direct + written_at_once
        if written_at_once and not self._corked:
            self._wake.put(True)  # the turn ends with the flusher's next run

    def _register_corked(self, lane: Lane) -> None:
        """`lane` has its first corked frame of this turn: the flusher writes it,
        woken by the turn's first such lane."""
        corked = self._corked
        corked.append(lane)
        if len(corked) == 1:
            self._wake.put(True)

    def send_packet(self, eio_sid: str, pkt: Any) -> None:
        """Replaces `socketio.Server._send_packet` (acks, connects, errors): the same
        Engine.IO MESSAGE packets that `engineio.Server.send` would queue."""
        encoded = pkt.encode()
        for part in encoded if isinstance(encoded, list) else [encoded]:
            self.send_eio_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, part))

    def _frame(self, pkt: Any) -> None:
        """Frame `pkt` once for all the recipients of a broadcast, and note when."""
        self._last_frame = websocket_frame(pkt.encode())
        self._last_packet = pkt
        self._framed_at = time.time()


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
    # What a Lane sets on the websocket it writes for (see attribute_names.py):
    # eventlet's own websocket, or under gevent Engine.IO's wrapper, this class.
    if async_mode == "eventlet":
        from eventlet.websocket import RFC6455WebSocket

        attribute_names.reserve(RFC6455WebSocket, ("send",))
    else:
        attribute_names.reserve(LanedWebSocketWSGI, ("send",))
    sio._send_eio_packet = broadcast.send_eio_packet
    sio._send_packet = broadcast.send_packet
    eio.start_background_task(broadcast.run_flusher)
    return broadcast
