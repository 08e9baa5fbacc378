"""Nicknames: cleaning, visibility, and when two names are the same to a reader."""

from __future__ import annotations

import pytest

from chat import names, protocol
from chat.names import clean_nickname, name_keys, skeleton, visible
from chat.protocol import ChatError


def collide(first: str, second: str) -> bool:
    return bool(set(name_keys(first)) & set(name_keys(second)))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("alice", "Alice"),  # case
        ("alice", "ALICE"),
        ("alice", "\u0430lice"),  # Cyrillic а
        ("alice", "ａｌｉｃｅ"),  # fullwidth
        ("alice", "al\u200bice"),  # zero-width space
        ("alice", "ali\u200dce"),  # zero-width joiner
        ("Ilya", "llya"),  # capital I and small l
        ("BOB", "B0B"),  # O and zero
        ("modern", "rnodern"),  # m and rn
        ("paypal", "pаypаl"),  # two Cyrillic а
    ],
)
def test_names_a_reader_cannot_tell_apart_collide(first: str, second: str) -> None:
    assert collide(first, second)


@pytest.mark.parametrize(
    ("first", "second"),
    [("alice", "alicia"), ("bob", "rob"), ("renée", "renee"), ("李", "季")],
)
def test_different_names_do_not_collide(first: str, second: str) -> None:
    assert not collide(first, second)


def test_the_skeleton_follows_unicodes_prototypes() -> None:
    assert skeleton("\u0430") == skeleton("a")
    assert skeleton("m") == "rn"
    assert skeleton("ℓ") == skeleton("l")


@pytest.mark.parametrize(
    "text", ["", "  ", "\u200b", "\u3164\u3164", "\u2800", "\ufe0f", "\u202e \u200d"]
)
def test_blank_looking_text_is_not_visible(text: str) -> None:
    assert not visible(text)


def test_cleaning_drops_invisibles_and_normalises() -> None:
    assert clean_nickname(" ａｌｉｃｅ\u200b ") == "alice"


@pytest.mark.parametrize(
    "name",
    [
        "System",
        "ADMIN",
        "S.y.s.t.e.m",
        "Ｓｅｒｖｅｒ",
        "\u0410dmin",  # Cyrillic А
        "M0D",
        "Mod",
        "a\u200bdmin",
    ],
)
def test_reserved_names_are_refused_however_spelled(name: str) -> None:
    with pytest.raises(ChatError) as refused:
        protocol.username({"username": name})
    assert refused.value.message == "That nickname is reserved."


@pytest.mark.parametrize("name", ["\u3164", "\u2800\u2800", "\u200b\u200c", " \ufe0f"])
def test_names_of_invisible_characters_are_refused(name: str) -> None:
    with pytest.raises(ChatError) as refused:
        protocol.username({"username": name})
    assert refused.value.code == "invalid_username"


@pytest.mark.parametrize("text", ["\u200b" * 50, "\n" * 1998, " \u2800 \n\t"])
def test_messages_that_show_nothing_are_empty(text: str) -> None:
    with pytest.raises(ChatError) as refused:
        protocol.message_text({"message": text}, 2000)
    assert refused.value.code == "empty_message"


def test_runs_of_blank_lines_are_shortened_and_emoji_keep_their_joiners() -> None:
    text = "top\n\n\n\n   \n\nbottom 👨\u200d👩\u200d👧"
    assert protocol.message_text({"message": text}, 2000) == (
        "top\n\nbottom 👨\u200d👩\u200d👧"
    )


def test_the_confusables_table_is_built_by_load_tables_not_by_a_first_join() -> None:
    names._prototypes.cache_clear()
    name_keys.cache_clear()
    names.load_tables()  # what the server's main does before serving
    assert names._prototypes.cache_info().currsize == 1
    assert skeleton("m") == skeleton("rn")  # and it is the table names are keyed by
    assert names._prototypes.cache_info().hits >= 1
