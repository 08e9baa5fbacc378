"""Identity in the browser (issue #13), in Debian's Chromium: names nobody else can
take, a name that survives a reload, `name#password` making the same trip in two
browser profiles without the password leaving the page, and export/import."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from playwright.sync_api import Page, expect

from browser import ARTIFACTS, OpenPage, join, message_log, say
from chat.identity import trip_of
from support import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

TRIP_SECRET = "integration-test-trip-secret"  # tests/support.py's ServerProcess
PASSWORD_SALT = b"murmur/identity/v1"  # client/src/chat/identity.ts


def trip_for_password(password: str) -> str:
    """What the client's PBKDF2 and the server's HMAC make of a password, in Python."""
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), PASSWORD_SALT, 600_000, 32)
    return trip_of(key, TRIP_SECRET)


def record_frames(page: Page) -> list[str]:
    """Every websocket frame the page sends."""
    frames: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framesent", lambda payload: frames.append(str(payload))),
    )
    return frames


def my_trip(page: Page) -> str:
    """The trip the lobby's "Your identity" shows."""
    if page.get_by_role("heading", name="Welcome to Murmur").count() == 0:
        page.get_by_role("button", name="+ Join a room").click()
    panel = page.locator("details.identity")
    if panel.get_attribute("open") is None:
        page.locator("summary.identity__summary").click()
    badge = panel.locator(".identity__summary .identity__trip")
    expect(badge).to_be_visible()
    text = badge.inner_text()
    assert text.startswith("!") and len(text) == 11, text
    return text[1:]


def test_a_taken_name_is_refused_at_the_field_with_a_suggestion(
    open_page: OpenPage,
) -> None:
    first = open_page()
    join(first, "alice", "names")
    second = open_page(width=360, height=740, has_touch=True, is_mobile=True)
    second.get_by_label("Nickname").fill("Alice")
    second.get_by_label("Room name").fill("names")
    second.get_by_label("Room name").press("Enter")
    alert = second.get_by_role("alert")
    expect(alert).to_contain_text("already called Alice")
    expect(second.get_by_label("Nickname")).to_be_focused()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    second.screenshot(path=ARTIFACTS / "nickname-taken-phone.png")
    alert.get_by_role("button", name="Use Alice2").click()
    expect(second.get_by_label("Nickname")).to_have_value("Alice2")
    second.get_by_role("button", name="Join", exact=True).click()
    expect(second.get_by_role("heading", name="#names")).to_be_visible()
    members = first.get_by_role("complementary", name="Members")
    expect(members.get_by_role("button", name=re.compile("^Alice2 !"))).to_be_visible()
    expect(members.locator(".members__item")).to_have_count(2)


def test_a_reload_keeps_the_name_and_the_room_hears_no_new_person(
    open_page: OpenPage,
) -> None:
    watcher = open_page()
    join(watcher, "watcher", "reloads")
    page = open_page()
    join(page, "bea", "reloads")
    say(page, "reloads", "before the reload")
    page.reload()
    expect(page.get_by_role("heading", name="#reloads")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    say(page, "reloads", "after the reload")
    log = message_log(watcher)
    expect(log.get_by_text("after the reload")).to_be_visible()
    expect(log.locator(".row--system", has_text="bea joined")).to_have_count(1)
    expect(log.locator(".tag--new-identity")).to_have_count(0)
    members = watcher.get_by_role("complementary", name="Members")
    expect(members.locator(".members__item")).to_have_count(2)


def test_name_and_password_give_the_same_trip_in_two_profiles(
    open_page: OpenPage,
) -> None:
    expected = trip_for_password("secret")
    pages = [open_page(), open_page(width=360, height=740, is_mobile=True)]
    frames = [record_frames(page) for page in pages]
    for page, nickname, room in zip(
        pages, ["alice#secret", "al#secret"], ["trips-one", "trips-two"], strict=True
    ):
        page.get_by_label("Nickname").fill(nickname)
        page.get_by_label("Room name").fill(room)
        page.get_by_label("Room name").press("Enter")
        expect(page.get_by_role("heading", name=f"#{room}")).to_be_visible(
            timeout=20_000
        )
        say(page, room, "hello from a password")
        expect(message_log(page).get_by_text("hello from a password")).to_be_visible()
    assert [my_trip(page) for page in pages] == [expected, expected]
    sent = "\n".join(frames[0] + frames[1])
    assert frames[0] and frames[1]
    assert "secret" not in sent
    for page in pages:
        stored = page.evaluate("() => JSON.stringify({...localStorage})")
        assert "secret" not in stored


def test_an_exported_identity_imported_elsewhere_is_the_same_person(
    open_page: OpenPage, server: ServerProcess
) -> None:
    home = open_page()
    home_trip = my_trip(home)
    home.get_by_role("button", name="Export").click()
    exported = home.get_by_label("Paste this into “Import” in your other browser:")
    text = exported.input_value()
    assert text.startswith("murmur-identity-v1:")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    home.screenshot(path=ARTIFACTS / "identity-export-desktop.png")

    away = open_page(width=360, height=740, has_touch=True, is_mobile=True)
    urls: list[str] = []
    away.on("request", lambda request: urls.append(request.url))
    assert my_trip(away) != home_trip
    away.get_by_role("button", name="Import").click()
    away.get_by_label("Paste an exported identity:").fill(text)
    away.get_by_role("button", name="Use this identity").click()
    expect(away.locator(".identity__summary .identity__trip")).to_have_text(
        f"!{home_trip}"
    )
    away.screenshot(path=ARTIFACTS / "identity-import-phone.png")
    # Both are one person: in one room, they are listed once, under one name.
    join(home, "carol", "together")
    join(away, "someone-else", "together")
    members = home.get_by_role("complementary", name="Members")
    expect(members.locator(".members__item")).to_have_count(1)
    expect(away.locator("#members-panel")).to_contain_text("carol")  # a closed drawer
    encoded = text.split(":", 1)[1]
    assert trip_of(base64.urlsafe_b64decode(encoded + "="), TRIP_SECRET) == home_trip
    # The key travels in the socket's connect packet, never in a URL.
    assert urls and not any(encoded in url for url in urls)
    assert encoded not in server.log()
