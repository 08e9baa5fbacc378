"""Names, trips and leases in both room stores (the RoomStore contract, state/base.py).

The in-memory store runs on a clock moved by hand; the Redis store on Redis's own
clock, so its lease tests wait out the 1 s lease for real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from state.base import Draft, NameTaken, NotAMember, RoomStore
from state.memory import MemoryRoomStore
from state.redis_space import RedisSpace
from state.redis_store import RedisRoomStore
from store_settings import HISTORY, LEASE, TTL
from support import ManualClock

Advance = Callable[[float], None]


@pytest.fixture
def advance(store: RoomStore, clock: ManualClock) -> Advance:
    """Let `seconds` pass for the store: the manual clock, or real time for Redis."""

    def wait(seconds: float) -> None:
        if isinstance(store, RedisRoomStore):
            time.sleep(seconds)
        else:
            clock.now += seconds

    return wait


def taken_suggestion(
    store: RoomStore, room: str, sid: str, name: str, trip: str | None = None
) -> str:
    with pytest.raises(NameTaken) as refused:
        store.join(room, sid, name, trip)
    return refused.value.suggestion


@pytest.mark.parametrize(
    "lookalike",
    ["alice", "Alice", "ALICE", "\u0430lice", "ａｌｉｃｅ", "al\u200bice", "aIice"],
    ids=[
        "same",
        "capital",
        "upper",
        "cyrillic-a",
        "fullwidth",
        "zero-width",
        "capital-i",
    ],
)
def test_a_name_that_looks_the_same_is_taken(store: RoomStore, lookalike: str) -> None:
    store.join("r", "a", "alice", "tripalice1")
    assert (
        taken_suggestion(store, "r", "b", lookalike, "tripbob0001") == lookalike + "2"
    )
    assert store.members("r") == [
        {"sid": "a", "username": "alice", "trip": "tripalice1"}
    ]


def test_the_suggestion_is_free(store: RoomStore) -> None:
    store.join("r", "a", "alice", "trip-a")
    store.join("r", "b", "alice2", "trip-b")
    suggestion = taken_suggestion(store, "r", "c", "Alice", "trip-c")
    assert suggestion == "Alice3"
    assert store.join("r", "c", suggestion, "trip-c").username == "Alice3"


def test_the_same_name_in_another_room_is_fine(store: RoomStore) -> None:
    store.join("one", "a", "alice", "trip-a")
    assert store.join("two", "b", "alice", "trip-b").username == "alice"


def test_two_tabs_of_one_trip_are_one_person(store: RoomStore) -> None:
    first = store.join("r", "a1", "alice", "trip-a")
    second = store.join("r", "a2", "someone-else", "trip-a")
    assert (first.person_changed, second.person_changed) == (True, False)
    assert second.changed and second.username == "alice" and second.count == 1
    assert store.members("r") == [{"sid": "a1", "username": "alice", "trip": "trip-a"}]
    assert store.list_rooms(10) == [{"room": "r", "count": 1}]
    message, _ = store.add_message("r", "a2", Draft("hi", "sid:a2"))
    assert (message["username"], message["trip"]) == ("alice", "trip-a")
    one_left = store.leave("r", "a1")
    assert one_left is not None and not one_left.person_changed and one_left.count == 1
    assert store.members("r") == [{"sid": "a2", "username": "alice", "trip": "trip-a"}]
    last_left = store.leave("r", "a2")
    assert last_left is not None and last_left.person_changed and last_left.count == 0


def test_connections_without_a_trip_are_separate_people(store: RoomStore) -> None:
    store.join("r", "a", "anon-1")
    assert taken_suggestion(store, "r", "b", "anon-1") == "anon-12"
    message, _ = store.add_message("r", "a", Draft("hi", "sid:a"))
    assert message["trip"] is None
    store.leave("r", "a")
    # No trip, no lease: the name is free the moment its holder left.
    assert store.join("r", "b", "anon-1").username == "anon-1"


def test_a_name_waits_for_its_trip_while_away(
    store: RoomStore, advance: Advance
) -> None:
    store.join("r", "a", "alice", "trip-a")
    store.join("r", "b", "bob", "trip-b")
    (left,) = store.leave_all("a")  # their connection dropped
    assert left.person_changed and left.trip == "trip-a"
    assert store.members("r") == [{"sid": "b", "username": "bob", "trip": "trip-b"}]
    taken_suggestion(store, "r", "c", "alice", "trip-c")
    taken_suggestion(store, "r", "d", "ALICE")  # nor without a trip
    back = store.join("r", "a-again", "alice", "trip-a")
    assert back.person_changed and back.username == "alice" and back.count == 2


def test_a_lease_runs_out(store: RoomStore, advance: Advance) -> None:
    store.join("r", "a", "alice", "trip-a")
    store.join("r", "b", "bob", "trip-b")  # keeps the room alive
    store.leave_all("a")
    advance(LEASE / 2)
    taken_suggestion(store, "r", "c", "alice", "trip-c")
    advance(LEASE / 2 + 0.15)
    assert store.join("r", "c", "alice", "trip-c").username == "alice"
    # The old owner now finds it taken, like anyone else.
    assert taken_suggestion(store, "r", "a2", "alice", "trip-a") == "alice2"


def test_leaving_on_purpose_frees_the_name_at_once(store: RoomStore) -> None:
    store.join("r", "a", "alice", "trip-a")
    store.join("r", "b", "bob", "trip-b")
    store.leave("r", "a")
    assert store.join("r", "c", "alice", "trip-c").username == "alice"


def test_coming_back_under_another_name_frees_the_old_one(store: RoomStore) -> None:
    store.join("r", "a", "alice", "trip-a")
    store.leave_all("a")
    store.join("r", "a2", "alicia", "trip-a")
    assert store.join("r", "c", "alice", "trip-c").username == "alice"


def test_rename_moves_the_name_for_every_tab(store: RoomStore) -> None:
    store.join("r", "a1", "alice", "trip-a")
    store.join("r", "a2", "alice", "trip-a")
    renamed = store.rename("r", "a2", "alicia")
    assert (renamed.old, renamed.new, renamed.trip) == ("alice", "alicia", "trip-a")
    member = store.member("r", "a1")
    assert member is not None and member.username == "alicia"
    message, _ = store.add_message("r", "a1", Draft("hi", "sid:a1"))
    assert message["username"] == "alicia"
    # The old name is free again, the new one is held.
    assert store.join("r", "c", "Alice", "trip-c").username == "Alice"
    with pytest.raises(NameTaken) as refused:
        store.rename("r", "c", "ALICIA")
    assert refused.value.suggestion == "ALICIA2"


def test_rename_to_ones_own_name_in_another_case_is_fine(store: RoomStore) -> None:
    store.join("r", "a", "alice", "trip-a")
    assert store.rename("r", "a", "Alice").new == "Alice"
    assert store.members("r")[0]["username"] == "Alice"


def test_rename_outside_the_room_is_refused(store: RoomStore) -> None:
    store.join("r", "a", "alice", "trip-a")
    with pytest.raises(NotAMember):
        store.rename("elsewhere", "a", "alicia")
    with pytest.raises(NotAMember):
        store.rename("r", "stranger", "alicia")


def test_a_refused_join_changes_nothing(store: RoomStore) -> None:
    store.join("r", "a", "alice", "trip-a")
    taken_suggestion(store, "r", "b", "alice", "trip-b")
    assert store.member("r", "b") is None
    assert store.rooms_of("b") == set()
    assert store.list_rooms(10) == [{"room": "r", "count": 1}]
    assert store.counts()["members"] == 1


# -- The in-memory store: lease bookkeeping on the manual clock -------------------


def test_housekeeping_forgets_leases_that_ran_out(clock: ManualClock) -> None:
    memory = MemoryRoomStore(HISTORY, TTL * 100, nick_lease_seconds=LEASE, clock=clock)
    memory.join("r", "b", "bob", "trip-b")
    for index in range(50):
        memory.join("r", f"s{index}", f"name{index}", f"trip{index}")
        memory.leave_all(f"s{index}")
    clock.now += LEASE + 0.01
    memory.expire_idle_rooms()
    state = memory._rooms["r"]
    assert len(state.people) == 1 and len(state.names) == len(
        state.people["trip:trip-b"].keys
    )


def test_a_zero_lease_frees_a_name_at_once(clock: ManualClock) -> None:
    memory = MemoryRoomStore(HISTORY, TTL, nick_lease_seconds=0, clock=clock)
    memory.join("r", "b", "bob", "trip-b")
    memory.join("r", "a", "alice", "trip-a")
    memory.leave_all("a")
    assert memory.join("r", "c", "alice", "trip-c").username == "alice"


# -- Redis: several nodes, one truth ----------------------------------------------


def node(space: RedisSpace, name: str) -> RedisRoomStore:
    return RedisRoomStore(space, HISTORY, TTL, node_id=name, nick_lease_seconds=LEASE)


def test_a_name_held_on_one_node_is_refused_on_another(redis_space: RedisSpace) -> None:
    node_a, node_b = node(redis_space, "node-a"), node(redis_space, "node-b")
    node_a.join("r", "a", "alice", "trip-a")
    with pytest.raises(NameTaken):
        node_b.join("r", "b", "Аlice", "trip-b")  # Cyrillic А
    # The same trip through the other node is the same person.
    second_tab = node_b.join("r", "a2", "whatever", "trip-a")
    assert not second_tab.person_changed and second_tab.username == "alice"


def test_a_lease_outlives_a_dead_node(redis_space: RedisSpace) -> None:
    """A survivor reaping a dead node's members starts their leases, as a leave."""
    node_a, node_b = node(redis_space, "node-a"), node(redis_space, "node-b")
    node_a.join("r", "a", "alice", "trip-a")
    node_b.join("r", "b", "bob", "trip-b")
    reaped = node_b.leave_of("node-a", "r", "a")
    assert reaped is not None and reaped.person_changed
    with pytest.raises(NameTaken):
        node_b.join("r", "c", "alice", "trip-c")
    assert node_b.join("r", "a-back", "alice", "trip-a").username == "alice"


def test_claims_racing_on_two_nodes_give_the_name_once(redis_space: RedisSpace) -> None:
    """One script per claim: of 16 people grabbing one name at once, one gets it."""
    stores = [node(redis_space, "node-a"), node(redis_space, "node-b")]
    winners: list[str] = []
    start = threading.Barrier(16)

    def claim(index: int) -> None:
        start.wait()
        try:
            stores[index % 2].join("r", f"s{index}", "alice", f"trip{index}")
            winners.append(f"s{index}")
        except NameTaken:
            pass

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert [m["sid"] for m in stores[0].members("r")] == winners
