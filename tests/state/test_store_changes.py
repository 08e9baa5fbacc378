"""Edits, deletions, reactions and replies in both room stores (state/changes.py).

The same cases run on the in-memory store (its wall clock moved by hand) and on the
Redis store (its Lua scripts, on Redis's own clock, so the edit window is waited out
for real).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from state.base import Draft, NotAMember, RoomStore
from state.changes import MAX_REACTIONS_PER_MESSAGE, Change, ChangeRefused
from state.memory import MemoryRoomStore
from state.redis_space import RedisSpace
from state.redis_store import RedisRoomStore
from store_settings import TTL

HISTORY = 40
EDIT_WINDOW = 1.0
Later = Callable[[float], None]


class WallClock:
    """The memory store's wall clock in ms, moved by hand."""

    def __init__(self) -> None:
        self.ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def wall_clock() -> WallClock:
    return WallClock()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, wall_clock: WallClock) -> Iterator[RoomStore]:
    """Each store with a 40-entry history and a 1 s edit window."""
    if request.param == "memory":
        yield MemoryRoomStore(
            HISTORY, TTL, wall_clock_ms=wall_clock, edit_window_seconds=EDIT_WINDOW
        )
        return
    space: RedisSpace = request.getfixturevalue("redis_space")
    yield RedisRoomStore(
        space, HISTORY, TTL, node_id="node-a", edit_window_seconds=EDIT_WINDOW
    )


@pytest.fixture
def later(store: RoomStore, wall_clock: WallClock) -> Later:
    def wait(seconds: float) -> None:
        if isinstance(store, RedisRoomStore):
            time.sleep(seconds)
        else:
            wall_clock.ms += int(seconds * 1000)

    return wait


def say(
    store: RoomStore, sid: str, text: str, room: str = "r", **fields: Any
) -> dict[str, Any]:
    message, _ = store.add_message(room, sid, Draft(text, f"sid:{sid}", **fields))
    return message


def change(
    store: RoomStore, sid: str, kind: str, message_id: str, **fields: Any
) -> dict[str, Any]:
    event, _ = store.change_message(
        "r", sid, Change(kind, message_id, f"sid:{sid}", **fields)
    )
    return event


def refusal(
    store: RoomStore, sid: str, kind: str, message_id: str, **fields: Any
) -> str:
    with pytest.raises(ChangeRefused) as refused:
        change(store, sid, kind, message_id, **fields)
    return refused.value.code


def history(store: RoomStore) -> list[dict[str, Any]]:
    return store.snapshot("r", limit=HISTORY).messages


def stored(store: RoomStore, message_id: str) -> dict[str, Any]:
    (message,) = [
        m for m in history(store) if "event" not in m and m["id"] == message_id
    ]
    return message


@pytest.fixture
def room(store: RoomStore) -> RoomStore:
    """alice (a trip) and bob (no trip) in room r."""
    store.join("r", "a1", "alice", "tripalice0")
    store.join("r", "b1", "bob")
    return store


def test_an_edit_is_a_numbered_event_and_changes_the_message(room: RoomStore) -> None:
    message = say(room, "a1", "helo")
    event = change(room, "a1", "edit", message["id"], text="hello", mentions=["b1"])
    assert event["event"] == "message_edited" and event["seq"] == message["seq"] + 1
    assert event["message"] == "hello" and event["mentions"] == ["b1"]
    assert isinstance(event["edited_at"], int)
    now = stored(room, message["id"])
    assert now["message"] == "hello" and now["edited_at"] == event["edited_at"]
    assert [m["seq"] for m in history(room)] == [message["seq"], event["seq"]]
    epoch = room.snapshot("r", limit=0).epoch
    caught_up = room.snapshot("r", limit=5, epoch=epoch, since=message["seq"])
    assert caught_up.messages == [event]


