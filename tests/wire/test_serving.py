from __future__ import annotations

import socket

import pytest
import requests

from config import Config
from support import GREEN_MODES, StartServer
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
