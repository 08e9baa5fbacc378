"""The client as people use it (issue #11), in Debian's Chromium, phone and desktop,
light and dark. Screenshots of each check go to tests/artifacts/."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Page, expect

from browser import ARTIFACTS, OpenPage, join, message_log
from support import (
    REPO_ROOT,
    RecordingClient,
    ServerProcess,
    new_identity,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

SIZES = {
    "phone": {"width": 360, "height": 740, "has_touch": True, "is_mobile": True},
    "desktop": {"width": 1280, "height": 800},
}
LOOKS = [
    ("phone", "light"),
    ("phone", "dark"),
    ("desktop", "light"),
    ("desktop", "dark"),
]


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")


@pytest.fixture
def writer(server: ServerProcess) -> Iterator[RecordingClient]:
    """Someone else, on a plain socket.io client, who fills rooms with messages."""
    client = RecordingClient(server.url)
    yield client
    client.close()


def fill(writer: RecordingClient, room: str, count: int, start: int = 0) -> None:
    writer.call("join", {"room": room, "username": "writer"})
    for n in range(start, start + count):
        words = " ".join(["lorem ipsum dolor sit amet"] * (n % 4))
        writer.sio.emit("message", {"room": room, "message": f"line {n} {words}"})
    last = f"line {start + count - 1}"
    wait_until(
        lambda: any(
            (m["message"] + " ").startswith(last + " ")
            for m in writer.received("message")
        ),
        what=f"{last} stored",
    )


def page_scroll(page: Page) -> tuple[int, int, int]:
    """(scrollY, document height, viewport height): the page itself must not scroll."""
    values = page.evaluate(
        "[window.scrollY, document.documentElement.scrollHeight, window.innerHeight]"
    )
    return int(values[0]), int(values[1]), int(values[2])


def fully_visible(page: Page, selector: str) -> bool:
    """The element lies within the viewport and within the message log."""
    return bool(
        page.evaluate(
            """(selector) => {
              const element = document.querySelector(selector);
              const log = document.querySelector('.messages__scroller');
              if (!element) return false;
              const box = element.getBoundingClientRect();
              const area = log
                ? log.getBoundingClientRect() : {top: 0, bottom: innerHeight};
              return box.top >= Math.max(0, area.top) - 1
                && box.bottom <= Math.min(innerHeight, area.bottom) + 1;
            }""",
            selector,
        )
    )


def over_the_log(page: Page) -> None:
    """The pointer over the message log (wheel events scroll what is under it)."""
    box = message_log(page).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def newest_row(page: Page) -> str:
    return ".messages__scroller [data-item-index]:last-of-type"


# -- Bug 1: the composer stays on screen, the log scrolls, not the page --------


@pytest.mark.parametrize(("size", "scheme"), LOOKS)
def test_a_busy_room_keeps_the_composer_and_the_newest_message_on_screen(
    open_page: OpenPage, writer: RecordingClient, size: str, scheme: str
) -> None:
    fill(writer, "busy", 70)
    page = open_page(color_scheme=scheme, **SIZES[size])
    join(page, f"reader-{size}", "busy")
    composer = page.get_by_label("Message #busy")
    expect(message_log(page).get_by_text(re.compile(r"^line 69 "))).to_be_visible()
    assert page_scroll(page)[1] == page_scroll(page)[2], "the page grew"
    expect(composer).to_be_in_viewport(ratio=1)
    wait_until(lambda: fully_visible(page, newest_row(page)), what="newest on screen")
    # Wheel and keyboard scroll the log; the page stays put.
    over_the_log(page)
    page.mouse.wheel(0, -2000)
    expect(
        message_log(page).get_by_text(re.compile(r"^line 69 "))
    ).not_to_be_in_viewport()
    assert page_scroll(page)[0] == 0
    expect(composer).to_be_in_viewport(ratio=1)
    # The room tabs are not squashed: every tab shows its whole label.
    tabs = page.locator(".room-list__item")
    for index in range(tabs.count()):
        width = tabs.nth(index).evaluate("e => e.scrollWidth - e.clientWidth")
        assert width <= 1
    page.get_by_role("button", name="Jump to latest ↓").click()
    wait_until(lambda: fully_visible(page, newest_row(page)), what="back at the newest")
    shot(page, f"busy-room-{size}-{scheme}")


def test_the_on_screen_keyboard_leaves_the_composer_and_the_newest_in_view(
    open_page: OpenPage, writer: RecordingClient
) -> None:
    fill(writer, "keyboard", 60)
    page = open_page(**SIZES["phone"])
    join(page, "typist", "keyboard")
    page.get_by_label("Message #keyboard").click()
    page.set_viewport_size({"width": 360, "height": 420})  # the keyboard is up
    expect(page.get_by_label("Message #keyboard")).to_be_in_viewport(ratio=1)
    wait_until(lambda: fully_visible(page, newest_row(page)), what="newest on screen")
    assert page_scroll(page)[0] == 0
    shot(page, "keyboard-up-phone")


# -- Bug 2: refused joins are shown where the person acted ---------------------


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_reserved_nickname_is_refused_at_its_field(
    open_page: OpenPage, size: str
) -> None:
    page = open_page(**SIZES[size])
    page.get_by_label("Nickname").fill("Аdmin")  # Cyrillic А
    page.get_by_label("Room name").fill("lobby")
    page.get_by_label("Room name").press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("That nickname is reserved.")
    expect(page.get_by_label("Nickname")).to_be_focused()
    expect(page.get_by_label("Nickname")).to_have_value("Аdmin")
    expect(page.get_by_label("Room name")).to_have_value("lobby")
    expect(alert).to_have_count(1)
    shot(page, f"refused-nickname-{size}")


@pytest.mark.parametrize("server_env", [{"MAX_ROOMS_PER_CONNECTION": "1"}])
def test_one_room_too_many_is_refused_at_the_room_field(open_page: OpenPage) -> None:
    page = open_page()
    join(page, "collector", "first")
    page.get_by_role("button", name="+ Join a room").click()
    page.get_by_label("Room name").fill("second")
    page.get_by_label("Room name").press("Enter")
    expect(page.get_by_role("alert")).to_have_text(
        "You can be in at most 1 rooms at once."
    )
    expect(page.get_by_label("Room name")).to_be_focused()
    expect(page.get_by_label("Room name")).to_have_value("second")


@pytest.mark.parametrize(
    "server_env",
    [
        {
            "RATE_LIMIT_THRESHOLD": "5",
            "RATE_LIMIT_JOIN_COST": "3",
            "RATE_LIMIT_HALF_LIFE_SECONDS": "2",
            "RATE_LIMIT_DISCONNECT_SCORE": "1000",
        }
    ],
)
def test_a_rate_limited_join_counts_down(open_page: OpenPage) -> None:
    page = open_page()
    join(page, "hopper", "one")  # list_rooms 1 + join 3
    page.get_by_role("button", name="+ Join a room").click()
    page.get_by_label("Room name").fill("two")
    page.get_by_label("Room name").press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(re.compile(r"You can try again in \d+ s\."))
    expect(page.get_by_role("button", name="Join", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Join", exact=True)).to_be_enabled(
        timeout=30_000
    )
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.get_by_role("heading", name="#two")).to_be_visible()


# -- Bug 3: focus goes where the person's next move is -------------------------


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_focus_follows_the_next_thing_to_do(open_page: OpenPage, size: str) -> None:
    page = open_page(**SIZES[size])
    expect(page.get_by_label("Nickname")).to_be_focused()  # first visit
    page.keyboard.type("kb-user")
    page.keyboard.press("Tab")
    page.keyboard.type("keys")
    page.keyboard.press("Enter")
    composer = page.get_by_label("Message #keys")
    expect(composer).to_be_focused()
    page.keyboard.type("typed without a mouse")
    page.keyboard.press("Enter" if size == "desktop" else "Tab")
    if size == "phone":
        page.keyboard.press("Enter")  # Send, the next control
    expect(message_log(page).get_by_text("typed without a mouse")).to_be_visible()
    if size == "phone":
        page.get_by_role("button", name="Room actions").click()
        page.get_by_role("menuitem", name="Leave room").click()
    else:
        page.get_by_role("button", name="Leave").click()
    expect(page.get_by_label("Room name")).to_be_focused()


def test_a_returning_visitor_starts_at_the_room_field(open_page: OpenPage) -> None:
    page = open_page(nickname="regular")
    expect(page.get_by_label("Room name")).to_be_focused()


def test_escape_closes_the_members_drawer_on_a_phone(open_page: OpenPage) -> None:
    page = open_page(**SIZES["phone"])
    join(page, "drawer", "drawer-room")
    count = page.get_by_role("button", name="1 person")
    count.click()
    drawer = page.get_by_role("complementary", name="Members")
    expect(drawer).to_be_visible()
    expect(page.get_by_role("button", name="Close")).to_be_focused()
    shot(page, "members-drawer-phone")
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(count).to_be_focused()


# -- Bug 4: long rooms load earlier messages by themselves ---------------------


@pytest.mark.parametrize("server_env", [{"HISTORY_SIZE": "1000"}])
def test_scrolling_up_loads_earlier_messages_by_itself(
    open_page: OpenPage, writer: RecordingClient
) -> None:
    fill(writer, "long", 350)
    page = open_page()
    join(page, "scroller", "long")
    log = message_log(page)
    expect(log.get_by_text(re.compile(r"^line 349 "))).to_be_visible()
    rendered = page.locator(".row--message").count()
    assert rendered < 80, f"{rendered} rows rendered: the list is not virtualized"
    first_line = log.get_by_text(re.compile(r"^line 0$"))
    for _ in range(80):
        if first_line.count():
            break
        over_the_log(page)
        page.mouse.wheel(0, -6000)
        page.wait_for_timeout(100)
    expect(first_line).to_be_visible()
    expect(log.get_by_text("This is the start of #long.")).to_be_in_viewport()


# -- Bug 5: a server restart is not everyone leaving ---------------------------


def test_a_server_restart_shows_reconnecting_not_people_leaving(
    open_page: OpenPage, server: ServerProcess
) -> None:
    alice, bob = open_page(), open_page()
    join(alice, "alice", "restart")
    join(bob, "bob", "restart")
    expect(message_log(alice).get_by_text("bob joined")).to_be_visible()
    server.stop()
    expect(alice.locator(".room .connection")).to_have_text("Reconnecting…")
    server.start()
    for page in (alice, bob):
        expect(page.locator(".room .connection")).to_have_class(
            re.compile("connection--connected"), timeout=20_000
        )
    expect(alice.get_by_role("button", name="2 people")).to_be_visible()
    alice.wait_for_timeout(1500)
    lines = message_log(alice).locator(".row--system").all_inner_texts()
    assert not any("left" in line or "lost" in line for line in lines), lines
    assert sum("bob joined" in line for line in lines) == 1, lines


# -- Bug 6: the first load -----------------------------------------------------


@pytest.mark.parametrize("server_env", [{"ACCESS_LOG": "true"}])
def test_the_bundle_arrives_precompressed_and_cached_and_the_icon_once(
    open_page: OpenPage, server: ServerProcess
) -> None:
    page = open_page()
    join(page, "loader", "load")
    page.get_by_role("button", name="+ Join a room").click()  # the URL changes
    join(page, "loader", "load-two")
    page.get_by_role("button", name=re.compile("#load$")).click()
    page.reload()
    page.wait_for_load_state("networkidle")
    # What reached the server (the browser also reports cache hits as requests).
    icon_hits = [line for line in server.log().splitlines() if "favicon" in line]
    assert len(icon_hits) == 1, icon_hits
    script = page.locator("script[type=module]").get_attribute("src")
    assert script is not None
    for encoding in ("br", "gzip"):
        response = requests.get(
            server.url + script, headers={"Accept-Encoding": encoding}, timeout=5
        )
        assert response.headers["Content-Encoding"] == encoding
        assert response.headers["Vary"] == "Accept-Encoding"
        assert (
            response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        )
    index = requests.get(server.url + "/", timeout=5)
    assert index.headers["Cache-Control"] == "no-cache"
    assert requests.get(server.url + "/favicon.ico", timeout=5).status_code == 404


# -- Bug 7: the smaller ones ---------------------------------------------------


def test_right_to_left_text_the_growing_composer_and_rooms_after_a_reload(
    open_page: OpenPage, writer: RecordingClient
) -> None:
    page = open_page()
    join(page, "rtl-reader", "rtl")
    page.get_by_role("button", name="+ Join a room").click()
    page.get_by_label("Room name").fill("second-room")
    page.get_by_label("Room name").press("Enter")
    expect(page.get_by_role("heading", name="#second-room")).to_be_visible()
    page.get_by_role("button", name=re.compile("#rtl")).click()
    writer.call("join", {"room": "rtl", "username": "כותב"})
    writer.call("message", {"room": "rtl", "message": "שלום עולם"})
    text = message_log(page).locator(".row__text", has_text="שלום עולם")
    expect(text).to_have_attribute("dir", "auto")
    expect(
        message_log(page).locator(".author__name", has_text="כותב")
    ).to_have_attribute("dir", "auto")
    composer = page.get_by_label("Message #rtl")
    one_line = composer.bounding_box()["height"]  # type: ignore[index]
    composer.fill("one\ntwo\nthree\nfour")
    taller = composer.bounding_box()["height"]  # type: ignore[index]
    assert taller > one_line * 2
    composer.fill("\n".join(str(n) for n in range(40)))
    assert composer.bounding_box()["height"] <= 161  # type: ignore[index]
    page.reload()
    rooms = page.get_by_role("navigation", name="Your rooms")
    expect(rooms.get_by_role("button", name=re.compile("#rtl"))).to_be_visible()
    expect(rooms.get_by_role("button", name=re.compile("#second-room"))).to_be_visible()


def test_each_message_is_announced_once(
    open_page: OpenPage, writer: RecordingClient
) -> None:
    page = open_page()
    join(page, "listener", "announce")
    live = page.locator('[aria-live="polite"]')
    expect(live).to_have_count(1)
    expect(message_log(page)).to_have_attribute("aria-live", "off")
    writer.call("join", {"room": "announce", "username": "speaker"})
    writer.call("message", {"room": "announce", "message": "hear me once"})
    expect(live).to_have_text("speaker in announce: hear me once")


def test_on_a_touch_screen_enter_makes_a_new_line_and_send_sends(
    open_page: OpenPage,
) -> None:
    page = open_page(**SIZES["phone"])
    join(page, "thumb", "touch")
    composer = page.get_by_label("Message #touch")
    composer.type("two")
    composer.press("Enter")
    composer.type("lines")
    expect(composer).to_have_value("two\nlines")
    page.get_by_role("button", name="Send").tap()
    expect(message_log(page).get_by_text("two\nlines")).to_be_visible()
    expect(page.locator(".room__header")).to_have_count(1)
    header = page.locator(".room__header").bounding_box()
    assert header is not None and header["height"] < 50, "the phone header is one line"


# -- Reading a busy room -------------------------------------------------------


def go_elsewhere(page: Page) -> None:
    """Join another room, #elsewhere, which takes the view."""
    page.get_by_role("button", name="+ Join a room").click()
    page.get_by_label("Room name").fill("elsewhere")
    page.get_by_label("Room name").press("Enter")
    expect(page.get_by_role("heading", name="#elsewhere")).to_be_visible()


