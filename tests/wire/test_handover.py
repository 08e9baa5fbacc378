"""Under eventlet and gevent a websocket is read by a green thread of its own once
Engine.IO has it, and the request's green thread ends (wire/eventlet_handover.py,
wire/gevent_handover.py). Through real servers: chat works over a direct websocket
and over an upgrade from long-polling, and every way a connection ends (the client
closes, the server closes a silent one) closes its socket: the server holds no
descriptor for it afterwards. Under eventlet the new green thread takes a slot of
the server's pool, and with the pool full the handler runs on the request's thread,
as before."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import socketio

from conftest import StartServer
from support import connections_held, is_closed, join_raw, raw_socket, wait_until
from wire import eventlet_handover
from wire.handover import announces_body


class UpgradingReader:
    """A python-socketio client on its default path: long-polling, then an upgrade
    to a websocket (a second request that carries the websocket)."""

    def __init__(self, url: str) -> None:
        self.messages: list[str] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("message", lambda data: self.messages.append(data["message"]))
        self.sio.connect(url, wait_timeout=10)
        wait_until(lambda: self.sio.transport() == "websocket", what="the upgrade")


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_chat_works_and_every_ended_connection_closes_its_socket(
    start_server: StartServer, async_mode: str
) -> None:
    server = start_server(
        async_mode, PING_INTERVAL_SECONDS="1", PING_TIMEOUT_SECONDS="1"
    )
    reader = UpgradingReader(server.url)
    assert reader.sio.call("join", {"room": "handover", "username": "reader"})["ok"]

    talkers = [raw_socket(server) for _ in range(4)]
    for index, talker in enumerate(talkers):
        assert join_raw(talker, "handover", username=f"talker{index}")["ok"]
        talker.send(f'42["message",{{"room":"handover","message":"hi {index}"}}]')
    wait_until(lambda: len(reader.messages) == 4, what="the four messages")
    assert sorted(reader.messages) == [f"hi {index}" for index in range(4)]
    assert connections_held(server, talkers) == 4

    # Two leave by closing; two go silent and the server's heartbeat closes them.
    for talker in talkers[:2]:
        talker.close()
    wait_until(
        lambda: connections_held(server, talkers) == 0,
        timeout=30,  # about 3 s; as long as the heartbeat test allows a loaded machine
        what="the server closing all four sockets",
    )
    assert all(is_closed(talker) for talker in talkers[2:])  # on the wire too
    assert reader.sio.call("message", {"room": "handover", "message": "still here"})[
        "ok"
    ]
    assert "Traceback" not in server.log()
    reader.sio.disconnect()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"CONTENT_LENGTH": ""}, False),
        ({"CONTENT_LENGTH": "0"}, False),
        ({"CONTENT_LENGTH": "12"}, True),
        ({"HTTP_TRANSFER_ENCODING": "Chunked"}, True),
    ],
)
def test_a_request_that_announces_a_body_keeps_its_own_thread(
    environ: dict[str, str], expected: bool
) -> None:
    """gevent and eventlet read such a body after the application returns: the
    websocket's reader must not be a second reader of the same socket."""
    assert announces_body(environ) is expected


class FakeEventletWebSocket:
    """What eventlet_handover uses of eventlet's websocket: its environ (with the
    server's pool), its socket and its closing frame."""

    def __init__(self, pool: Any, sock: Any) -> None:
        self.environ: dict[str, Any] = {
            eventlet_handover.POOL_KEY: pool,
            "eventlet.set_idle": lambda: None,
        }
        self.socket = sock
        self.closing_frames = 0

    def _send_closing_frame(self, ignore_send_errors: bool = False) -> None:
        self.closing_frames += 1


@pytest.mark.parametrize(("pool_size", "own_thread"), [(2, True), (1, False)])
def test_under_eventlet_the_handler_takes_a_pool_slot_or_runs_in_place(
    pool_size: int, own_thread: bool
) -> None:
    with warnings.catch_warnings():  # deprecated upstream; it is our default
        warnings.simplefilter("ignore")
        import eventlet
        from eventlet.green import socket as green_socket

    pool = eventlet.GreenPool(pool_size)
    ours, peer = green_socket.socketpair()
    ws = FakeEventletWebSocket(pool, ours)
    seen: dict[str, Any] = {}

    def handler(websocket: Any) -> None:
        seen["thread"] = eventlet.getcurrent()
        seen["pool free"] = pool.free()
        websocket.socket.sendall(b"hello")

    def request() -> None:
        seen["request"] = eventlet.getcurrent()
        eventlet_handover.hand_over(ws, handler)
        ws._send_closing_frame(True)  # what eventlet's websocket server does next
        seen["request done"] = "thread" not in seen

    pool.spawn(request).wait()
    pool.waitall()
    # The handler's own thread runs outside the pool, the connection's slot held
    # for it until it ends (it may end and start again: see resting.py).
    for _ in range(200):
        if "thread" in seen and pool.free() == pool_size:
            break
        eventlet.sleep(0.01)
    assert pool.free() == pool_size  # given back at the end
    assert (seen["thread"] is not seen["request"]) is own_thread
    assert seen["request done"] is own_thread  # returned before the handler ran
    # While the handler ran the connection held one slot (the request's has
    # ended, or the handler runs on it).
    assert seen["pool free"] == pool_size - 1
    assert eventlet_handover.handed_over(ours)
    assert "eventlet.set_idle" not in ws.environ
    assert ws.closing_frames == 1  # sent once, by the handler's thread at its end
    assert peer.recv(16) == b"hello" and peer.recv(16) == b""  # then closed
    peer.close()
