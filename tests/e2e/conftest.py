"""Browser test fixtures: a real server serving client/dist, pages in fresh contexts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from browser import OpenPage, browser  # noqa: F401  (browser: a fixture)
from support import ServerProcess


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra environment for the server; tests about limits override it."""
    return {}


@pytest.fixture
def server(
    tmp_path_factory: pytest.TempPathFactory, server_env: dict[str, str]
) -> Iterator[ServerProcess]:
    """A real server (default eventlet mode) serving client/dist."""
    process = ServerProcess("eventlet", tmp_path_factory.mktemp("e2e"), **server_env)
    yield process.start()
    process.stop()


@pytest.fixture
def open_page(
    browser: Browser,  # noqa: F811
    server: ServerProcess,
) -> Iterator[OpenPage]:
    """Opens a page in a fresh browser context (its own storage), closed at teardown."""
    contexts: list[BrowserContext] = []

    def open_new(
        path: str = "/",
        nickname: str | None = None,
        width: int = 1280,
        height: int = 800,
        **context_options: object,
    ) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height}, **context_options
        )
        contexts.append(context)
        if nickname is not None:
            context.add_init_script(
                f"window.localStorage.setItem('chat.nickname', {nickname!r});"
            )
        page = context.new_page()
        page.goto(server.url + path)
        return page

    yield open_new
    for context in contexts:
        context.close()