def test_an_unread_divider_marks_where_you_left_and_you_can_jump_to_it(
    open_page: OpenPage, writer: RecordingClient
) -> None:
    fill(writer, "news", 20)
    page = open_page(height=600)
    # A slow phone's CPU: the list is still measuring its rows when it opens, the race
    # that used to leave it at the bottom instead of at the first unread.
    page.context.new_cdp_session(page).send(
        "Emulation.setCPUThrottlingRate", {"rate": 6}
    )
    join(page, "absent", "news")
    go_elsewhere(page)
    fill(writer, "news", 60, start=20)
    rooms = page.get_by_role("navigation", name="Your rooms")
    # The page's CPU is throttled 6x: on a shared machine under the whole suite it
    # once counted only 6 of the 60 within the default 5 s (all were stored).
    expect(rooms.get_by_label("60 unread")).to_be_visible(timeout=20_000)
    rooms.get_by_role("button", name=re.compile("#news")).click()
    divider = page.get_by_test_id("unread-divider")
    expect(divider).to_be_in_viewport()
    expect(message_log(page).get_by_text(re.compile(r"^line 20$"))).to_be_visible()
    page.get_by_role("button", name="Jump to latest ↓").click()
    expect(message_log(page).get_by_text(re.compile(r"^line 79 "))).to_be_in_viewport()
    expect(divider).not_to_be_in_viewport()
    page.get_by_role("button", name="↑ Jump to first unread").click()
    expect(divider).to_be_in_viewport()
    # Reading back: a new message does not pull the view down.
    writer.call("message", {"room": "news", "message": "while you read"})
    page.wait_for_timeout(500)
    expect(divider).to_be_in_viewport()
    shot(page, "unread-divider-desktop")


