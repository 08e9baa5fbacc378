"""Shared fixtures: an app built for tests, and Flask-SocketIO test clients for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient

from app import create_app
from config import Config


def make_config(**overrides: Any) -> Config:
    """Defaults, in threading mode: in-process tests never monkey-patch."""
    return dataclasses.replace(
        Config(), async_mode="threading", secret_key="test-secret", **overrides
    )


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
