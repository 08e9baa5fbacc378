from __future__ import annotations

from typing import Any

import pytest

from chat import protocol
from chat.protocol import ChatError


def code_of(call: Any, *args: Any) -> str:
    with pytest.raises(ChatError) as raised:
        call(*args)
    return raised.value.code


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("lobby", "lobby"), ("Dev-Team_2.0", "dev-team_2.0"), ("a" * 64, "a" * 64)],
)
def test_room_names_are_matched_case_insensitively(raw: str, canonical: str) -> None:
    assert protocol.room_name({"room": raw}) == canonical


@pytest.mark.parametrize(
    "room", ["", "a" * 65, "with space", "emoji🙂", "semi;colon", "room:x", None, 5, []]
)
def test_bad_room_names_are_invalid_room(room: Any) -> None:
    assert code_of(protocol.room_name, {"room": room}) == "invalid_room"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("  alice ", "alice"), ("Ｂｏｂ", "Bob"), ("Zoë", "Zoë"), ("x" * 32, "x" * 32)],
)
def test_usernames_are_trimmed_and_normalized(raw: str, clean: str) -> None:
    assert protocol.username({"username": raw}) == clean


def test_username_is_optional() -> None:
    assert protocol.username({}) is None


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 33, "tab\there", "bell\x07", 42, ["a"]]
)
def test_bad_usernames_are_invalid_username(name: Any) -> None:
    assert code_of(protocol.username, {"username": name}) == "invalid_username"


def test_message_control_characters_are_removed_but_newlines_kept() -> None:
    text = protocol.message_text({"message": "  hi\x00\x1b there\n\tok \x7f"}, 100)
    assert text == "hi there\n\tok"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("", "empty_message"),
        ("   \n\t ", "empty_message"),
        ("\x00\x01", "empty_message"),
        ("x" * 11, "message_too_long"),
        ("x" * 1000, "message_too_long"),
        (None, "invalid_payload"),
        (12, "invalid_payload"),
        ({"text": "hi"}, "invalid_payload"),
    ],
)
def test_bad_messages_are_refused_with_their_code(message: Any, code: str) -> None:
    assert code_of(protocol.message_text, {"message": message}, 10) == code


def test_message_of_exactly_the_limit_is_accepted() -> None:
    assert protocol.message_text({"message": "x" * 10}, 10) == "x" * 10


@pytest.mark.parametrize("payload", [None, "text", 1, [1], True])
def test_payload_must_be_an_object(payload: Any) -> None:
    assert code_of(protocol.require_object, payload) == "invalid_payload"


def test_missing_payload_is_allowed_only_where_asked() -> None:
    assert protocol.require_object(None, allow_missing=True) == {}


@pytest.mark.parametrize("value", [True, "3", 1.5, -1])
def test_seq_fields_must_be_non_negative_integers(value: Any) -> None:
    assert (
        code_of(protocol.optional_seq, {"since": value}, "since") == "invalid_payload"
    )


@pytest.mark.parametrize("value", [True, "3", float("nan"), [1]])
def test_timestamps_must_be_numbers(value: Any) -> None:
    assert code_of(protocol.optional_number, {"t": value}, "t") == "invalid_payload"


def test_history_limit_is_capped_by_history_size() -> None:
    assert protocol.history_limit({"limit": 5000}, 100) == 100
    assert protocol.history_limit({}, 100) == 100
    assert protocol.history_limit({"limit": 7}, 100) == 7


def test_every_error_code_has_a_human_message() -> None:
    for code, message in protocol.ERROR_CODES.items():
        assert ChatError(code).message == message
