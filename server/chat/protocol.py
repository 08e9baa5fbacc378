"""The event contract in code: event names, error codes and payload validation.

docs/protocol.md describes the same facts for people; tests/test_protocol_doc.py
checks that the two agree. Validators turn a raw payload into clean values or
raise `ChatError`, which the handlers turn into an `error` event and ack.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from chat import conversation, names

# Events a client sends.
CLIENT_EVENTS = (
    "test_message",
    "join",
    "leave",
    "message",
    "history",
    "typing",
    "list_rooms",
    "rename",
    "edit",
    "delete",
    "react",
    "whisper",
    "kick",
    "ban",
    "unban",
    "mute",
    "topic",
    "slow_mode",
    "lock",
    "list_room",
    "moderator",
    "hand_over",
    "audit_log",
    "knock",
    "answer_knock",
    "report",
    "resolve_report",
    "raid_mode",
    "solve",
)
# Events the server sends.
SERVER_EVENTS = (
    "connected",
    "test_response",
    "joined",
    "room_state",
    "left",
    "message",
    "messages",
    "typing",
    "renamed",
    "rooms",
    "room_seq",
    "message_edited",
    "message_deleted",
    "reaction",
    "whisper",
    "room_info",
    "moderation",
    "audit_log",
    "knock",
    "knock_answered",
    "report",
    "error",
)
# Why someone is gone from a room, on `left`: they left, their connection closed,
# their server shut down (they will likely be back), or their node died.
# A moderator removed them (`by` and `until` say who and until when).
LEAVE_REASONS = ("leave", "disconnect", "shutdown", "lost", "kicked", "banned")
# What a client may announce it accepts, in its connect auth {"features": [...]}.
FEATURE_MESSAGE_BATCHES = "messages"
KNOWN_FEATURES = frozenset({FEATURE_MESSAGE_BATCHES})

ERROR_CODES = {
    "invalid_payload": "The request is not a JSON object of the expected shape.",
    "invalid_room": "Room names are 1-64 letters, digits, '-', '_' or '.'.",
    "invalid_username": "Nicknames are 1-32 printable characters.",
    "nickname_taken": "Someone in this room already has that nickname.",
    "empty_message": "The message is empty.",
    "message_too_long": "The message is longer than the server allows.",
    "not_in_room": "You are not in that room; join it first.",
    "unknown_event": "The server does not know that event.",
    "rate_limited": "You are sending too fast; wait a moment.",
    "too_many_rooms": "You are in too many rooms; leave one first.",
    "too_many_connections": "Too many connections from your address.",
    "connecting_too_fast": "Too many new connections from your address; wait a moment.",
    "unknown_message": "That message is not in the room's history (or was deleted).",
    "not_author": "Only the person who sent a message can change it.",
    "edit_window_passed": "That message is too old to edit.",
    "too_many_reactions": "That message has as many different reactions as it can.",
    "no_such_member": "Nobody here has that nickname.",
    "not_allowed": "Only the room's owner or moderators can do that.",
    "no_trip": "Roles need a trip, and that person is unverified.",
    "not_banned": "Nobody of that name is banned here.",
    "unknown_request": "That knock or report was already answered (or expired).",
    "challenge_required": "Show you are real first: solve the challenge given.",
    "challenge_failed": "That proof of work was not accepted; here is a new challenge.",
    "on_probation": "Newcomers who joined during a raid cannot post that yet.",
    "banned": "You are banned from this room for now.",
    "kicked": "You were kicked out of this room; you can come back soon.",
    "room_locked": "This room is locked: only people it lets in can join.",
    "muted": "You are muted in this room for now.",
    "slow_mode": "This room is in slow mode; wait a moment.",
    "unavailable": "The chat is briefly unavailable; please try again in a moment.",
    "internal_error": "Something went wrong on the server; please try again.",
}
# Refusals that mean a broken or hostile client rather than a person: they cost more.
BAD_REQUEST_CODES = frozenset(
    {"invalid_payload", "invalid_room", "invalid_username", "unknown_event"}
)
# Nicknames that could pass for the server speaking (compared as chat/names.py
# compares names, on letters and digits).
RESERVED_USERNAMES = frozenset(
    {"system", "server", "admin", "administrator", "moderator", "mod", "chat", "notice"}
)

MAX_ROOM_LENGTH = 64
MAX_USERNAME_LENGTH = 32
MAX_CLIENT_ID_LENGTH = 64
MAX_MESSAGE_ID_LENGTH = 64
ROOM_LIST_LIMIT = 100
# Messages a join sends at most, when it does not ask to catch up with `since`.
JOIN_PAGE = 100

# Numbers a client may send (timestamps): finite, and exact in every JSON parser.
MAX_SAFE_NUMBER = 2**53 - 1
SESSION_TOKEN_LENGTHS = (16, 64)

_ROOM_PATTERN = re.compile(rf"[A-Za-z0-9_.\-]{{1,{MAX_ROOM_LENGTH}}}")
_SESSION_PATTERN = re.compile(r"[A-Za-z0-9_\-]+")
# Half of a UTF-16 pair on its own: valid in Python and JSON, not in UTF-8 or Redis.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Control characters except newline and tab, which a message may keep.
_MESSAGE_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Three or more line breaks with nothing but spaces between them.
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n){2,}")


class ChatError(Exception):
    """A request the server refuses; `code` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str | None = None, **details: Any) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message or ERROR_CODES[code])
        self.code = code
        self.message = message or ERROR_CODES[code]
        self.details = details

    def error_payload(self, event: str) -> dict[str, Any]:
        """The `error` event: code, message, the refused event, and any details."""
        return {
            "code": self.code,
            "message": self.message,
            "event": event,
            **self.details,
        }

    def ack(self) -> dict[str, Any]:
        error = {"code": self.code, "message": self.message, **self.details}
        return {"ok": False, "error": error}


