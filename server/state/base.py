"""What every room store promises: the `RoomStore` protocol, its values and errors.

Two stores implement it, `memory.MemoryRoomStore` (one process) and
`redis_store.RedisRoomStore` (several nodes); the handlers only ever see this
protocol, and tests/state/test_store_contract.py runs the same tests on both.
The pieces both stores need (message construction, ids, history slicing) live here
so that they mean the same in both.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    from state.changes import Change

Message = dict[str, Any]
Stored = Callable[[], "tuple[Message, bool]"]
"""A store's answer handed over later: called, it returns what `add_message` would
have returned, or raises what it would have raised."""
Then = Callable[[Stored], None]


def raising(error: Exception) -> Stored:
    """The answer of a call that failed with `error`."""

    def answer() -> tuple[Message, bool]:
        raise error

    return answer


# How long a retry carrying a known client_id is recognised, in both stores.
DEDUPE_SECONDS = 3600
MAX_NAME_LENGTH = 32


class NotAMember(LookupError):
    """The connection is not a member of the room it tried to use."""


class StoreUnavailable(RuntimeError):
    """The shared store (Redis) cannot be reached; the request should be retried.

    A request refused with this changed nothing: stores make sure of it.
    """


@dataclass(frozen=True)
class Snapshot:
    """A slice of a room's history and where it stands (`epoch`, `last_seq`)."""

    messages: list[Message]
    epoch: str
    last_seq: int


@dataclass(frozen=True)
class Membership:
    """What changed when a connection joined or left a room.

    `changed`: this connection was added (or removed). `person_changed`: the person
    arrived (their first connection in the room) or is gone (their last one left):
    only then does the room hear `joined` or `left`. `count` counts people.
    """

    room: str
    sid: str
    username: str
    count: int
    changed: bool = True
    trip: str | None = None
    person_changed: bool = True


@dataclass(frozen=True)
class Member:
    """One connection's place in a room."""

    username: str
    trip: str | None


@dataclass(frozen=True)
class Renamed:
    """A person's new name in a room (all their connections there have it)."""

    room: str
    sid: str
    trip: str | None
    old: str
    new: str


class NameTaken(LookupError):
    """Someone else here holds that name (or looks the same), or holds it on lease."""

    def __init__(self, suggestion: str) -> None:
        super().__init__(suggestion)
        self.suggestion = suggestion


def holder_of(sid: str, trip: str | None) -> str:
    """Who holds a name: a trip (across tabs, reloads and leases), else a connection."""
    return f"trip:{trip}" if trip else f"sid:{sid}"


def name_candidates(name: str, count: int = 20) -> list[str]:
    """Names close to `name` to suggest when it is taken: name2, name3... (within
    MAX_NAME_LENGTH)."""
    candidates = []
    for number in range(2, 2 + count):
        suffix = str(number)
        candidates.append(name[: MAX_NAME_LENGTH - len(suffix)] + suffix)
    return candidates


def random_variant(name: str) -> str:
    """A suggestion of last resort, when every candidate is taken too."""
    return name[: MAX_NAME_LENGTH - 5] + "-" + secrets.token_hex(2)


def suggest_name(name: str, free: Callable[[str], bool]) -> str:
    """The first of `name_candidates` that is free here."""
    for candidate in name_candidates(name):
        if free(candidate):
            return candidate
    return random_variant(name)


@dataclass(slots=True)
class Draft:
    """A validated message before the store numbers it (one per message: not frozen,
    whose __init__ costs three times as much; nothing changes a draft once built).

    `dedupe_scope` says whose `client_id` this is (the sender's identity, or its
    connection lineage): one sender's retry can never match another's message.
    The store fills in a reply's quote of its original (state/changes.py).
    """

    text: str
    dedupe_scope: str
    client_id: str | None = None
    client_timestamp: float | None = None
    kind: str | None = None  # "action" for /me; None for a plain message
    reply_to: str | None = None  # the id of the message this answers
    mentions: tuple[str, ...] = ()  # trips (or sids) of members it mentions

    def dedupe_key(self) -> str | None:
        if self.client_id is None:
            return None
        return f"{self.dedupe_scope}\n{self.client_id}"


