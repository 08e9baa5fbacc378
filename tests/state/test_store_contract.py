"""The RoomStore contract (state/base.py), run on the in-memory and the Redis store.

Where the two could differ, the contract decides, and both are held to it:
- a retry's client_id is recognised for DEDUPE_SECONDS after the original, from
  the same sender only, however much history has moved on since;
- counts() is this node's view (its connections and their memberships);
- an empty room keeps its history for the room TTL, then starts a new epoch
  (memory: swept by the housekeeping loop; Redis: key expiry).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from services import RedisProcess
from state.base import (
    DEDUPE_SECONDS,
    Draft,
    NotAMember,
    RoomStore,
    Stored,
    StoreUnavailable,
)
from state.memory import MemoryRoomStore
from state.redis_space import RedisSpace, connect
from state.redis_store import RedisRoomStore
from store_settings import HISTORY, TTL
from support import ManualClock


def draft(text: str, sender: str = "a", client_id: str | None = None) -> Draft:
    return Draft(text=text, dedupe_scope=f"sid:{sender}", client_id=client_id)


def say(store: RoomStore, room: str, sid: str, count: int) -> list[int]:
    return [
        store.add_message(room, sid, draft(f"m{i}", sid))[0]["seq"]
        for i in range(count)
    ]


def test_join_counts_members_and_rejoin_changes_nothing(store: RoomStore) -> None:
    assert store.join("r", "a", "alice").count == 1
    assert store.join("r", "b", "bob").count == 2
    again = store.join("r", "a", "someone-else")
    assert again.changed is False
    assert again.username == "alice"
    assert again.count == 2


def test_leave_reports_count_and_none_when_not_member(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    store.join("r", "b", "bob")
    left = store.leave("r", "a")
    assert left is not None and left.count == 1 and left.username == "alice"
    assert store.leave("r", "a") is None
    assert store.leave("nowhere", "a") is None


def test_leave_all_removes_connection_everywhere(store: RoomStore) -> None:
    store.join("one", "a", "alice")
    store.join("two", "a", "alice")
    store.join("two", "b", "bob")
    left = store.leave_all("a")
    assert sorted(m.room for m in left) == ["one", "two"]
    assert store.rooms_of("a") == set()
    assert store.member("two", "a") is None
    assert store.members("two") == [{"sid": "b", "username": "bob", "trip": None}]


def test_counts_are_this_nodes_connections_and_memberships(store: RoomStore) -> None:
    store.join("one", "a", "alice")
    store.join("two", "a", "alice")
    store.join("two", "b", "bob")
    counts = store.counts()
    assert (counts["members"], counts["connections"]) == (3, 2)
    store.leave_all("a")
    counts = store.counts()
    assert (counts["members"], counts["connections"]) == (1, 1)


def test_messages_get_increasing_seq_and_unique_ids(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    first, _ = store.add_message("r", "a", draft("hello"))
    second, _ = store.add_message("r", "a", draft("again"))
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["id"] != second["id"]
    assert first["username"] == "alice" and first["room"] == "r"
    assert first["sid"] == "a" and first["message"] == "hello"
    assert isinstance(first["timestamp"], int)


def test_a_message_with_every_field_is_stored_and_read_back_whole(
    store: RoomStore,
) -> None:
    """Every optional field, awkward text, a trip and a reply: the message as
    handed back, as kept in history, and the same in every store (the Redis
    script writes the stored fields into the node's JSON as text)."""
    store.join("r", "a", "alice", trip="Tr/p+9")
    store.join("r", "b", "bob")
    original, _ = store.add_message("r", "b", draft('say "hi" \\ /ok', "b"))
    text = 'a "quoted" \\ back/slash, caf\u00e9 \U0001f600, 1 < 2 & {"}'
    reply = Draft(
        text=text,
        dedupe_scope="trip:Tr/p+9",
        client_id="c-1",
        client_timestamp=1764345600123.4567,
        kind="action",
        reply_to=original["id"],
        mentions=("sid:b",),
    )
    stored, duplicate = store.add_message("r", "a", reply)
    assert duplicate is False
    expected = {
        "room": "r",
        "sid": "a",
        "message": text,
        "client_id": "c-1",
        "client_timestamp": 1764345600123.4567,
        "kind": "action",
        "mentions": ["sid:b"],
        "reply_to": {
            "id": original["id"],
            "username": "bob",
            "trip": None,
            "snippet": 'say "hi" \\ /ok',
        },
        "seq": 2,
        "username": "alice",
        "trip": "Tr/p+9",
    }
    assert {key: stored[key] for key in expected} == expected
    assert set(stored) == set(expected) | {"id", "timestamp"}
    kept = store.snapshot("r", limit=10).messages[-1]
    assert kept == stored
    assert store.add_message("r", "a", reply) == (stored, True)


def test_non_member_cannot_post(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    with pytest.raises(NotAMember):
        store.add_message("r", "b", draft("hi", "b"))
    with pytest.raises(NotAMember):
        store.add_message("absent", "a", draft("hi"))


def test_messages_handed_over_later_come_in_order_with_their_refusals(
    store: RoomStore,
) -> None:
    store.join("r", "a", "alice")
    answers: list[Stored] = []
    all_in = threading.Event()

    def then(stored: Stored) -> None:
        answers.append(stored)
        if len(answers) == 4:
            all_in.set()

    store.add_message_then("r", "a", draft("one"), then)
    store.add_message_then("r", "b", draft("not a member", "b"), then)
    store.add_message_then("r", "a", draft("two", client_id="c-2"), then)
    store.add_message_then("r", "a", draft("two", client_id="c-2"), then)
    assert all_in.wait(10)
    assert store.add_message("r", "a", draft("three"))[0]["seq"] == 3
    first, refused, second, retried = answers
    assert first()[0]["seq"] == 1 and first()[1] is False
    with pytest.raises(NotAMember):
        refused()
    assert second()[0]["seq"] == 2 and second()[1] is False
    assert retried()[0]["id"] == second()[0]["id"] and retried()[1] is True


def test_history_is_a_bounded_ring(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    say(store, "r", "a", 8)
    snapshot = store.snapshot("r", limit=100)
    assert [m["seq"] for m in snapshot.messages] == [4, 5, 6, 7, 8]
    assert snapshot.last_seq == 8


def test_client_id_retry_returns_the_original(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    original, duplicate = store.add_message("r", "a", draft("hi", client_id="c-1"))
    retry, duplicate_again = store.add_message("r", "a", draft("hi", client_id="c-1"))
    assert (duplicate, duplicate_again) == (False, True)
    assert retry["id"] == original["id"] and retry["seq"] == original["seq"]
    assert store.snapshot("r", limit=10).last_seq == 1


def test_client_id_is_remembered_after_its_message_left_history(
    store: RoomStore,
) -> None:
    store.join("r", "a", "alice")
    original, _ = store.add_message("r", "a", draft("first", client_id="old"))
    say(store, "r", "a", HISTORY + 3)
    retry, duplicate = store.add_message("r", "a", draft("first", client_id="old"))
    assert duplicate is True and retry["seq"] == original["seq"]


def test_client_id_belongs_to_its_sender(store: RoomStore) -> None:
    """B's client_id "X" says nothing about A's message "X" (issue: A's was lost)."""
    store.join("r", "a", "alice")
    store.join("r", "b", "bob")
    from_b, _ = store.add_message("r", "b", draft("bob's", "b", client_id="X"))
    from_a, duplicate = store.add_message(
        "r", "a", draft("alice's", "a", client_id="X")
    )
    assert duplicate is False
    assert from_a["seq"] == from_b["seq"] + 1 and from_a["message"] == "alice's"
    texts = [m["message"] for m in store.snapshot("r", limit=10).messages]
    assert texts == ["bob's", "alice's"]


def test_client_id_is_forgotten_after_the_dedupe_window(
    store: RoomStore, clock: ManualClock, request: pytest.FixtureRequest
) -> None:
    store.join("r", "a", "alice")
    store.add_message("r", "a", draft("first", client_id="old"))
    if isinstance(store, RedisRoomStore):  # Redis's own clock: the key's expiry
        client = request.getfixturevalue("redis_server").client()
        key = next(client.scan_iter("test:room:r:cid:*"))
        assert 0 < client.ttl(key) <= DEDUPE_SECONDS
        client.close()
        return
    clock.now += DEDUPE_SECONDS
    _, duplicate = store.add_message("r", "a", draft("first", client_id="old"))
    assert duplicate is False


def test_snapshot_since_with_matching_epoch_gives_only_newer(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    say(store, "r", "a", 4)
    epoch = store.snapshot("r", limit=10).epoch
    newer = store.snapshot("r", limit=10, epoch=epoch, since=2)
    assert [m["seq"] for m in newer.messages] == [3, 4]
    assert store.snapshot("r", limit=10, epoch=epoch, since=4).messages == []


def test_snapshot_with_other_epoch_gives_latest(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    say(store, "r", "a", 4)
    stale = store.snapshot("r", limit=10, epoch="gone", since=3)
    assert [m["seq"] for m in stale.messages] == [1, 2, 3, 4]


def test_snapshot_before_scrolls_back_and_limit_applies(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    say(store, "r", "a", 5)
    epoch = store.snapshot("r", limit=10).epoch
    older = store.snapshot("r", limit=2, epoch=epoch, before=4)
    assert [m["seq"] for m in older.messages] == [2, 3]
    gap = store.snapshot("r", limit=2, epoch=epoch, since=1)
    assert [m["seq"] for m in gap.messages] == [2, 3]
    latest = store.snapshot("r", limit=2)
    assert [m["seq"] for m in latest.messages] == [4, 5]


def test_since_older_than_history_gives_everything_kept(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    say(store, "r", "a", 9)
    epoch = store.snapshot("r", limit=10).epoch
    caught_up = store.snapshot("r", limit=10, epoch=epoch, since=1)
    assert [m["seq"] for m in caught_up.messages] == [5, 6, 7, 8, 9]


def test_unknown_room_has_no_epoch(store: RoomStore) -> None:
    snapshot = store.snapshot("never", limit=10)
    assert (snapshot.messages, snapshot.epoch, snapshot.last_seq) == ([], "", 0)


def test_empty_room_keeps_history_within_ttl(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    say(store, "r", "a", 2)
    epoch = store.snapshot("r", limit=10).epoch
    store.leave("r", "a")
    store.join("r", "b", "bob")
    kept = store.snapshot("r", limit=10)
    assert kept.epoch == epoch and kept.last_seq == 2


def test_list_rooms_is_busiest_first_and_skips_empty(store: RoomStore) -> None:
    store.join("quiet", "a", "alice")
    for sid in "bcd":
        store.join("loud", sid, sid)
    store.join("empty", "e", "eve")
    store.leave("empty", "e")
    assert store.list_rooms(limit=10) == [
        {"room": "loud", "count": 3},
        {"room": "quiet", "count": 1},
    ]
    assert store.list_rooms(limit=1) == [{"room": "loud", "count": 3}]


# -- The in-memory store's clock ------------------------------------------------


@pytest.fixture
def memory(clock: ManualClock) -> MemoryRoomStore:
    return MemoryRoomStore(history_size=HISTORY, room_ttl_seconds=TTL, clock=clock)


def test_expired_room_starts_a_new_epoch(
    memory: MemoryRoomStore, clock: ManualClock
) -> None:
    memory.join("r", "a", "alice")
    say(memory, "r", "a", 2)
    epoch = memory.snapshot("r", limit=10).epoch
    memory.leave("r", "a")
    clock.now += TTL + 1
    memory.join("r", "b", "bob")
    fresh = memory.snapshot("r", limit=10)
    assert fresh.epoch != epoch and fresh.last_seq == 0 and fresh.messages == []


def test_sweep_drops_only_expired_rooms(
    memory: MemoryRoomStore, clock: ManualClock
) -> None:
    memory.join("busy", "a", "alice")
    memory.join("idle", "b", "bob")
    memory.leave("idle", "b")
    clock.now += TTL + 1
    assert memory.expire_idle_rooms() == 1
    assert memory.counts() == {"rooms": 1, "members": 1, "connections": 1}


# -- Redis: what a failure must not do --------------------------------------------


@pytest.fixture
def redis_store(
    redis_server: RedisProcess,
) -> Iterator[tuple[RedisRoomStore, RedisSpace]]:
    client = connect(redis_server.url)
    client.flushdb()
    space = RedisSpace(client, "test:")
    space.sync_clock()
    yield RedisRoomStore(space, HISTORY, TTL, node_id="node-a"), space
    client.close()


def test_a_message_the_script_fails_on_uses_up_no_seq(
    redis_store: tuple[RedisRoomStore, RedisSpace],
) -> None:
    """A script that fails part way (here at storing: the history is not a list)
    leaves no gap: the caller hears unavailable, the seq is written only after the
    message is stored, and the next message is numbered on from the last."""
    store, space = redis_store
    store.join("r", "a", "alice")
    say(store, "r", "a", 1)
    history = space.key("room", "r", "history")
    space.client.rename(history, history + ":kept")
    space.client.set(history, "not a list")
    with pytest.raises(StoreUnavailable):
        store.add_message("r", "a", draft("lost"))
    space.client.rename(history + ":kept", history)
    assert say(store, "r", "a", 1) == [2]
    stored = store.snapshot("r", limit=10).messages
    assert [(m["seq"], m["message"]) for m in stored] == [(1, "m0"), (2, "m0")]


def test_a_write_redis_gets_to_late_changes_nothing(
    redis_store: tuple[RedisRoomStore, RedisSpace], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when Redis hung past our timeout: the script refuses, nothing is stored."""
    store, space = redis_store
    store.join("r", "a", "alice")
    monkeypatch.setattr(space, "write_deadline_ms", lambda: 0)
    with pytest.raises(StoreUnavailable):
        store.add_message("r", "a", draft("too late"))
    with pytest.raises(StoreUnavailable):
        store.join("r", "b", "bob")
    monkeypatch.undo()
    assert store.snapshot("r", limit=10).last_seq == 0
    assert store.members("r") == [{"sid": "a", "username": "alice", "trip": None}]
