from __future__ import annotations

import socket

import pytest
import requests
import websocket

from config import Config
from support import ASYNC_MODES, GREEN_MODES, StartServer, open_raw
from wire.serving import browser_url, disable_nagle


def test_listener_sends_small_frames_without_delay() -> None:
    with socket.socket() as listener:
        disable_nagle(listener)
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_printed_url_is_reachable_from_a_browser() -> None:
    assert browser_url(Config()) == "http://127.0.0.1:5000/"
    assert browser_url(Config(host="0.0.0.0", port=80)) == "http://localhost:80/"
    assert browser_url(Config(host="::1")) == "http://[::1]:5000/"


@pytest.mark.integration
@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_request_head_that_never_ends_is_closed(
    start_server: StartServer, async_mode: str
) -> None:
    """Half-open requests used to hold a file descriptor each, for ever."""
    server = start_server(async_mode, HTTP_HEADER_TIMEOUT_SECONDS="1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and no blank line
        slow.settimeout(5)  # a timeout here fails the test: never closed
        try:
            while slow.recv(1024):
                pass  # an error response, then the close
        except ConnectionResetError:
            pass  # closed, the hard way
    with requests.get(f"{server.url}/healthz", timeout=5) as health:
        assert health.status_code == 200


@pytest.mark.integration
@pytest.mark.parametrize("async_mode", ASYNC_MODES)
def test_a_websocket_that_ends_has_its_connection_closed_by_the_server(
    start_server: StartServer, async_mode: str
) -> None:
    """Once the closing handshake is done, the server ends the TCP connection (RFC
    6455, 7.1.1), whatever the client does next. Werkzeug (threading) used to go on
    reading the connection for another HTTP request, holding a thread and a file
    descriptor until the client hung up, and answered the client's close frame as a
    bad request."""
    server = start_server(async_mode)
    connection, _ = open_raw(server)
    raw = connection.sock
    connection.send("41")  # leave the namespace
    connection.send("1")  # close the Engine.IO session: the server closes
    try:
        while connection.recv_data(control_frame=True)[0] != 0x8:  # a close frame
            pass
    except websocket.WebSocketConnectionClosedException:
        return  # the end of the stream, seen without a close frame (eventlet)
    connection.send_close()  # the handshake's answer; the client stays
    raw.settimeout(5)  # a timeout here fails the test: never closed
    try:
        assert raw.recv(1024) == b""
    except ConnectionResetError:
        pass  # closed, the hard way
    raw.close()
    assert "code 400" not in server.log()  # the close frame was not read as HTTP
