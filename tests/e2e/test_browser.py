"""The built client in real Chromium against the real server that serves it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from browser import ARTIFACTS, browser, watch_for_trouble  # noqa: F401
from support import RecordingClient, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

OpenPage = Callable[..., Page]


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
def open_page(browser: Browser, server: ServerProcess) -> Iterator[OpenPage]:  # noqa: F811
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


def join(page: Page, nickname: str, room: str) -> None:
    page.get_by_label("Nickname").fill(nickname)
    page.get_by_label("Room name").fill(room)
    page.get_by_label("Room name").press("Enter")
    expect(page.get_by_role("heading", name=f"#{room}")).to_be_visible()
    expect(page.get_by_role("status").first).to_have_text("Connected")


def say(page: Page, room: str, text: str) -> None:
    composer = page.get_by_label(f"Message #{room}")
    composer.fill(text)
    composer.press("Enter")


def message_log(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("log")


def test_two_people_chat_both_ways(open_page: OpenPage, server: ServerProcess) -> None:
    alice = open_page()
    bob = open_page()
    alice_trouble = watch_for_trouble(alice)
    join(alice, "alice", "e2e-chat")
    join(bob, "bob", "e2e-chat")
    expect(message_log(alice).get_by_text("bob joined")).to_be_visible()
    expect(alice.get_by_text("2 members")).to_be_visible()

    alice.get_by_label("Message #e2e-chat").press_sequentially("hel")
    expect(bob.get_by_text("alice is typing…")).to_be_visible()
    say(alice, "e2e-chat", "hello bob")
    expect(message_log(bob).get_by_text("hello bob")).to_be_visible()
    expect(bob.get_by_text("alice is typing…")).to_be_hidden()

    say(bob, "e2e-chat", "hi alice")
    expect(message_log(alice).get_by_text("hi alice")).to_be_visible()
    # The browser client announced batches: messages reached it as `messages`.
    metrics = requests.get(f"{server.url}/metrics", timeout=5).text
    assert "chat_batching_connections 2.0" in metrics
    assert "chat_batched_messages_total 2.0" in metrics
    own = message_log(alice).locator("li", has_text="hello bob")
    expect(own).to_have_class(re.compile(r"\bmessage--mine\b"))

    bob.get_by_role("button", name="Leave").click()
    expect(message_log(alice).get_by_text("bob left")).to_be_visible()
    expect(alice.get_by_text("1 member", exact=True)).to_be_visible()
    assert alice_trouble == [], "CSP violations and page errors show up here"


def test_page_is_served_under_a_strict_content_security_policy(
    open_page: OpenPage, server: ServerProcess
) -> None:
    page = open_page()
    response = page.goto(server.url + "/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    trouble = watch_for_trouble(page)
    join(page, "csp", "csp-room")
    say(page, "csp-room", "works under CSP")
    expect(message_log(page).get_by_text("works under CSP")).to_be_visible()
    assert trouble == []


@pytest.mark.parametrize(
    "server_env",
    # list_rooms (1), join (3), typing (0.2 each) and one message (3) fit under 9;
    # a second message does not.
    [
        {
            "RATE_LIMIT_THRESHOLD": "9",
            "RATE_LIMIT_MESSAGE_COST": "3",
            "RATE_LIMIT_DISCONNECT_SCORE": "1000",
        }
    ],
)
def test_rate_limit_shows_a_countdown_and_keeps_the_text(open_page: OpenPage) -> None:
    page = open_page()
    join(page, "quick", "limits")
    say(page, "limits", "first")
    expect(message_log(page).get_by_text("first", exact=True)).to_be_visible()
    say(page, "limits", "second")
    composer = page.get_by_label("Message #limits")
    countdown = page.get_by_text(re.compile(r"You can send again in \d+ s"))
    expect(countdown).to_be_visible()
    expect(composer).to_have_value("second")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    assert message_log(page).get_by_text("second", exact=True).count() == 0
    expect(countdown).to_be_hidden(timeout=30_000)
    composer.press("Enter")
    expect(message_log(page).get_by_text("second", exact=True)).to_be_visible()
    expect(composer).to_have_value("")


def test_markup_in_a_message_is_shown_literally(open_page: OpenPage) -> None:
    attack = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    sender = open_page()
    reader = open_page()
    sender_trouble = watch_for_trouble(sender)
    reader_trouble = watch_for_trouble(reader)
    join(sender, "mallory", "xss")
    join(reader, "victim", "xss")
    say(sender, "xss", attack)
    for page in (sender, reader):
        expect(message_log(page).get_by_text(attack, exact=True)).to_be_visible()
        assert message_log(page).locator("img, script").count() == 0
    reader.wait_for_timeout(500)
    assert sender_trouble == [] and reader_trouble == []


def test_deep_link_opens_the_room(open_page: OpenPage) -> None:
    known = open_page("/#/room/linked-room", nickname="carol")
    expect(known.get_by_role("heading", name="#linked-room")).to_be_visible()
    expect(known.get_by_role("complementary", name="Members")).to_contain_text("carol")

    newcomer = open_page("/#/room/linked-room")
    expect(
        newcomer.get_by_text("Pick a nickname to join #linked-room.")
    ).to_be_visible()
    expect(newcomer.get_by_label("Room name")).to_have_value("linked-room")
    newcomer.get_by_label("Nickname").fill("dave")
    newcomer.get_by_role("button", name="Join", exact=True).click()
    expect(newcomer.get_by_role("heading", name="#linked-room")).to_be_visible()
    assert newcomer.url.endswith("/#/room/linked-room")
    expect(message_log(known).get_by_text("dave joined")).to_be_visible()


def test_messages_typed_while_the_server_is_down_arrive_once(
    open_page: OpenPage, server: ServerProcess
) -> None:
    writer = open_page()
    reader = open_page()
    join(writer, "writer", "resilience")
    join(reader, "reader", "resilience")
    say(writer, "resilience", "before the outage")
    expect(message_log(reader).get_by_text("before the outage")).to_be_visible()

    server.stop()
    expect(writer.get_by_role("status").first).to_have_text("Reconnecting…")
    say(writer, "resilience", "written offline one")
    say(writer, "resilience", "written offline two")
    expect(message_log(writer).get_by_text("Sending…")).to_have_count(2)

    server.start()
    for page in (reader, writer):
        expect(page.get_by_role("status").first).to_have_text(
            "Connected", timeout=20_000
        )
    for text in ("written offline one", "written offline two"):
        expect(message_log(reader).get_by_text(text, exact=True)).to_have_count(1)
        expect(message_log(writer).get_by_text(text, exact=True)).to_have_count(1)
    expect(message_log(writer).get_by_text("Sending…")).to_have_count(0)
    reader.wait_for_timeout(1000)
    for text in ("written offline one", "written offline two"):
        expect(message_log(reader).get_by_text(text, exact=True)).to_have_count(1)


@pytest.mark.parametrize(
    ("name", "width", "height", "scheme"),
    [
        ("desktop", 1280, 800, "light"),
        ("phone", 360, 740, "light"),
        ("phone-dark", 360, 740, "dark"),
    ],
)
def test_layout_fits_the_screen(
    open_page: OpenPage, name: str, width: int, height: int, scheme: str
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = open_page(width=width, height=height, color_scheme=scheme)
    page.screenshot(path=ARTIFACTS / f"{name}-lobby.png")
    join(page, "screenshot", "layout")
    say(page, "layout", "A long line " * 30 + "https://example.com/" + "x" * 80)
    expect(message_log(page).get_by_text("A long line", exact=False)).to_be_visible()
    page.screenshot(path=ARTIFACTS / f"{name}-room.png")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0


def test_scrolled_up_reader_gets_a_new_messages_button(
    open_page: OpenPage, server: ServerProcess
) -> None:
    reader = open_page(height=600)
    join(reader, "reader", "scrolling")
    writer = RecordingClient(server.url)
    try:
        writer.call("join", {"room": "scrolling", "username": "writer"})
        for n in range(40):
            writer.call("message", {"room": "scrolling", "message": f"line {n}"})
        log = message_log(reader)
        expect(log.get_by_text("line 39", exact=True)).to_be_in_viewport()
        log.evaluate("element => { element.scrollTop = 0; }")
        expect(log.get_by_text("line 39", exact=True)).not_to_be_in_viewport()
        writer.call("message", {"room": "scrolling", "message": "line 40"})
        button = reader.get_by_role("button", name="New messages ↓")
        expect(button).to_be_visible()
        button.click()
        expect(log.get_by_text("line 40", exact=True)).to_be_in_viewport()
        expect(button).to_be_hidden()
    finally:
        writer.close()
