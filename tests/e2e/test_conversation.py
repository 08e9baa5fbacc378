"""The conversation in the browser (issue #15), in Debian's Chromium, at phone and
desktop sizes: replies that quote and jump, reactions, ↑ to edit, delete, /me,
whispers seen by their two people only, mentions that stand out, commands."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from browser import OpenPage, join, message_log, say, watch_for_trouble
from support import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

SIZES = {"desktop": (1280, 800), "phone": (360, 740)}


def row(page: Page, text: str) -> Locator:
    """The newest message whose own text (not a quote of it) has `text`."""
    own_text = page.locator(".row__text", has_text=text)
    return message_log(page).locator(".row--message", has=own_text).last


def act_on(page: Page, text: str, action: str) -> None:
    """Show a message's actions the way a keyboard user does (focus), and choose one."""
    target = row(page, text)
    target.locator(".timestamp").first.focus()
    target.get_by_role("button", name=action, exact=True).click()


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_reply_react_edit_and_delete(open_page: OpenPage, size: str) -> None:
    width, height = SIZES[size]
    alice = open_page(width=width, height=height)
    bob = open_page()
    join(alice, "alice", "talk")
    join(bob, "bob", "talk")
    for n in range(60):  # a busy room: the original is far above
        say(bob, "talk", f"filler {n}")
    say(alice, "talk", "shall we have lunch?")
    expect(row(bob, "shall we have lunch?")).to_be_visible()
    for n in range(60, 75):
        say(bob, "talk", f"filler {n}")

    # Bob replies; both see the quote, and Alice's click on it shows the original.
    act_on(bob, "shall we have lunch?", "Reply")
    expect(bob.get_by_text("Replying to alice")).to_be_visible()
    say(bob, "talk", "yes, at noon")
    reply = row(alice, "yes, at noon")
    expect(reply.locator(".reply-quote")).to_contain_text("shall we have lunch?")
    reply.locator(".reply-quote").click()
    expect(row(alice, "shall we have lunch?")).to_be_in_viewport()

    # Alice reacts; Bob sees the count, and his own vote makes it two.
    act_on(alice, "yes, at noon", "React")
    row(alice, "yes, at noon").get_by_role("button", name="React with 🎉").click()
    chip = row(bob, "yes, at noon").locator(".reaction")
    expect(chip).to_have_text("🎉 1")
    chip.click()
    expect(row(alice, "yes, at noon").locator(".reaction")).to_have_text("🎉 2")
    expect(chip).to_have_attribute("aria-pressed", "true")

    # ↑ in an empty composer edits Alice's last message; Escape would cancel.
    composer = alice.get_by_label("Message #talk")
    composer.focus()
    composer.press("ArrowUp")
    expect(composer).to_have_value("shall we have lunch?")
    composer.fill("shall we have lunch at noon?")
    composer.press("Enter")
    edited = row(bob, "shall we have lunch at noon?")
    expect(edited.locator(".row__edited")).to_have_text("(edited)")
    expect(row(bob, "yes, at noon").locator(".reply-quote")).to_contain_text(
        "shall we have lunch?"
    )

    # Bob deletes his reply: a tombstone for both, the text gone.
    act_on(bob, "yes, at noon", "Delete")
    row(bob, "yes, at noon").get_by_role("button", name="Delete for everyone").click()
    expect(message_log(alice).get_by_text("yes, at noon")).to_have_count(0)
    expect(message_log(alice).get_by_text("Message deleted")).to_have_count(1)
    # The page never scrolls, whatever the menus did.
    assert alice.evaluate("document.scrollingElement.scrollTop") == 0


def test_whispers_reach_only_their_two_people(open_page: OpenPage) -> None:
    alice, bob = open_page(), open_page(width=360, height=740)
    carol = open_page()
    for page, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        join(page, name, "quiet")
    say(alice, "quiet", "/w bob meet me at the back")
    for page in (alice, bob):
        whisper = page.get_by_test_id("whisper")
        expect(whisper).to_contain_text("meet me at the back")
        expect(whisper).to_contain_text("alice → bob")
    say(alice, "quiet", "hello everyone")
    expect(row(carol, "hello everyone")).to_be_visible()
    expect(carol.get_by_test_id("whisper")).to_have_count(0)
    expect(carol.get_by_text("meet me at the back")).to_have_count(0)
    say(alice, "quiet", "/w dave hi")
    expect(alice.get_by_role("alert")).to_contain_text("Nobody here is called dave")