def drag_the_scrollbar(page: Page, by: int) -> None:
    """A press on the log's scrollbar, a drag of `by` pixels in ten moves, a release:
    what a mouse on the scrollbar does (headless Chromium draws none to aim at)."""
    page.evaluate(
        """async (by) => {
          const log = document.querySelector('.messages__scroller');
          const moved = () => new Promise((done) => setTimeout(done, 60));
          log.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true}));
          for (let step = 0; step < 10; step++) {
            log.scrollTop += by / 10;
            await moved();
          }
          window.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
          await moved();
        }""",
        by,
    )


def top_row(page: Page) -> str:
    """The seq of the first message row whose bottom is inside the log."""
    return str(
        page.evaluate(
            """() => {
              const log = document.querySelector('.messages__scroller');
              const top = log.getBoundingClientRect().top;
              const rows = [...log.querySelectorAll('[data-seq]')];
              return rows.find((row) => row.getBoundingClientRect().bottom > top + 1)
                .dataset.seq;
            }"""
        )
    )


def log_scroll_top(page: Page) -> int:
    return int(page.evaluate("document.querySelector('.messages__scroller').scrollTop"))


def test_dragging_the_scrollbar_reads_back_and_the_place_is_kept(
    open_page: OpenPage, writer: RecordingClient
) -> None:
    fill(writer, "dragged", 70)
    page = open_page()
    join(page, "dragger", "dragged")
    log = message_log(page)
    wait_until(lambda: fully_visible(page, newest_row(page)), what="newest on screen")
    # A press that leaves the list at the bottom: the newest still follows.
    drag_the_scrollbar(page, 0)
    writer.call("message", {"room": "dragged", "message": "still following"})
    expect(log.get_by_text("still following")).to_be_in_viewport()
    # Dragged up: a new message does not pull the view down.
    drag_the_scrollbar(page, -1500)
    expect(page.get_by_role("button", name="Jump to latest ↓")).to_be_visible()
    before = log_scroll_top(page)
    writer.call("message", {"room": "dragged", "message": "while you read"})
    page.wait_for_timeout(500)
    assert abs(log_scroll_top(page) - before) <= 2
    # Elsewhere and back: the same row at the top, not the bottom nor a screen above,
    # also on a device so slow that no row is drawn for the list's first checks.
    reading = top_row(page)
    go_elsewhere(page)
    cpu = page.context.new_cdp_session(page)
    cpu.send("Emulation.setCPUThrottlingRate", {"rate": 40})
    page.get_by_role("navigation", name="Your rooms").get_by_role(
        "button", name=re.compile("#dragged")
    ).click()
    expect(log.locator(f'[data-seq="{reading}"]')).to_be_in_viewport(timeout=20_000)
    wait_until(
        lambda: top_row(page) == reading, timeout=20, what=f"row {reading} at the top"
    )
    cpu.send("Emulation.setCPUThrottlingRate", {"rate": 1})
    expect(log.get_by_text("while you read")).not_to_be_in_viewport()