class MessageIds:
    """Message ids unique across processes: a random prefix per store, a counter."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4) + "-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):x}"


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def new_message(
    room: str, message_id: str, sid: str, draft: Draft, timestamp: int
) -> Message:
    """The message as stored and broadcast, without `seq` and `username`, which the
    store fills in atomically with numbering it."""
    message: Message = {
        "room": room,
        "id": message_id,
        "sid": sid,
        "message": draft.text,
        "timestamp": timestamp,
    }
    if draft.client_id is not None:
        message["client_id"] = draft.client_id
    if draft.client_timestamp is not None:
        message["client_timestamp"] = draft.client_timestamp
    if draft.kind is not None:
        message["kind"] = draft.kind
    if draft.mentions:
        message["mentions"] = list(draft.mentions)
    return message


def select_history(
    history: list[Message],
    room_epoch: str,
    last_seq: int,
    limit: int,
    epoch: str | None,
    since: int | None,
    before: int | None,
) -> Snapshot:
    """The part of a room's history (contiguous seqs, oldest first) a client asked for.

    Shared by every store, so `since`/`before`/`epoch` mean the same everywhere.
    """
    if epoch != room_epoch:
        since = before = None
    first_seq = history[0]["seq"] if history else last_seq + 1
    start = 0 if since is None else max(0, since + 1 - first_seq)
    end = len(history) if before is None else max(0, before - first_seq)
    selected = history[start:end]
    if limit <= 0:
        selected = []
    elif since is not None:
        selected = selected[:limit]
    else:
        selected = selected[-limit:]
    return Snapshot(selected, room_epoch, last_seq)


class RoomStore(Protocol):
    """Membership and numbered history of every room.

    Every method is atomic. A method that raises `StoreUnavailable` changed nothing.
    """

    def join(
        self, room: str, sid: str, username: str, trip: str | None = None
    ) -> Membership:
        """Add `sid` to `room` under `username`.

        Names are unique in a room on their confusable skeleton (chat/names.py). A
        name held by someone else, or on lease to a trip that is away (for
        NICK_LEASE_SECONDS), raises NameTaken with a free suggestion. Joining again
        changes nothing; a second connection of a trip already here is the same
        person, under the name they have (`person_changed` is False).
        """
        ...

    def rename(self, room: str, sid: str, username: str) -> Renamed:
        """Give the person behind `sid` a new name in `room` (every connection of
        theirs); the same rules as joining. Raises NotAMember, NameTaken."""
        ...

    def leave(self, room: str, sid: str, keep_name: bool = False) -> Membership | None:
        """Remove `sid` from `room`; None when it was not a member. Leaving on
        purpose frees the name at once; with `keep_name` a trip's name stays theirs
        for NICK_LEASE_SECONDS after their last connection left."""
        ...

    def evict(self, room: str, sid: str) -> Membership | None:
        """Remove `sid` from `room` whichever node its connection is on (a
        moderator's kick or ban); its name is free at once. None when it was not
        a member."""
        ...

    def leave_all(self, sid: str) -> list[Membership]:
        """Remove `sid` from every room, as when its connection closes: trips keep
        their names on lease. Never raises `StoreUnavailable`: what cannot be
        written now is written later."""
        ...

    def member(self, room: str, sid: str) -> Member | None:
        """`sid`'s name and trip in `room`, or None when it is not a member."""
        ...

    def rooms_of(self, sid: str) -> set[str]:
        """The rooms a connection of this node is in."""
        ...

    def members(self, room: str) -> list[dict[str, Any]]:
        """Everyone in `room`, on every node, once per person: [{sid, username,
        trip}] (the sid of their first connection)."""
        ...

    def add_message(self, room: str, sid: str, draft: Draft) -> tuple[Message, bool]:
        """Number and store a message from member `sid`: (message, is_duplicate).

        A draft whose sender already sent its `client_id` within DEDUPE_SECONDS
        returns the stored message and True, and stores nothing: a retry is never
        shown twice. A reply gets `reply_to`, a quote of its original. Raises
        NotAMember when `sid` is not in `room`; ChangeRefused("unknown_message")
        when the original of a reply is not in history (or deleted).
        """
        ...

    def add_message_then(self, room: str, sid: str, draft: Draft, then: Then) -> None:
        """`add_message` without waiting for the store: `then` gets the answer (the
        memory store's at once). Answers come in the order of the calls."""
        ...

    def change_message(
        self, room: str, sid: str, change: Change
    ) -> tuple[Message, bool]:
        """Apply an edit, deletion or reaction of member `sid` (state/changes.py):
        (the numbered change event, is_duplicate). Deduplicated like messages.
        Raises NotAMember, ChangeRefused."""
        ...

    def person_named(self, room: str, name: str) -> tuple[Member, list[str]] | None:
        """The person in `room` whose name reads as `name` (compared as names are),
        with the sids of all their connections there; None when nobody is."""
        ...

    def snapshot(
        self,
        room: str,
        *,
        limit: int,
        epoch: str | None = None,
        since: int | None = None,
        before: int | None = None,
    ) -> Snapshot:
        """At most `limit` messages of `room`, oldest first (see select_history)."""
        ...

    def list_rooms(self, limit: int) -> list[dict[str, Any]]:
        """Rooms with people, busiest first, then by name: [{room, count}]."""
        ...

    def expire_idle_rooms(self) -> int:
        """Forget rooms empty for longer than their TTL, and name leases that ran
        out; how many rooms were dropped."""
        ...

    def counts(self) -> dict[str, int]:
        """This node's view, for metrics and leak checks: `rooms` known,
        `members` (memberships of this node's connections) and `connections`
        (this node's connections in at least one room)."""
        ...


def decode_message(raw: bytes) -> Message:
    """A message or event from its stored JSON (the Redis store's scripts, and the
    relay that carries what they stored; Lua's cjson may write whole numbers as
    floats)."""
    message: Message = orjson.loads(raw)
    for key in ("seq", "timestamp", "edited_at", "count"):
        if key in message:
            message[key] = int(message[key])
    return message