def test_me_mentions_and_commands(open_page: OpenPage) -> None:
    alice, bob = open_page(), open_page(color_scheme="dark")
    join(alice, "alice", "lounge")
    join(bob, "bob", "lounge")
    composer = alice.get_by_label("Message #lounge")
    composer.fill("/me waves")
    composer.press("Enter")
    expect(message_log(bob).locator(".row__me")).to_have_text("alice waves")
    # Tab completes a member's name after @.
    composer.fill("thanks @bo")
    composer.press("Tab")
    expect(composer).to_have_value("thanks @bob ")
    composer.press("Enter")
    # Typing `@` offers the names here; a click completes one.
    composer.fill("and @")
    composer.press("End")
    alice.locator(".composer__names").get_by_role("button", name="@bob").click()
    expect(composer).to_have_value("and @bob ")
    composer.fill("")
    mentioned = row(bob, "thanks @bob")
    expect(mentioned).to_have_class(re.compile("row--mention"))
    expect(mentioned.locator(".mention--me")).to_have_text("@bob")
    expect(row(alice, "thanks @bob")).not_to_have_class(re.compile("row--mention"))
    composer.fill("/w")
    expect(alice.locator(".composer__hints")).to_contain_text("whisper to one person")
    composer.fill("/help")
    composer.press("Enter")
    expect(alice.locator(".commands")).to_contain_text("/w name text")
    composer.fill("/dance")
    composer.press("Enter")
    expect(alice.get_by_role("alert")).to_contain_text("There is no /dance command")
    composer.fill("//dance is not a command")
    composer.press("Enter")
    expect(row(bob, "/dance is not a command")).to_be_visible()
    composer.fill("/join other-room")
    composer.press("Enter")
    expect(alice.get_by_role("heading", name="#other-room")).to_be_visible()


MARKDOWN_ATTACKS = [
    "[click me](javascript:alert(1))",
    "[click me](JAVASCRIPT:alert(1))",
    "[click me](&#x6A;avascript:alert(1))",
    "[click me](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href='javascript:alert(1)'>click me</a>",
    "**<img src=x onerror=alert(1)>**",
    "`<script>alert(1)</script>`",
    "```\n<svg onload=alert(1)>\n```",
    "> <iframe src=javascript:alert(1)>",
    "*" * 500 + "bomb" + "_" * 500,
]


def test_markdown_renders_and_never_runs_anything(open_page: OpenPage) -> None:
    sender, reader = open_page(), open_page(width=360, height=740)
    trouble = [watch_for_trouble(page) for page in (sender, reader)]
    join(sender, "mallory", "md")
    join(reader, "victim", "md")
    say(sender, "md", "**bold** and `code` and [docs](https://example.com/docs)")
    for attack in MARKDOWN_ATTACKS:
        composer = sender.get_by_label("Message #md")
        composer.fill(attack)
        composer.press("Enter")
    say(sender, "md", "the end")
    expect(row(reader, "the end")).to_be_visible()
    log = message_log(reader)
    expect(log.locator("strong", has_text="bold")).to_have_count(1)
    expect(log.locator("code", has_text="code")).to_have_count(1)
    expect(log.locator("a", has_text="docs")).to_have_attribute(
        "href", "https://example.com/docs"
    )
    for page in (sender, reader):
        log = message_log(page)
        assert log.locator("img, script, iframe, svg").count() == 0
        hrefs = log.locator("a").evaluate_all("links => links.map(a => a.href)")
        assert all(href.startswith("https://") for href in hrefs), hrefs
    expect(log.locator(".md-code pre")).to_contain_text("<svg onload=alert(1)>")
    reader.wait_for_timeout(500)
    assert trouble == [[], []]


