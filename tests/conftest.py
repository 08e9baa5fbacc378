"""Shared fixtures: apps for the Flask-SocketIO test client, and real server processes.

A module that wants a real server in every async mode uses `server`; one that needs
other settings (limits, modes) starts its own with `start_server`, which stops them
all at teardown and fails the test if any wrote a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient

from app import create_app
from support import ASYNC_MODES, ServerProcess, StartServer, make_config


@pytest.fixture
def app() -> Flask:
    """A fresh app with its own room store."""
    return create_app(make_config())


@pytest.fixture
def connect(app: Flask) -> Iterator[Callable[..., SocketIOTestClient]]:
    """Opens test clients on `app`; each is disconnected at teardown."""
    clients: list[SocketIOTestClient] = []

    def open_client(**kwargs: Any) -> SocketIOTestClient:
        client = app.extensions["socketio"].test_client(app, **kwargs)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        if client.is_connected():
            client.disconnect()


def assert_no_traceback(process: ServerProcess) -> None:
    log = process.log()
    assert "Traceback" not in log, log[-5000:]


@pytest.fixture(scope="module", params=ASYNC_MODES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A real server in each async mode, limits lifted, shared by a module's tests.

    A module may set SERVER_ENV (a dict) for settings of its own.
    """
    env = getattr(request.module, "SERVER_ENV", {})
    process = ServerProcess(request.param, tmp_path_factory.mktemp("server"), **env)
    process.start()
    yield process
    process.stop()
    assert_no_traceback(process)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Starts real servers with settings of the test's own; stops them at teardown."""
    started: list[ServerProcess] = []

    def start(async_mode: str = "eventlet", **env: str) -> ServerProcess:
        process = ServerProcess(async_mode, tmp_path, **env).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
    for process in started:
        assert_no_traceback(process)
