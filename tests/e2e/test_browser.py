"""The built client in real Chromium against the real server that serves it."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from browser import OpenPage, join, message_log, say, watch_for_trouble
from support import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


def test_two_people_chat_both_ways(open_page: OpenPage, server: ServerProcess) -> None:
    alice = open_page()
    bob = open_page()
    alice_trouble = watch_for_trouble(alice)
    join(alice, "alice", "e2e-chat")
    join(bob, "bob", "e2e-chat")
    expect(message_log(alice).get_by_text("bob joined")).to_be_visible()
    expect(alice.get_by_role("button", name="2 people")).to_be_visible()

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
    own = message_log(alice).locator(".row", has_text="hello bob")
    expect(own).to_have_class(re.compile(r"\brow--mine\b"))

    bob.get_by_role("button", name="Leave").click()
    expect(message_log(alice).get_by_text("bob left")).to_be_visible()
    expect(alice.get_by_role("button", name="1 person")).to_be_visible()
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
def test_rate_limited_lines_wait_in_order_and_go_out_by_themselves(
    open_page: OpenPage,
) -> None:
    """Enter never swallows a line while limited, and nothing merges into the draft."""
    page = open_page()
    join(page, "quick", "limits")
    say(page, "limits", "first")
    expect(message_log(page).get_by_text("first", exact=True)).to_be_visible()
    for text in ("second", "third", "fourth"):
        say(page, "limits", text)
    composer = page.get_by_label("Message #limits")
    expect(
        page.get_by_text(re.compile(r"Your messages go out in \d+ s"))
    ).to_be_visible()
    expect(composer).to_have_value("")
    waiting = message_log(page).get_by_text("Waiting: you're sending too fast")
    expect(waiting).to_have_count(3)
    expect(waiting).to_have_count(0, timeout=60_000)
    rows = message_log(page).locator(".row--message .row__text")
    expect(rows).to_have_text(["first", "second", "third", "fourth"], timeout=60_000)


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
    expect(newcomer.get_by_role("heading", name="Join #linked-room")).to_be_visible()
    expect(newcomer.get_by_label("Room name")).to_have_value("linked-room")
    expect(newcomer.get_by_label("Nickname")).to_be_focused()
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
    expect(writer.locator(".room .connection")).to_have_text("Reconnecting…")
    say(writer, "resilience", "written offline one")
    say(writer, "resilience", "written offline two")
    expect(message_log(writer).get_by_text("Sending…")).to_have_count(2)

    server.start()
    for page in (reader, writer):
        expect(page.locator(".room .connection")).to_have_class(
            re.compile("connection--connected"), timeout=20_000
        )
    for text in ("written offline one", "written offline two"):
        expect(message_log(reader).get_by_text(text, exact=True)).to_have_count(1)
        expect(message_log(writer).get_by_text(text, exact=True)).to_have_count(1)
    expect(message_log(writer).get_by_text("Sending…")).to_have_count(0)
    reader.wait_for_timeout(1000)
    for text in ("written offline one", "written offline two"):
        expect(message_log(reader).get_by_text(text, exact=True)).to_have_count(1)