def test_days_times_and_names_read_well(
    open_page: OpenPage, writer: RecordingClient
) -> None:
    page = open_page()
    join(page, "looker", "days")
    writer.call("join", {"room": "days", "username": "someone"})
    writer.call("message", {"room": "days", "message": "a dated line"})
    log = message_log(page)
    expect(log.locator(".row--date")).to_have_text("Today")
    expect(
        log.locator(".row--system", has_text="someone joined").locator("time")
    ).to_be_visible()
    stamp = log.locator(".row--message .timestamp").first
    full = stamp.get_attribute("title")
    assert full and re.search(r"\d{4}", full), full
    stamp.click()
    expect(stamp).to_have_text(full)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_name_colours_read_at_four_and_a_half_to_one(
    open_page: OpenPage, server: ServerProcess, scheme: str
) -> None:
    page = open_page(color_scheme=scheme)
    join(page, "palette", "colours")
    names = [f"person{n}" for n in range(12)]
    talkers = [RecordingClient(server.url) for _ in names]
    for name, talker in zip(names, talkers, strict=True):
        talker.call("join", {"room": "colours", "username": name})
        talker.call("message", {"room": "colours", "message": f"hi from {name}"})
    expect(message_log(page).get_by_text("hi from person11")).to_be_visible()
    ratios = page.evaluate(
        """() => {
          const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
          const lum = ([r, g, b]) => [r, g, b].map((c) => {
            c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
          }).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
          const background = (element) => {
            for (let node = element; node; node = node.parentElement) {
              const color = getComputedStyle(node).backgroundColor;
              if (!/rgba\\(0, 0, 0, 0\\)|transparent/.test(color)) return color;
            }
            return getComputedStyle(document.body).backgroundColor;
          };
          return [...document.querySelectorAll('.author')].map((author) => {
            const a = lum(rgb(getComputedStyle(author).color));
            const b = lum(rgb(background(author)));
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
          });
        }"""
    )
    for talker in talkers:
        talker.close()
    assert len(ratios) >= len(names)  # the members panel lists them all
    assert min(ratios) >= 4.5, ratios
    shot(page, f"name-colours-{scheme}")


