"""A websocket's environ keeps only the request headers something still reads
(wire/request_headers.py); the chat's handlers and the websocket servers find what
they read there, in every async mode, through real servers."""

from __future__ import annotations

import sys

import pytest

from conftest import StartServer
from support import ASYNC_MODES, RecordingClient
from wire.request_headers import KEPT_HEADERS, forget_request_headers


def browser_environ() -> dict[str, object]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4&transport=websocket",
        "REMOTE_ADDR": "127.0.0.1",
        "chat.client_address": "203.0.113.7",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "chat.example",
        "HTTP_ORIGIN": "https://chat.example",
        "HTTP_X_FORWARDED_FOR": "203.0.113.7",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
        "HTTP_COOKIE": "theme=dark; " + "x" * 600,
        "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9,fr;q=0.8",
        "HTTP_SEC_CH_UA": '"Chromium";v="131", "Not_A Brand";v="24"',
        "headers_raw": (("Host", "chat.example"), ("Cookie", "theme=dark")),
        "GATEWAY_INTERFACE": "CGI/1.1",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "eventlet.posthooks": [],
    }


def test_only_the_headers_still_read_are_kept_with_every_other_key() -> None:
    environ = browser_environ()
    forget_request_headers(environ)
    assert set(environ) == {
        "REQUEST_METHOD",
        "PATH_INFO",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "chat.client_address",
        "wsgi.url_scheme",
        "HTTP_HOST",
        "HTTP_ORIGIN",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_SEC_WEBSOCKET_VERSION",
    }
    assert {key for key in environ if key.startswith("HTTP_")} <= KEPT_HEADERS


def server_environ() -> dict[str, object]:
    """What eventlet's server hands Flask-SocketIO for a websocket, 29 keys."""
    environ = browser_environ()
    environ.update(
        {
            "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "5000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_PORT": "50000",
            "CONTENT_TYPE": "",
            "RAW_PATH_INFO": "/socket.io/",
            "wsgi.input": object(),
            "wsgi.errors": object(),
            "eventlet.input": object(),
            "chat.green_pool": object(),
            "flask.app": object(),
        }
    )
    return environ


@pytest.mark.parametrize("rebuild", [False, True])
def test_rebuilt_it_keeps_its_identity_and_content_in_a_smaller_table(
    rebuild: bool,
) -> None:
    environ = server_environ()
    before = sys.getsizeof(environ)
    expected = {key: environ[key] for key in environ}
    forget_request_headers(environ)
    for key in set(expected) - set(environ):
        del expected[key]
    holder = environ  # Engine.IO, python-socketio and the websocket share it
    forget_request_headers(environ, rebuild=rebuild)
    assert holder is environ and environ == expected
    assert list(environ) == list(expected)  # the same order too
    if rebuild:
        assert sys.getsizeof(environ) < before * 0.6  # 832 -> 464 bytes here
    else:
        assert sys.getsizeof(environ) == before  # deleting never shrinks a dict


def test_anything_but_a_dict_is_left_alone() -> None:
    forget_request_headers(None)


@pytest.mark.parametrize("async_mode", ASYNC_MODES)
def test_clients_chat_with_the_headers_forgotten(
    start_server: StartServer, async_mode: str
) -> None:
    server = start_server(async_mode)
    first, second = RecordingClient(server.url), RecordingClient(server.url)
    try:
        for client, name in ((first, "first"), (second, "second")):
            assert client.call("join", {"room": "headers", "username": name})["ok"]
        ack = first.call("message", {"room": "headers", "message": "still works"})
        assert second.wait_for("message", lambda m: m["id"] == ack["id"])
        assert "Traceback" not in server.log()
    finally:
        first.close()
        second.close()