def require_object(payload: Any, *, allow_missing: bool = False) -> dict[str, Any]:
    """The payload as a dict: a JSON object, or nothing where that is allowed."""
    if payload is None and allow_missing:
        return {}
    if not isinstance(payload, dict):
        raise ChatError("invalid_payload", "The payload must be a JSON object.")
    return payload


def room_name(payload: dict[str, Any]) -> str:
    """The canonical (lower-case) room name: rooms match case-insensitively."""
    room = payload.get("room")
    if not isinstance(room, str) or not _ROOM_PATTERN.fullmatch(room):
        raise ChatError("invalid_room")
    return room.lower()


def has_lone_surrogate(text: str) -> bool:
    return _LONE_SURROGATE.search(text) is not None


def username(payload: dict[str, Any]) -> str | None:
    """The cleaned nickname (chat/names.py), or None when none was given."""
    raw = payload.get("username")
    if raw is None:
        return None
    if not isinstance(raw, str) or has_lone_surrogate(raw):
        raise ChatError("invalid_username")
    name = names.clean_nickname(raw)
    if (
        not 1 <= len(name) <= MAX_USERNAME_LENGTH
        or not name.isprintable()
        or not names.visible(name)
    ):
        raise ChatError("invalid_username")
    if is_reserved(name):
        raise ChatError("invalid_username", "That nickname is reserved.")
    return name


@functools.cache
def _reserved_keys() -> frozenset[str]:
    return frozenset(
        names.letters_and_digits(key)
        for word in RESERVED_USERNAMES
        for key in names.name_keys(word)
    )


def is_reserved(name: str) -> bool:
    """A nickname that could pass for the server speaking, however it is spelled
    ("ADMIN", "S.y.s.t.e.m", fullwidth "Ａdmin", Cyrillic "Аdmin")."""
    reserved = _reserved_keys()
    return any(
        names.letters_and_digits(key) in reserved for key in names.name_keys(name)
    )


def message_text(payload: dict[str, Any], max_length: int) -> str:
    """The message with control characters removed, runs of blank lines shortened
    to one, outer whitespace trimmed; it must show something."""
    raw = required_text(payload, "message")
    if len(raw) > 4 * max_length:
        raise ChatError(
            "message_too_long", f"Messages are at most {max_length} characters."
        )
    if raw.isprintable():  # one line, no control characters: nothing to clean
        text = raw.strip()
    else:
        text = _BLANK_LINES.sub("\n\n", _MESSAGE_CONTROL.sub("", raw)).strip()
    if not names.visible(text):
        raise ChatError("empty_message")
    if len(text) > max_length:
        raise ChatError(
            "message_too_long", f"Messages are at most {max_length} characters."
        )
    return text


def client_id(payload: dict[str, Any]) -> str | None:
    """The sender's own id for a request, so that its retry is recognised."""
    return optional_string(payload, "client_id", MAX_CLIENT_ID_LENGTH)


def message_id(payload: dict[str, Any], key: str = "id") -> str:
    """The id of a message the request is about."""
    value = optional_string(payload, key, MAX_MESSAGE_ID_LENGTH)
    if value is None:
        raise ChatError("invalid_payload", f"'{key}' must be a message id.")
    return value


def message_kind(payload: dict[str, Any]) -> str | None:
    """None for a plain message, or one of conversation.MESSAGE_KINDS ("action")."""
    kind = payload.get("kind")
    if kind is None or kind == "message":
        return None
    if kind not in conversation.MESSAGE_KINDS:
        raise ChatError("invalid_payload", "'kind' must be \"action\" or absent.")
    return str(kind)


