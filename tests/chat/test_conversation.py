"""The conversation's rules without a server (chat/conversation.py): what counts as
one emoji, and whom `@name` mentions."""

from __future__ import annotations

import json

import pytest

from chat.conversation import is_emoji, mentioned
from support import REPO_ROOT

# The emoji the client's picker offers (client/package.json pins the data).
PICKER_DATA = (
    REPO_ROOT / "client/node_modules/unicode-emoji-json/data-ordered-emoji.json"
)


def test_every_emoji_the_picker_offers_is_accepted() -> None:
    offered = json.loads(PICKER_DATA.read_text("utf-8"))
    assert len(offered) > 1800
    assert [emoji for emoji in offered if not is_emoji(emoji)] == []


@pytest.mark.parametrize(
    "text",
    ["", " ", "a", "ab", "1", "#", "+", "\ufe0f", "a\ufe0f", "\u200d👍", "👍 ", "👍a"]
    + ["👍" * 17, "\u0301", "<script>"],
)
def test_words_and_fragments_are_not_emoji(text: str) -> None:
    assert not is_emoji(text)


MEMBERS = [
    {"sid": "s-alice", "username": "alice", "trip": None},
    {"sid": "s-bob", "username": "Bob", "trip": "bobtrip000"},
    {"sid": "s-carol", "username": "carol", "trip": None},
]


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("hi @alice", ["s-alice"]),
        ("@BOB, @alice!", ["s-alice", "bobtrip000"]),
        ("@\u0430lice (Cyrillic a)", ["s-alice"]),
        ("thanks @bob.", ["bobtrip000"]),
        ("mail alice@example.com", []),
        ("@@alice", []),
        ("@nobody here", []),
        ("no mention at all", []),
        ("@alice @alice @alice", ["s-alice"]),
    ],
)
def test_mentions_name_members_as_names_are_compared(text: str, who: list[str]) -> None:
    assert mentioned(text, MEMBERS) == who
