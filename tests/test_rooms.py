from __future__ import annotations

import pytest

from rooms import NotAMember, RoomStore
from support import ManualClock as FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A monotonic clock the test moves by hand."""
    return FakeClock(1000.0)


@pytest.fixture
def store(clock: FakeClock) -> RoomStore:
    """A store with a 5-message history and a 60 s room TTL."""
    return RoomStore(history_size=5, room_ttl_seconds=60, clock=clock)


def say(store: RoomStore, room: str, sid: str, count: int) -> list[int]:
    return [store.add_message(room, sid, f"m{i}")[0]["seq"] for i in range(count)]


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
    assert store.counts()["connections"] == 1
    assert store.members("two") == [{"sid": "b", "username": "bob"}]


def test_messages_get_increasing_seq_and_unique_ids(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    first, _ = store.add_message("r", "a", "hello")
    second, _ = store.add_message("r", "a", "again")
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["id"] != second["id"]
    assert first["username"] == "alice" and first["room"] == "r"


def test_non_member_cannot_post(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    with pytest.raises(NotAMember):
        store.add_message("r", "b", "hi")
    with pytest.raises(NotAMember):
        store.add_message("absent", "a", "hi")


def test_history_is_a_bounded_ring(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    say(store, "r", "a", 8)
    snapshot = store.snapshot("r", limit=100)
    assert [m["seq"] for m in snapshot.messages] == [4, 5, 6, 7, 8]
    assert snapshot.last_seq == 8


def test_client_id_retry_returns_the_original(store: RoomStore) -> None:
    store.join("r", "a", "alice")
    original, duplicate = store.add_message("r", "a", "hi", client_id="c-1")
    retry, duplicate_again = store.add_message("r", "a", "hi", client_id="c-1")
    assert (duplicate, duplicate_again) == (False, True)
    assert retry["id"] == original["id"] and retry["seq"] == original["seq"]
    assert store.snapshot("r", limit=10).last_seq == 1


def test_client_id_is_forgotten_once_its_message_leaves_history(
    store: RoomStore,
) -> None:
    store.join("r", "a", "alice")
    store.add_message("r", "a", "first", client_id="old")
    say(store, "r", "a", 5)
    _, duplicate = store.add_message("r", "a", "first", client_id="old")
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


def test_empty_room_keeps_history_until_ttl(store: RoomStore, clock: FakeClock) -> None:
    store.join("r", "a", "alice")
    say(store, "r", "a", 2)
    epoch = store.snapshot("r", limit=10).epoch
    store.leave("r", "a")
    clock.now += 59
    store.join("r", "b", "bob")
    kept = store.snapshot("r", limit=10)
    assert kept.epoch == epoch and kept.last_seq == 2


def test_expired_room_starts_a_new_epoch(store: RoomStore, clock: FakeClock) -> None:
    store.join("r", "a", "alice")
    say(store, "r", "a", 2)
    epoch = store.snapshot("r", limit=10).epoch
    store.leave("r", "a")
    clock.now += 61
    store.join("r", "b", "bob")
    fresh = store.snapshot("r", limit=10)
    assert fresh.epoch != epoch and fresh.last_seq == 0 and fresh.messages == []


def test_sweep_drops_only_expired_rooms(store: RoomStore, clock: FakeClock) -> None:
    store.join("busy", "a", "alice")
    store.join("idle", "b", "bob")
    store.leave("idle", "b")
    clock.now += 61
    assert store.expire_idle_rooms() == 1
    assert store.counts() == {"rooms": 1, "members": 1, "connections": 1}


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
