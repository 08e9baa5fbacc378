"""Real Chromium (Debian's package) driven by Playwright, for the end-to-end tests."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from support import REPO_ROOT

# Opens a page of the server under test in a fresh browser context (see conftest).
OpenPage = Callable[..., Page]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CLIENT_DIST = REPO_ROOT / "client" / "dist"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"


def require_browser_setup() -> None:
    """Fail under CI (a missing service is an error there), skip elsewhere."""
    problems = []
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    if not (CLIENT_DIST / "index.html").exists():
        problems.append("client/dist is not built (cd client && npm run build)")
    if not problems:
        return
    message = "; ".join(problems)
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run: {message}")
    pytest.skip(f"browser tests need: {message}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session."""
    require_browser_setup()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        chromium.close()


def watch_for_trouble(page: Page) -> list[str]:
    """Collects dialogs (dismissed), page errors and console errors of `page`."""
    trouble: list[str] = []

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        trouble.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: trouble.append(f"page error: {error}"))

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error":
            trouble.append(f"console: {message.text}")

    page.on("console", on_console)
    return trouble


def ask_to_join(page: Page, nickname: str, room: str) -> None:
    """Fill in the lobby and press Enter; the server may refuse (or ask for work)."""
    page.get_by_label("Nickname").fill(nickname)
    page.get_by_label("Room name").fill(room)
    page.get_by_label("Room name").press("Enter")


def join(page: Page, nickname: str, room: str) -> None:
    ask_to_join(page, nickname, room)
    expect(page.get_by_role("heading", name=f"#{room}")).to_be_visible()
    expect(page.locator(".room .connection")).to_have_class(
        re.compile(r"connection--connected")
    )


def say(page: Page, room: str, text: str) -> None:
    composer = page.get_by_label(f"Message #{room}")
    composer.fill(text)
    composer.press("Enter")


def message_log(page: Page) -> Locator:
    return page.get_by_role("log")