# -- The product face, and the README's screenshots ----------------------------


def test_the_lobby_says_what_this_is_and_never_shows_a_blank_list(
    open_page: OpenPage,
) -> None:
    page = open_page()
    expect(page.get_by_role("heading", name="Welcome to Murmur")).to_be_visible()
    expect(page.get_by_text("Chat rooms for a quick conversation")).to_be_visible()
    expect(
        page.get_by_text(re.compile("No listed room has people in it right now"))
    ).to_be_visible()
    expect(page.get_by_text("You are not in any room yet.")).to_be_visible()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_for_the_readme(
    open_page: OpenPage, server: ServerProcess, size: str
) -> None:
    """Takes the README's screenshot-<size>.png of a realistic room: into
    tests/artifacts, and into docs/ (committed) when UPDATE_SCREENSHOTS=1, so that
    a test run leaves the working tree clean (the clock and badges differ each run)."""
    lines = [
        ("maya", "anyone tried the new build on a phone yet?"),
        ("jonas", "yes, works on my pixel. the composer stays put now"),
        ("maya", "nice. the unread line is handy too"),
        ("priya", "is there a way to share a room?"),
        ("jonas", "copy link in the room menu, or just tell people the name"),
    ]
    # People with identities, as the web client makes them (no "unverified").
    talkers = {
        name: RecordingClient(server.url, auth={"identity": new_identity()})
        for name, _ in lines
    }
    try:
        for name, client in talkers.items():
            client.call("join", {"room": "product", "username": name})
        page = open_page(color_scheme="light", **SIZES[size])
        join(page, "sam", "product")
        for name, text in lines:
            talkers[name].call("message", {"room": "product", "message": text})
        expect(message_log(page).get_by_text(lines[-1][1])).to_be_visible()
        page.get_by_label("Message #product").fill("see you there")
        page.wait_for_timeout(300)
        name = f"screenshot-{size}.png"
        page.screenshot(path=ARTIFACTS / name)
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(ARTIFACTS / name, REPO_ROOT / "docs" / name)
    finally:
        for client in talkers.values():
            client.close()
