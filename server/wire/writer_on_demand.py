"""A websocket connection's writer task runs only while it has something to send.

Replaces `engineio.socket.Socket._websocket_handler` (called from engine_socket.py's
handler) and `Socket.close` (python-engineio 4.15, pinned; see wire/versions.py) for
servers that opt in (`install`), under eventlet and gevent. Stock Engine.IO starts a
writer task per websocket connection that waits on the connection's queue for the
connection's whole life: 5,000 idle clients keep 5,000 parked green threads, each
with its slice of the C stack, its frame stack and its thread object. Most packets
no longer take that queue anyway (the broadcaster writes them straight into the
socket, framed_broadcast.py): pings, and packets queued behind a busy socket, do.

Here the first packet queued while no writer runs starts one (`enqueue`, or `wake`
after a put); it sends what is queued, in order, and ends when the queue is empty.
Under eventlet and gevent nothing else runs between the writer finding the queue
empty and marking itself finished (no blocking call between them), so a packet is
never left queued without a writer. Threading keeps the stock writer thread.

The stock writer also gave up on a client that sent nothing for ping_interval +
ping_timeout (its wait for a packet timed out) and closed the websocket: gevent's
websocket has no socket timeout, so that was its only guard against a silent peer.
The heartbeat now closes a connection whose PING went unanswered for ping_timeout
(heartbeat.py), in every mode.

Measured with bench/ scenario B (5,000 idle clients, RSS per connection): see
bench/analysis.md. To remove: drop the `writer_on_demand.install(...)` call in
wire/__init__.py.
"""

from __future__ import annotations

import logging
from typing import Any

import engineio
from engineio import packet
from engineio.socket import Socket

from wire import attribute_names, resting
from wire.limits import packet_size

_MESSAGE = str(packet.MESSAGE)  # an Engine.IO MESSAGE packet's first character

# What this module sets on Engine.IO's sockets (see attribute_names.py).
SOCKET_ATTRIBUTES = (
    "_chat_writing",
    "_chat_writer_task",
    "_chat_writer_ws",
    "_chat_rest_bell",
)

log = logging.getLogger("chat.wire")

_STOCK_CLOSE = Socket.close


def enabled(eio: Any) -> bool:
    return bool(getattr(eio, "_chat_writer_on_demand", False))


def enqueue(engine_socket: Any, pkt: Any) -> None:
    """Queue `pkt` (a packet, a flush marker or None to end) for the writer."""
    engine_socket.queue.put(pkt)
    wake(engine_socket)


def wake(engine_socket: Any) -> None:
    """Start the connection's writer, unless one runs or it is not a websocket yet."""
    ws = getattr(engine_socket, "_chat_writer_ws", None)
    if ws is None or engine_socket._chat_writing:
        return
    engine_socket._chat_writing = True
    engine_socket._chat_writer_task = engine_socket.server.start_background_task(
        _write, engine_socket, ws
    )


def _write(engine_socket: Any, ws: Any) -> None:
    """Send what is queued; end when the queue is empty, or close the websocket at
    the end marker (None) or when a send fails, as the stock writer does."""
    queue = engine_socket.queue
    empty = engine_socket.server.get_queue_empty_exception()
    try:
        while True:
            try:
                pkt = queue.get(block=False)
            except empty:
                engine_socket._chat_queued = 0
                return  # idle: the next packet queued starts a new writer
            queue.task_done()
            if pkt is None:
                break
            engine_socket._chat_queued = max(
                0, getattr(engine_socket, "_chat_queued", 0) - packet_size(pkt)
            )
            ws.send(pkt.encode())
    except Exception:  # the stock writer's bare except: the connection is gone
        pass
    finally:
        engine_socket._chat_writing = False
        engine_socket._chat_writer_task = None  # a finished greenlet is 2.5 KiB
    engine_socket._chat_writer_ws = None  # no writer may start on a closed websocket
    if not getattr(ws, "websocket_closed", False):
        # eventlet's websocket closes itself after a close frame or a failed read;
        # closing it again only logs a "socket shutdown error".
        ws.close()
    bell = getattr(engine_socket, "_chat_rest_bell", None)
    if bell is not None:
        bell.ring()  # a resting reader ends too


def serve_websocket(engine_socket: Any, ws: Any) -> list[Any] | resting.Rest:
    """Socket._websocket_handler, with the writer started on demand (see above)."""
    server = engine_socket.server

    def wait() -> Any:
        data = ws.wait()
        if data and len(data) > server.max_http_buffer_size:
            raise ValueError("packet is too large")
        return data

    for attr in ("_sock", "socket"):
        target = getattr(ws, attr, None)
        if target is not None and hasattr(target, "settimeout"):
            target.settimeout(server.ping_interval + server.ping_timeout)
    if engine_socket.connected:
        if not _upgrade(engine_socket, ws, resting.waiting_through_rests(wait)):
            return []
    else:
        engine_socket.connected = True
        engine_socket.upgraded = True
    engine_socket._chat_writing = False
    engine_socket._chat_writer_task = None
    engine_socket._chat_writer_ws = ws
    wake(engine_socket)  # what was queued before the websocket took over
    server.logger.info("%s: Upgrade to websocket successful", engine_socket.sid)

    def finish() -> None:
        # The websocket server closes the websocket once this returns; a writer
        # still sending is stopped by the end marker first.
        engine_socket._chat_writer_ws = None
        if engine_socket._chat_writing:
            engine_socket.queue.put(None)
            engine_socket._chat_writer_task.join()
        engine_socket.close(
            wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE
        )

    outcome = resting.after(lambda: _read(engine_socket, wait), finish)
    return outcome if isinstance(outcome, resting.Rest) else []