def test_only_the_author_edits_or_deletes(room: RoomStore) -> None:
    of_alice = say(room, "a1", "mine")
    of_bob = say(room, "b1", "mine too")
    assert refusal(room, "b1", "edit", of_alice["id"], text="x") == "not_author"
    assert refusal(room, "b1", "delete", of_alice["id"]) == "not_author"
    assert refusal(room, "a1", "delete", of_bob["id"]) == "not_author"
    # Alice's trip is alice wherever she is: another tab edits her message.
    room.join("r", "a2", "alice", "tripalice0")
    assert (
        change(room, "a2", "edit", of_alice["id"], text="fixed")["message"] == "fixed"
    )
    # Without a trip, a message is its connection's: bob reconnected is not bob.
    room.leave("r", "b1")
    room.join("r", "b2", "bob")
    assert refusal(room, "b2", "delete", of_bob["id"]) == "not_author"


def test_edits_end_with_the_window_and_deletions_do_not(
    room: RoomStore, later: Later
) -> None:
    message = say(room, "a1", "typo")
    later(EDIT_WINDOW + 0.3)
    assert refusal(room, "a1", "edit", message["id"], text="x") == "edit_window_passed"
    assert change(room, "a1", "delete", message["id"])["event"] == "message_deleted"


def test_a_deletion_leaves_a_tombstone_and_scrubs_quotes(room: RoomStore) -> None:
    original = say(room, "a1", "secret plans, long enough to be quoted")
    reply = say(room, "b1", "what plans?", reply_to=original["id"])
    assert reply["reply_to"]["snippet"] == original["message"]
    change(room, "b1", "react", original["id"], emoji="👀", on=True)
    event = change(room, "a1", "delete", original["id"])
    assert event == {
        "event": "message_deleted",
        "room": "r",
        "id": original["id"],
        "seq": event["seq"],
    }
    gone = stored(room, original["id"])
    assert gone["deleted"] is True and gone["message"] == ""
    assert "reactions" not in gone and gone["username"] == "alice"
    assert "secret" not in repr(history(room))
    quoted = stored(room, reply["id"])["reply_to"]
    assert quoted["deleted"] is True and quoted["snippet"] == ""
    # Deleted is gone: no more changes, no replies.
    assert refusal(room, "a1", "delete", original["id"]) == "unknown_message"
    assert refusal(room, "b1", "react", original["id"], emoji="👍") == "unknown_message"
    with pytest.raises(ChangeRefused):
        say(room, "b1", "still?", reply_to=original["id"])


def test_a_reply_quotes_the_start_of_its_original(room: RoomStore) -> None:
    long = say(room, "a1", "é" * 200, kind="action")
    reply = say(room, "b1", "indeed", reply_to=long["id"])
    assert reply["reply_to"] == {
        "id": long["id"],
        "username": "alice",
        "trip": "tripalice0",
        "snippet": "é" * 120 + "…",
    }
    assert long["kind"] == "action" and stored(room, long["id"])["kind"] == "action"
    with pytest.raises(ChangeRefused) as refused:
        say(room, "b1", "to what?", reply_to="no-such-id")
    assert refused.value.code == "unknown_message"
    assert [m["id"] for m in history(room)] == [long["id"], reply["id"]]


def test_reactions_count_one_vote_per_person(room: RoomStore) -> None:
    message = say(room, "b1", "lunch?")
    first = change(room, "a1", "react", message["id"], emoji="👍", on=True)
    assert (first["count"], first["trip"], first["sid"]) == (1, "tripalice0", "a1")
    # The same person again (another tab): still one vote.
    room.join("r", "a2", "alice", "tripalice0")
    assert change(room, "a2", "react", message["id"], emoji="👍", on=True)["count"] == 1
    assert change(room, "b1", "react", message["id"], emoji="👍", on=True)["count"] == 2
    assert stored(room, message["id"])["reactions"] == {"👍": ["tripalice0", "b1"]}
    off = change(room, "a1", "react", message["id"], emoji="👍", on=False)
    assert off["count"] == 1 and off["on"] is False
    change(room, "b1", "react", message["id"], emoji="👍", on=False)
    assert "reactions" not in stored(room, message["id"])


def test_a_message_carries_a_bounded_set_of_emoji(room: RoomStore) -> None:
    message = say(room, "b1", "vote")
    emoji = [chr(0x1F600 + n) for n in range(MAX_REACTIONS_PER_MESSAGE + 1)]
    for each in emoji[:-1]:
        room.change_message(
            "r", "a1", Change("react", message["id"], "x", emoji=each, on=True)
        )
    assert refusal(room, "a1", "react", message["id"], emoji=emoji[-1]) == (
        "too_many_reactions"
    )
    # An emoji already there still takes votes.
    assert change(room, "b1", "react", message["id"], emoji=emoji[0])["count"] == 2


