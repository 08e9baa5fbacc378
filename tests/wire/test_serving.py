from __future__ import annotations

import socket

from config import Config
from wire.serving import browser_url, disable_nagle


def test_listener_sends_small_frames_without_delay() -> None:
    with socket.socket() as listener:
        disable_nagle(listener)
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_printed_url_is_reachable_from_a_browser() -> None:
    assert browser_url(Config()) == "http://127.0.0.1:5000/"
    assert browser_url(Config(host="0.0.0.0", port=80)) == "http://localhost:80/"
    assert browser_url(Config(host="::1")) == "http://[::1]:5000/"