def emoji(payload: dict[str, Any]) -> str:
    """One emoji, as a reaction is."""
    value = payload.get("emoji")
    if not isinstance(value, str) or not conversation.is_emoji(value):
        raise ChatError("invalid_payload", "'emoji' must be one emoji.")
    return value


def member_name(payload: dict[str, Any], key: str) -> str:
    """A nickname to look someone up by (not checked against reserved words)."""
    raw = payload.get(key)
    if not isinstance(raw, str) or has_lone_surrogate(raw):
        raise ChatError("invalid_payload", f"'{key}' must be a nickname.")
    name = names.clean_nickname(raw)
    if not 1 <= len(name) <= MAX_USERNAME_LENGTH:
        raise ChatError("invalid_payload", f"'{key}' must be a nickname.")
    return name


def required_text(payload: dict[str, Any], key: str) -> str:
    """A string field: any text, but no half of a UTF-16 pair on its own."""
    value = payload.get(key)
    if not isinstance(value, str) or has_lone_surrogate(value):
        raise ChatError("invalid_payload", f"'{key}' must be a string.")
    return value


def optional_number(payload: dict[str, Any], key: str) -> float | int | None:
    """A finite number no larger than 2^53 - 1 either way, or None."""
    value = payload.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not -MAX_SAFE_NUMBER <= value <= MAX_SAFE_NUMBER  # also refuses NaN
    ):
        raise ChatError(
            "invalid_payload", f"'{key}' must be a finite number within ±2^53."
        )
    return value


def optional_seq(payload: dict[str, Any], key: str) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_SAFE_NUMBER
    ):
        raise ChatError("invalid_payload", f"'{key}' must be a non-negative integer.")
    return value


def optional_string(payload: dict[str, Any], key: str, max_length: int) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= max_length
        or has_lone_surrogate(value)
    ):
        raise ChatError(
            "invalid_payload", f"'{key}' must be a string of 1-{max_length} characters."
        )
    return value


def number_between(payload: dict[str, Any], key: str, low: int, high: int) -> int:
    """A whole number within [low, high] (minutes of a ban, seconds of slow mode)."""
    value = payload.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise ChatError(
            "invalid_payload", f"'{key}' must be a whole number from {low} to {high}."
        )
    return value


def topic_text(payload: dict[str, Any], max_length: int) -> str:
    """A room's topic: one line of text, or "" to clear it."""
    raw = required_text(payload, "topic")
    text = " ".join(_MESSAGE_CONTROL.sub("", raw).split())
    if len(text) > max_length:
        raise ChatError(
            "invalid_payload", f"A topic is at most {max_length} characters."
        )
    return text


def required_bool(payload: dict[str, Any], key: str) -> bool:
    value = payload.get(key)
    if not isinstance(value, bool):
        raise ChatError("invalid_payload", f"'{key}' must be true or false.")
    return value


def history_limit(payload: dict[str, Any], cap: int) -> int:
    value = payload.get("limit")
    if value is None:
        return cap
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ChatError("invalid_payload", "'limit' must be a positive integer.")
    return min(value, cap)


@dataclass(frozen=True)
class Limits:
    """The limits a client is told on connect, so it can check input before sending."""

    max_message_length: int
    history_size: int
    max_username_length: int = MAX_USERNAME_LENGTH
    max_room_length: int = MAX_ROOM_LENGTH
    edit_window_seconds: float = 600.0

    @property
    def join_page(self) -> int:
        """Messages a plain join brings (older ones come with `history before`):
        a room that keeps thousands does not send them all to every joiner."""
        return min(self.history_size, JOIN_PAGE)

    def as_dict(self) -> dict[str, float]:
        return {
            "max_message_length": self.max_message_length,
            "max_username_length": self.max_username_length,
            "max_room_length": self.max_room_length,
            "history_size": self.history_size,
            "edit_window_seconds": self.edit_window_seconds,
        }


def accepted_features(auth: Any) -> frozenset[str]:
    """The known features a connect `auth` object announces; anything else is none.

    Lenient on purpose: a connection is never refused over its auth, since proxies
    and other clients may put their own things there.
    """
    if not isinstance(auth, dict):
        return frozenset()
    features = auth.get("features")
    if not isinstance(features, list):
        return frozenset()
    return frozenset(f for f in features if isinstance(f, str) and f in KNOWN_FEATURES)


def session_token(auth: Any) -> str | None:
    """The client's session token from its connect auth, or None.

    A random id a client keeps for the life of a tab, so that a message it retries
    after reconnecting (a new sid) is recognised as its own. Anything malformed
    counts as none, for the same reason as above.
    """
    if not isinstance(auth, dict):
        return None
    token = auth.get("session")
    low, high = SESSION_TOKEN_LENGTHS
    if (
        isinstance(token, str)
        and low <= len(token) <= high
        and _SESSION_PATTERN.fullmatch(token)
    ):
        return token
    return None