def test_retried_changes_are_applied_once(room: RoomStore) -> None:
    message = say(room, "b1", "count me")
    react = Change("react", message["id"], "sid:a1", client_id="c-1", emoji="🎉")
    first, duplicate = room.change_message("r", "a1", react)
    again, duplicate_again = room.change_message("r", "a1", react)
    assert (duplicate, duplicate_again) == (False, True) and again == first
    # The same client_id on a message and on a change are different requests.
    say(room, "a1", "hello", client_id="c-1")
    assert len(history(room)) == 3


def test_changes_need_membership(room: RoomStore) -> None:
    message = say(room, "a1", "hi")
    with pytest.raises(NotAMember):
        change(room, "zz", "react", message["id"], emoji="👍")


def test_person_named_finds_every_connection_of_a_person(room: RoomStore) -> None:
    room.join("r", "a2", "alice", "tripalice0")
    member, sids = room.person_named("r", "ALICE") or (None, [])
    assert member is not None and member.trip == "tripalice0"
    assert sorted(sids) == ["a1", "a2"]
    assert room.person_named("r", "carol") is None
    room.leave("r", "b1")
    assert room.person_named("r", "bob") is None


def test_history_trims_changes_like_messages(room: RoomStore) -> None:
    first = say(room, "a1", "zero")
    for n in range(HISTORY):
        change(room, "b1", "react", first["id"], emoji="👍", on=n % 2 == 0)
    entries = history(room)
    assert len(entries) == HISTORY and "event" in entries[0]
    seqs = [m["seq"] for m in entries]
    assert seqs == list(range(seqs[0], seqs[0] + HISTORY))
    # The message itself is out of history now: changing it is refused.
    assert refusal(room, "b1", "react", first["id"], emoji="👍") == "unknown_message"


def test_a_message_just_out_of_history_is_gone_for_replies_and_changes(
    room: RoomStore,
) -> None:
    """The Redis list is trimmed only once it has outgrown the history by an eighth
    (redis_scripts.store_entry): what it still holds past the last HISTORY entries
    is out of history all the same, in both stores."""
    first = say(room, "a1", "soon gone", client_id="first")
    for n in range(HISTORY):
        say(room, "b1", f"filler {n}")
    entries = history(room)
    assert len(entries) == HISTORY and first["id"] not in {m["id"] for m in entries}
    with pytest.raises(ChangeRefused) as refused:
        say(room, "b1", "about that", reply_to=first["id"])
    assert refused.value.code == "unknown_message"
    assert refusal(room, "a1", "edit", first["id"], text="x") == "unknown_message"
    # A retry of it is still known (its client_id outlives history).
    retry, duplicate = room.add_message(
        "r", "a1", Draft("soon gone", "sid:a1", client_id="first")
    )
    assert duplicate and retry["id"] == first["id"]
    # Changes by position land on the right entries while the list holds more
    # than the history: a deleted message's quote is marked in its reply.
    quoted = say(room, "a1", "quote me")
    reply = say(room, "b1", "quoting", reply_to=quoted["id"])
    change(room, "a1", "delete", quoted["id"])
    assert stored(room, reply["id"])["reply_to"]["deleted"] is True
    assert stored(room, quoted["id"])["deleted"] is True
    assert len(history(room)) == HISTORY


def test_the_redis_history_list_stays_within_an_eighth_of_its_size(
    redis_space: RedisSpace,
) -> None:
    store = RedisRoomStore(redis_space, HISTORY, TTL, node_id="node-a")
    store.join("r", "a1", "alice")
    key = redis_space.key("room", "r", "history")
    lengths = set()
    for n in range(3 * HISTORY):
        say(store, "a1", f"message {n}")
        lengths.add(redis_space.client.llen(key))
        messages = store.snapshot("r", limit=HISTORY).messages
        assert [m["seq"] for m in messages][-1] == n + 1
        assert len(messages) == min(n + 1, HISTORY)
    # Trimmed back to HISTORY once it reaches HISTORY + 5 (an eighth of 40).
    assert max(lengths) == HISTORY + 5 and HISTORY in lengths