def _upgrade(engine_socket: Any, ws: Any, wait: Any) -> bool:
    """The stock upgrade from long-polling: PING "probe", PONG "probe", UPGRADE."""
    server = engine_socket.server
    engine_socket.upgrading = True  # hold packet sends during the upgrade
    decoded = packet.Packet(encoded_packet=wait())
    if decoded.packet_type != packet.PING or decoded.data != "probe":
        server.logger.info(
            "%s: Failed websocket upgrade, no PING packet", engine_socket.sid
        )
        engine_socket.upgrading = False
        return False
    ws.send(packet.Packet(packet.PONG, data="probe").encode())
    engine_socket.queue.put(packet.Packet(packet.NOOP))  # ends the pending poll
    received = wait()
    decoded = packet.Packet(encoded_packet=received)
    if decoded.packet_type != packet.UPGRADE:
        engine_socket.upgraded = False
        server.logger.info(
            "%s: Failed websocket upgrade, expected UPGRADE packet, received %s"
            " instead.",
            engine_socket.sid,
            received,
        )
        engine_socket.upgrading = False
        return False
    engine_socket.upgraded = True
    engine_socket.upgrading = False
    return True


def _read(engine_socket: Any, wait: Any) -> resting.Rest | None:
    """The stock reader loop: each packet to `receive` until the websocket ends,
    or until it rests (resting.py: then a Rest that reads on)."""
    server = engine_socket.server
    counters = getattr(getattr(server, "_chat_wire", None), "counters", None)
    # engine_socket.receive_message, where engine_socket.py is installed.
    receive_message = getattr(engine_socket, "_chat_receive_message", None)
    if getattr(engine_socket, "_chat_rest_bell", None) is not None:  # woken
        engine_socket._chat_rest_bell = None
        if counters is not None:
            counters.resting_readers -= 1
            counters.reader_wakes += 1
    while True:
        try:
            received = wait()
        except resting.Resting:
            if engine_socket.closed:
                return None  # nothing more to read: the session has ended
            bell = engine_socket._chat_rest_bell = resting.Bell()
            if counters is not None:
                counters.resting_readers += 1
            return resting.Rest(lambda: _read(engine_socket, wait), bell)
        except Exception as exc:
            if not engine_socket.closed:
                server.logger.info(
                    '%s: Unexpected error "%s", closing connection',
                    engine_socket.sid,
                    str(exc),
                )
            return None
        if received is None:
            return None  # closed by the client
        if (
            receive_message is not None
            and type(received) is str
            and received[:1] == _MESSAGE
            and received[1:2].isnumeric()
        ):
            # A Socket.IO packet in a MESSAGE: Packet.decode's answer would be
            # this text, without trying it as JSON (it starts with a digit).
            receive_message(received[1:])
            continue
        try:
            decoded = packet.Packet(encoded_packet=received)
        except (ValueError, IndexError, TypeError):
            # Stock Engine.IO let this escape the handler, leaving the session
            # behind for the websocket server to log: no client of ours sends one.
            log.warning(
                "closing sid=%s: sent an Engine.IO packet that does not decode",
                engine_socket.sid,
            )
            return None
        try:
            engine_socket.receive(decoded)
        except engineio.exceptions.UnknownPacketError:
            pass
        except engineio.exceptions.SocketIsClosedError:
            server.logger.info("Receive error -- socket is closed")
            return None
        except Exception:
            server.logger.exception("Unknown receive error")
            return None


def close(
    self: Any, wait: bool = True, abort: bool = False, reason: Any = None
) -> None:
    """Socket.close: the stock close, then a writer for its CLOSE packet and end
    marker (the stock writer was always there to take them)."""
    if getattr(self, "_chat_writer_ws", None) is None:
        _STOCK_CLOSE(self, wait=wait, abort=abort, reason=reason)
        return
    closing_now = not self.closed and not self.closing
    _STOCK_CLOSE(self, wait=False, abort=abort, reason=reason)
    if closing_now:
        wake(self)
        if wait:
            self.queue.join()


def install(eio: engineio.Server, async_mode: str) -> bool:
    """`eio`'s websocket connections get a writer only while something is queued
    (eventlet and gevent; threading keeps one writer thread per connection)."""
    if async_mode not in ("eventlet", "gevent"):
        return False
    eio._chat_writer_on_demand = True
    attribute_names.reserve(Socket, SOCKET_ATTRIBUTES)
    # What it replaces, for inspect.signature and tests/wire/test_versions.py.
    close.__wrapped__ = _STOCK_CLOSE  # type: ignore[attr-defined]
    Socket.close = close
    return True
