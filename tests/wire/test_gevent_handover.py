"""Under gevent a websocket is read by a green thread of its own once Engine.IO has it,
and the request's green thread ends (wire/gevent_handover.py). Through a real gevent
server: chat works over a direct websocket and over an upgrade from long-polling,
and every way a connection ends (the client closes, the server closes a silent one)
closes its socket: the server holds no descriptor for it afterwards."""

from __future__ import annotations

import pytest
import socketio

from conftest import StartServer
from support import connections_held, is_closed, join_raw, raw_socket, wait_until
from wire.gevent_handover import announces_body


class UpgradingReader:
    """A python-socketio client on its default path: long-polling, then an upgrade
    to a websocket (a second request that carries the websocket)."""

    def __init__(self, url: str) -> None:
        self.messages: list[str] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("message", lambda data: self.messages.append(data["message"]))
        self.sio.connect(url, wait_timeout=10)
        wait_until(lambda: self.sio.transport() == "websocket", what="the upgrade")


def test_chat_works_and_every_ended_connection_closes_its_socket(
    start_server: StartServer,
) -> None:
    server = start_server("gevent", PING_INTERVAL_SECONDS="1", PING_TIMEOUT_SECONDS="1")
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
    """gevent reads such a body after the application returns: the websocket's
    reader must not be a second reader of the same socket."""
    assert announces_body(environ) is expected
