"""Changes to stored messages (edit, delete, react) and replies, in both stores.

A change is a room event with its own `seq`, stored in the room's history after the
message it changes, so that `since`/`history` carry it to a client that missed it;
the message itself is also updated in place, so a client that loads the room later
sees it as it is now. The memory store applies the rules below in Python; the Redis
store applies the same rules in Lua (redis_scripts.py); tests/state run the same
cases on both.

Entries in history: a message has no `event` key; a change has `event` set to the
name it is broadcast under (`message_edited`, `message_deleted`, `reaction`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from state.base import Message

# Emoji one message can carry at most (each with one vote per person).
MAX_REACTIONS_PER_MESSAGE = 20
# How much of the original a reply quotes, in characters.
SNIPPET_LENGTH = 120
CHANGE_EVENTS = {
    "edit": "message_edited",
    "delete": "message_deleted",
    "react": "reaction",
}


class ChangeRefused(LookupError):
    """The change is not allowed; `code` is the protocol's error code for why:
    `unknown_message`, `not_author`, `edit_window_passed`, `too_many_reactions`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Change:
    """A validated change to message `message_id`, from a member of its room.

    `kind` is a key of CHANGE_EVENTS. `text` and `mentions` are an edit's, `emoji`
    and `on` a reaction's. `dedupe_scope` and `client_id` work as for messages.
    """

    kind: str
    message_id: str
    dedupe_scope: str
    client_id: str | None = None
    text: str = ""
    mentions: list[str] = field(default_factory=list)
    emoji: str = ""
    on: bool = True

    def dedupe_key(self) -> str | None:
        if self.client_id is None:
            return None
        return f"{self.dedupe_scope}\n{self.kind}:{self.client_id}"

    def as_dict(self) -> dict[str, Any]:
        """What the Redis script is given."""
        return {
            "kind": self.kind,
            "id": self.message_id,
            "message": self.text,
            "mentions": self.mentions,
            "emoji": self.emoji,
            "on": self.on,
        }


def snippet(text: str) -> str:
    """The start of a message, as a reply quotes it."""
    if len(text) <= SNIPPET_LENGTH:
        return text
    return text[:SNIPPET_LENGTH] + "…"


def reply_quote(original: Message) -> dict[str, Any]:
    """What a reply carries of its original, so that it shows without it."""
    return {
        "id": original["id"],
        "username": original["username"],
        "trip": original.get("trip"),
        "snippet": snippet(original["message"]),
    }


def find_message(history: list[Message], message_id: str) -> int | None:
    """The index in `history` of the (not deleted) message `message_id`."""
    for index in range(len(history) - 1, -1, -1):
        entry = history[index]
        if "event" not in entry and entry["id"] == message_id:
            return None if entry.get("deleted") else index
    return None


def voter(sid: str, trip: str | None) -> str:
    """Who a reaction or a mention is about: a trip, or a connection without one."""
    return trip or sid


def apply_change(
    history: list[Message],
    change: Change,
    sid: str,
    trip: str | None,
    now_ms: int,
    edit_window_ms: int,
) -> tuple[dict[int, Message], Message]:
    """The rules of a change: ({index: replaced history entry}, event without seq).

    Raises ChangeRefused. `history` is not modified (entries are replaced, never
    mutated: a snapshot being sent elsewhere may hold them).
    """
    index = find_message(history, change.message_id)
    if index is None:
        raise ChangeRefused("unknown_message")
    original = history[index]
    event: Message = {
        "event": CHANGE_EVENTS[change.kind],
        "room": original["room"],
        "id": original["id"],
    }
    if change.kind in ("edit", "delete") and not _is_author(original, sid, trip):
        raise ChangeRefused("not_author")
    replaced: dict[int, Message] = {}
    if change.kind == "edit":
        if now_ms - original["timestamp"] > edit_window_ms:
            raise ChangeRefused("edit_window_passed")
        updated = {**original, "message": change.text, "edited_at": now_ms}
        _set_mentions(updated, change.mentions)
        event.update(message=change.text, edited_at=now_ms)
        if change.mentions:
            event["mentions"] = change.mentions
    elif change.kind == "delete":
        updated = tombstone(original)
        for other, entry in enumerate(history):
            quoted = entry.get("reply_to")
            if quoted and quoted["id"] == original["id"]:
                replaced[other] = {
                    **entry,
                    "reply_to": {**quoted, "snippet": "", "deleted": True},
                }
    else:
        updated, count = _react(original, change, voter(sid, trip))
        event.update(emoji=change.emoji, on=change.on, sid=sid, trip=trip, count=count)
    replaced[index] = updated
    return replaced, event


def tombstone(original: Message) -> Message:
    """What stays of a deleted message: who, when, where; not what."""
    kept = ("room", "id", "seq", "sid", "username", "trip", "timestamp", "reply_to")
    return {
        **{key: original[key] for key in kept if key in original},
        "message": "",
        "deleted": True,
    }


def _is_author(original: Message, sid: str, trip: str | None) -> bool:
    if original.get("trip"):
        return bool(original["trip"] == trip)
    return bool(original["sid"] == sid)


def _set_mentions(message: Message, mentions: list[str]) -> None:
    if mentions:
        message["mentions"] = mentions
    else:
        message.pop("mentions", None)


def _react(original: Message, change: Change, who: str) -> tuple[Message, int]:
    reactions: dict[str, list[str]] = {
        emoji: list(voters) for emoji, voters in original.get("reactions", {}).items()
    }
    voters = reactions.get(change.emoji, [])
    if change.on and who not in voters:
        if not voters and len(reactions) >= MAX_REACTIONS_PER_MESSAGE:
            raise ChangeRefused("too_many_reactions")
        reactions[change.emoji] = voters + [who]
    elif not change.on and who in voters:
        voters.remove(who)
        if voters:
            reactions[change.emoji] = voters
        else:
            del reactions[change.emoji]
    updated = {**original, "reactions": reactions}
    if not reactions:
        del updated["reactions"]
    return updated, len(reactions.get(change.emoji, []))