RECORD_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class extends EventTarget {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) {
    super();
    window.__notifications.push({ title, body: options && options.body });
  }
  close() {}
};
"""


def notifications(page: Page) -> list[dict[str, str]]:
    return list(page.evaluate("window.__notifications"))


def wait_for_notifications(page: Page, count: int) -> None:
    """Polled from here: the page's CSP forbids the eval that wait_for_function's
    own polling uses once its first check comes back false."""
    wait_until(lambda: len(notifications(page)) >= count, what=f"{count} notifications")


def hide(page: Page) -> None:
    page.evaluate(
        "Object.defineProperty(document, 'visibilityState', {value: 'hidden', "
        "configurable: true}); document.dispatchEvent(new Event('visibilitychange'))"
    )


def test_a_mention_notifies_and_counts_in_the_title_and_icon(
    open_page: OpenPage,
) -> None:
    alice = open_page()
    bob = open_page(width=360, height=740)
    bob.context.grant_permissions(["notifications"])
    # Headless Chromium shows no notifications: the page's constructor is recorded.
    bob.context.add_init_script(RECORD_NOTIFICATIONS)
    bob.reload()
    join(alice, "alice", "ping")
    join(bob, "bob", "ping")
    say(alice, "ping", "nobody is mentioned here")
    expect(row(bob, "nobody is mentioned")).to_be_visible()
    hide(bob)
    say(alice, "ping", "just chatting")
    say(alice, "ping", "@bob are you there?")
    expect(bob).to_have_title("(2 · @1) #ping · Murmur")
    icon = bob.locator("link[rel='icon']")
    expect(icon).to_have_attribute("href", re.compile(r"^data:image/png;base64,"))
    wait_for_notifications(bob, 1)
    assert notifications(bob) == [
        {"title": "alice in #ping", "body": "alice: @bob are you there?"}
    ]
    # "Every message" for this room: the next one notifies too, mention or not.
    bob.get_by_role("button", name=re.compile("people")).click()
    bob.get_by_label("Every message").check()
    say(alice, "ping", "lunch?")
    wait_for_notifications(bob, 2)
    assert notifications(bob)[-1]["body"] == "alice: lunch?"
    bob.get_by_label("Nothing").check()
    say(alice, "ping", "@bob last call")
    expect(bob).to_have_title("(4 · @2) #ping · Murmur")
    assert len(notifications(bob)) == 2


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_the_mentions_view_lists_mentions_and_opens_each(
    open_page: OpenPage, size: str
) -> None:
    width, height = SIZES[size]
    alice, bob = open_page(), open_page(width=width, height=height)
    join(alice, "alice", "work")
    join(bob, "bob", "work")
    say(alice, "work", "@bob the report is due")
    for n in range(40):
        say(alice, "work", f"chatter {n}")
    bob.get_by_role("button", name="+ Join a room").click()
    join(bob, "bob", "play")
    say(alice, "work", "@bob also, lunch?")
    mentions = bob.get_by_role("button", name=re.compile("Mentions"))
    expect(mentions).to_contain_text("1")
    mentions.click()
    expect(bob.get_by_role("heading", name="Mentions of you")).to_be_focused()
    items = bob.locator(".mentions__item")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("also, lunch?")
    items.last.get_by_role("button", name="Show in #work").click()
    expect(bob.get_by_role("heading", name="#work")).to_be_visible()
    expect(row(bob, "the report is due")).to_be_in_viewport()
    expect(mentions).not_to_contain_text("1")


def test_any_emoji_from_the_picker(open_page: OpenPage) -> None:
    alice, bob = open_page(), open_page(width=360, height=740)
    join(alice, "alice", "emoji")
    join(bob, "bob", "emoji")
    say(alice, "emoji", "pizza tonight?")
    act_on(bob, "pizza tonight?", "React")
    target = row(bob, "pizza tonight?")
    target.get_by_role("button", name="More…").click()
    search = bob.get_by_label("Search emoji")
    expect(search).to_be_focused()
    search.fill("pizza")
    target.get_by_role("button", name="pizza", exact=True).click()
    expect(row(alice, "pizza tonight?").locator(".reaction")).to_have_text("🍕 1")
    # The keyboard way: a group, arrows, Enter; Escape closes.
    act_on(bob, "pizza tonight?", "React")
    target.get_by_role("button", name="More…").click()
    target.get_by_role("tab", name="Animals & Nature").click()
    grid = target.get_by_role("group", name="Emoji")
    grid.get_by_role("button").first.focus()
    bob.keyboard.press("ArrowRight")
    bob.keyboard.press("Enter")
    expect(row(alice, "pizza tonight?").locator(".reaction")).to_have_count(2)
    act_on(bob, "pizza tonight?", "React")
    target.get_by_role("button", name="More…").click()
    bob.get_by_label("Search emoji").press("Escape")
    expect(bob.get_by_label("Search emoji")).to_have_count(0)
