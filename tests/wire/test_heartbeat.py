"""One heartbeat task pings every connection (wire/heartbeat.py): pings arrive each
interval, clients that answer stay, clients that stop answering are closed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import engineio
import pytest
import websocket
from engineio.exceptions import SocketIsClosedError

from conftest import StartServer
from support import ASYNC_MODES, connections_held, open_raw, wait_until
from wire.engine_socket import (
    WireCounters,
    _State,
    check_ping_timeout,
    close_transport,
)
from wire.heartbeat import TICK_SECONDS, Heartbeat
from wire.limits import ConnectionLimits


class FakeEngineIO:
    ping_interval = 10.0
    ping_timeout = 5.0
    reason = engineio.Server.reason

    def __init__(self) -> None:
        self.tasks: list[Any] = []

    def start_background_task(self, target: Any, *args: Any) -> None:
        self.tasks.append((target, *args))


class FakeSocket:
    def __init__(self, eio: FakeEngineIO, closed: bool = False) -> None:
        self.server = eio
        self.sid = "fake"
        self.closing = False
        self.closed = closed
        self.last_ping: float | None = None
        self.sent: list[Any] = []

    def send(self, pkt: Any) -> None:
        self.sent.append(pkt.encode())


def test_pings_leave_when_due_in_order_and_skip_closed_connections() -> None:
    clock = [1000.0]
    eio = FakeEngineIO()
    heartbeat = Heartbeat(eio, clock=lambda: clock[0])
    first, closed, later = (
        FakeSocket(eio),
        FakeSocket(eio, closed=True),
        FakeSocket(eio),
    )
    heartbeat.schedule(first)
    heartbeat.schedule(closed)
    clock[0] += 3
    heartbeat.schedule(later)
    assert len(eio.tasks) == 1  # one task for every connection
    assert heartbeat.send_due(1009.0) == TICK_SECONDS
    assert first.sent == [] and len(heartbeat) == 3
    # `later` is due at 1013: the heartbeat sleeps until then.
    assert heartbeat.send_due(1012.9) == pytest.approx(0.1)
    assert first.sent == ["2"] and first.last_ping is not None
    assert closed.sent == [] and later.sent == []
    assert heartbeat.send_due(1013.0) == TICK_SECONDS
    assert later.sent == ["2"] and len(heartbeat) == 0


def test_a_ping_unanswered_for_the_ping_timeout_closes_its_connection() -> None:
    eio = FakeEngineIO()
    heartbeat = Heartbeat(eio, clock=lambda: 1000.0)
    silent, answering = FakeSocket(eio), FakeSocket(eio)
    heartbeat.schedule(silent)
    heartbeat.schedule(answering)
    heartbeat.send_due(1010.0)  # both pinged; pongs owed by 1015
    assert silent.sent == answering.sent == ["2"]
    answering.last_ping = None  # its PONG arrived (Engine.IO's receive)
    # Not yet overdue: the heartbeat sleeps at most a tick, and closes no one.
    assert heartbeat.send_due(1014.9) == pytest.approx(0.1)
    assert len(eio.tasks) == 1  # only the heartbeat itself
    heartbeat.send_due(1015.0)
    closes = [task for task in eio.tasks[1:] if task[0] is close_transport]
    assert [(task[1], task[2]) for task in closes] == [
        (silent, eio.reason.PING_TIMEOUT)
    ]
    heartbeat.send_due(1030.0)  # each silence is acted on once
    assert len(eio.tasks) == 2


def frames_for(
    connection: websocket.WebSocket, seconds: float, answer: bool
) -> list[str]:
    """Every frame received for `seconds`, answering pings when `answer`; stops
    early when the server closes the connection (then the last item is "closed")."""
    frames: list[str] = []
    deadline = time.monotonic() + seconds
    connection.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            frame = connection.recv()
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            frames.append("closed")
            break
        if frame == "":
            frames.append("closed")
            break
        frames.append(frame)
        if frame == "2" and answer:
            connection.send("3")
    return frames


@pytest.mark.parametrize("async_mode", ASYNC_MODES)
def test_every_connection_is_pinged_each_interval_and_silent_ones_are_closed(
    start_server: StartServer, async_mode: str
) -> None:
    server = start_server(
        async_mode, PING_INTERVAL_SECONDS="1", PING_TIMEOUT_SECONDS="1"
    )
    answering, _ = open_raw(server)
    silent, _ = open_raw(server)
    try:
        with ThreadPoolExecutor(2) as pool:
            answered = pool.submit(frames_for, answering, 6, True)
            unanswered = pool.submit(frames_for, silent, 6, False)
            heard, unheard = answered.result(), unanswered.result()
        # One ping about every second for the client that answers, and it stays.
        assert heard.count("2") >= 4 and "closed" not in heard, heard
        # One ping, unanswered: closed after the ping timeout.
        assert unheard.count("2") == 1 and unheard[-1] == "closed", unheard
    finally:
        answering.close()
        silent.close()


@pytest.mark.parametrize("async_mode", ASYNC_MODES)
def test_a_client_that_reads_nothing_more_has_its_socket_closed_by_the_server(
    start_server: StartServer, async_mode: str
) -> None:
    """A phone that drops off the network answers nothing and reads nothing. Its
    session is closed after the ping timeout, and so is its TCP socket: under
    gevent and threading the socket was once looked up through the websocket after
    the goodbye had closed it, found missing, and left open with its reader."""
    server = start_server(
        async_mode, PING_INTERVAL_SECONDS="1", PING_TIMEOUT_SECONDS="1"
    )
    gone, _ = open_raw(server)  # never read again
    try:
        assert connections_held(server, [gone]) == 1
        wait_until(
            lambda: connections_held(server, [gone]) == 0,
            timeout=30,  # about 3 s; a loaded machine's threading mode is slow
            what="the server closing the silent client's socket",
        )
    finally:
        gone.close()


def test_engineio_service_task_closes_an_overdue_client_the_heartbeats_way() -> None:
    """Engine.IO's own service task checks every connection's ping timeout too. On a
    loaded machine it can notice first; its stock close left the socket open, and
    under threading a silent client's reader blocked on it for good. It now closes
    through the same task as the heartbeat, which shuts the socket down after."""
    eio = FakeEngineIO()
    counters = WireCounters()
    limits = ConnectionLimits(
        max_queued_bytes=1 << 20, frames_per_second=10, frame_burst=10
    )
    eio._chat_wire = _State(limits, counters, "threading")  # type: ignore[attr-defined]
    overdue, answered = FakeSocket(eio), FakeSocket(eio)
    overdue.last_ping = time.time() - eio.ping_timeout - 1
    answered.last_ping = None  # its pong came back
    assert check_ping_timeout(answered) is True
    assert eio.tasks == []
    assert check_ping_timeout(overdue) is False
    assert [task[:2] for task in eio.tasks] == [(close_transport, overdue)]
    assert check_ping_timeout(overdue) is False  # planned once, not twice
    assert len(eio.tasks) == 1 and counters.ping_timeouts == 1
    with pytest.raises(SocketIsClosedError):
        check_ping_timeout(FakeSocket(eio, closed=True))
