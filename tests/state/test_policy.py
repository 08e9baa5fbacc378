"""Rooms' policies and the rules of moderation (issue #14), on both policy stores,
with a clock moved by hand: roles, ownership and its expiry, bans, mutes, slow
mode, locks, listing, the audit log."""

from __future__ import annotations

import pytest

from chat.moderation import Actor, Moderation, Target, address_key
from chat.protocol import ChatError
from state.policy import AUDIT_LOG_SIZE, RoomPolicy
from state.policy_store import MemoryPolicyStore, PolicyStore

from .conftest import SERVER_MOD, Clock

DAY_MS = 86_400_000
SECRET = "policy-test-secret"


def person(name: str, trip: str | None, address: str = "") -> Target:
    key = address_key(address or f"198.51.100.{len(name)}", SECRET)
    return Target(name, trip, (f"sid-{name}",), (key,))


def actor(name: str, trip: str | None) -> Actor:
    return Actor(f"sid-{name}", name, trip)


def own(mod: Moderation, room: str, trip: str, name: str) -> RoomPolicy:
    claimed = mod.arrived(room, mod.admit(room, "sid-x", trip, "addr:x"), trip, name)
    assert claimed is not None
    return claimed


ALICE, BOB, CAROL = actor("alice", "alicetrip2"), person("bob", "bobbtrip22"), None


def test_the_first_trip_owns_the_room_and_keeps_it_while_coming_back(
    mod: Moderation, wall_clock: Clock
) -> None:
    assert (
        mod.arrived("r", mod.admit("r", "sid-x", None, "addr:x"), None, "anon") is None
    )
    policy = own(mod, "r", "alicetrip2", "alice")
    assert mod.info("r", policy)["owner"] == "alicetrip2"
    assert mod.info("r", policy)["owner_name"] == "alice"
    # Someone else arriving changes nothing.
    assert (
        mod.arrived(
            "r", mod.admit("r", "sid-x", "bobbtrip22", "a"), "bobbtrip22", "bob"
        )
        is None
    )
    wall_clock.now += 6 * DAY_MS
    mod.arrived(
        "r", mod.admit("r", "sid-x", "alicetrip2", "a"), "alicetrip2", "alice"
    )  # back
    wall_clock.now += 6 * DAY_MS
    assert mod.role(mod.policies.get("r"), "alicetrip2") == "owner"
    wall_clock.now += 2 * DAY_MS  # away longer than the TTL
    assert mod.role(mod.policies.get("r"), "alicetrip2") == "member"
    policy = own(mod, "r", "bobbtrip22", "bob")
    assert mod.info("r", policy)["owner_name"] == "bob"
    assert [
        entry["action"]
        for entry in mod.audit("r", actor("bob", "bobbtrip22"))["entries"]
    ] == [
        "owner",
        "owner",
    ]


def test_ranks_decide_who_may_act_on_whom(mod: Moderation) -> None:
    own(mod, "r", "alicetrip2", "alice")
    bob_actor = actor("bob", "bobbtrip22")
    with pytest.raises(ChatError) as refused:
        mod.ban("r", bob_actor, person("carol", "caroltrip2"), None)
    assert refused.value.code == "not_allowed"
    mod.appoint("r", ALICE, BOB, True)
    mod.ban("r", bob_actor, person("carol", "caroltrip2"), None)  # a moderator kicks
    with pytest.raises(ChatError) as refused:
        mod.ban("r", bob_actor, person("alice", "alicetrip2"), 10)
    assert refused.value.code == "not_allowed"  # not the owner
    with pytest.raises(ChatError) as refused:
        mod.appoint("r", bob_actor, person("dave", "davetrip22"), True)
    assert refused.value.code == "not_allowed"  # only the owner appoints
    with pytest.raises(ChatError) as refused:
        mod.appoint("r", ALICE, person("eve", None), True)
    assert refused.value.code == "no_trip"
    # A server moderator outranks the owner.
    mod.ban("r", actor("staff", SERVER_MOD), person("alice", "alicetrip2"), 5)
    with pytest.raises(ChatError) as refused:
        mod.admit("r", "sid-x", "alicetrip2", "addr:elsewhere")
    assert refused.value.code == "banned"


def test_a_ban_holds_by_trip_and_by_address_until_it_runs_out(
    mod: Moderation, wall_clock: Clock
) -> None:
    own(mod, "r", "alicetrip2", "alice")
    spammer = person("spam", "spamtrip22", address="203.0.113.7")
    _, until = mod.ban("r", ALICE, spammer, 60)
    assert until == wall_clock.now + 60 * 60_000
    same_address = address_key("203.0.113.7", SECRET)
    for trip, address in (
        ("spamtrip22", "addr:other"),
        ("newtrip222", same_address),
        (None, same_address),
    ):
        with pytest.raises(ChatError) as refused:
            mod.admit("r", "sid-x", trip, address)
        assert refused.value.code == "banned"
        assert refused.value.details["until"] == until
    mod.admit("r", "sid-x", "newtrip222", "addr:other")  # someone else entirely
    mod.admit("elsewhere", "sid-x", "spamtrip22", same_address)  # bans are per room
    wall_clock.now = until + 1
    mod.admit("r", "sid-x", "spamtrip22", same_address)


def test_ipv6_bans_cover_the_64_and_mapped_ipv4_is_ipv4() -> None:
    assert address_key("2001:db8:1:2::1", SECRET) == address_key(
        "2001:db8:1:2:ffff::9", SECRET
    )
    assert address_key("2001:db8:1:2::1", SECRET) != address_key(
        "2001:db8:1:3::1", SECRET
    )
    assert address_key("::ffff:192.0.2.1", SECRET) == address_key("192.0.2.1", SECRET)
    assert address_key("192.0.2.1", SECRET) != address_key("192.0.2.2", SECRET)
    assert "192.0.2.1" not in address_key("192.0.2.1", SECRET)


def test_a_kick_lasts_kick_seconds_and_unban_lifts_it(
    mod: Moderation, wall_clock: Clock
) -> None:
    own(mod, "r", "alicetrip2", "alice")
    _, until = mod.ban("r", ALICE, BOB, None)
    assert until == wall_clock.now + 300_000
    with pytest.raises(ChatError) as refused:
        mod.admit("r", "sid-x", "bobbtrip22", "addr:x")
    assert refused.value.code == "kicked"
    with pytest.raises(ChatError) as refused:
        mod.unban("r", ALICE, "carol")
    assert refused.value.code == "not_banned"
    mod.unban("r", ALICE, "BOB")  # names compare as names do
    mod.admit("r", "sid-x", "bobbtrip22", "addr:x")


def test_mutes_and_slow_mode(mod: Moderation, wall_clock: Clock) -> None:
    own(mod, "r", "alicetrip2", "alice")
    mod.check_post("r", "sid-bob", "bobbtrip22")
    _, until = mod.mute("r", ALICE, BOB, 10)
    with pytest.raises(ChatError) as refused:
        mod.check_post("r", "sid-bob", "bobbtrip22")
    assert refused.value.code == "muted" and refused.value.details["until"] == until
    mod.check_post("r", "sid-carol", "caroltrip2")
    wall_clock.now = until
    mod.check_post("r", "sid-bob", "bobbtrip22")
    mod.mute("r", ALICE, BOB, 10)
    mod.mute("r", ALICE, BOB, 0)  # unmute
    mod.check_post("r", "sid-bob", "bobbtrip22")

    mod.set_room("r", ALICE, "slow", 30, [])
    mod.check_post("r", "sid-carol", "caroltrip2")
    with pytest.raises(ChatError) as refused:
        mod.check_post("r", "sid-carol", "caroltrip2")
    assert refused.value.code == "slow_mode"
    assert refused.value.details["retry_after_ms"] == 30_000
    mod.check_post("r", "sid-carol", "caroltrip2", slow_mode=False)  # an edit
    mod.check_post("r", "sid-alice", "alicetrip2")
    mod.check_post("r", "sid-alice", "alicetrip2")  # the owner is exempt
    wall_clock.now += 30_000
    mod.check_post("r", "sid-carol", "caroltrip2")


def test_a_locked_room_lets_in_those_present_and_moderators(mod: Moderation) -> None:
    own(mod, "r", "alicetrip2", "alice")
    mod.set_room("r", ALICE, "lock", True, ["trip:alicetrip2", "trip:bobbtrip22"])
    mod.admit("r", "sid-x", "bobbtrip22", "addr:x")
    mod.admit("r", "sid-x", SERVER_MOD, "addr:x")
    for trip in ("newtrip222", None):
        with pytest.raises(ChatError) as refused:
            mod.admit("r", "sid-x", trip, "addr:x")
        assert refused.value.code == "room_locked"
    mod.set_room("r", ALICE, "lock", False, [])
    mod.admit("r", "sid-x", None, "addr:x")


def test_only_the_owner_lists_and_hands_over(
    mod: Moderation, policies: PolicyStore
) -> None:
    own(mod, "r", "alicetrip2", "alice")
    mod.appoint("r", ALICE, BOB, True)
    with pytest.raises(ChatError):
        mod.set_room("r", actor("bob", "bobbtrip22"), "list", True, [])
    policy = mod.set_room("r", ALICE, "list", True, [])
    assert mod.info("r", policy)["listed"] is True
    assert policies.listing() == ({"r"}, set())
    mod.set_room("r", ALICE, "list", False, [])
    assert policies.listing() == (set(), {"r"})
    policy = mod.hand_over("r", ALICE, BOB)
    assert policy.owner == "bobbtrip22" and policy.moderators == []
    assert mod.role(policy, "alicetrip2") == "member"


def test_a_failed_action_changes_nothing_and_the_audit_log_is_bounded(
    mod: Moderation, policies: PolicyStore
) -> None:
    own(mod, "r", "alicetrip2", "alice")
    before = policies.get("r").to_json()
    with pytest.raises(ChatError):
        mod.appoint("r", ALICE, person("eve", None), True)
    assert policies.get("r").to_json() == before
    for index in range(AUDIT_LOG_SIZE + 10):
        mod.set_room("r", ALICE, "topic", f"topic {index}", [])
    log = mod.audit("r", ALICE)
    assert len(log["entries"]) == AUDIT_LOG_SIZE
    assert log["entries"][0]["value"] == f"topic {AUDIT_LOG_SIZE + 9}"
    with pytest.raises(ChatError) as refused:
        mod.audit("r", actor("bob", "bobbtrip22"))
    assert refused.value.code == "not_allowed"


def test_idle_policies_are_forgotten_and_addresses_kept_per_connection(
    mod: Moderation, policies: PolicyStore, wall_clock: Clock
) -> None:
    own(mod, "r", "alicetrip2", "alice")
    mod.ban("r", ALICE, BOB, 60 * 24 * 10)  # outlives the owner
    wall_clock.now += 8 * DAY_MS
    policies.forget_idle(wall_clock.now, 7 * DAY_MS)
    assert policies.get("r").bans  # still running
    wall_clock.now += 3 * DAY_MS
    mod.forget_idle()
    if isinstance(policies, MemoryPolicyStore):
        assert policies.get("r").is_empty()
    policies.remember_address("sid-1", "addr:abc")
    assert policies.address_key("sid-1") == "addr:abc"
    policies.forget_address("sid-1")
    assert policies.address_key("sid-1") is None


def test_policies_round_trip_through_json() -> None:
    policy = RoomPolicy(owner="alicetrip2", topic="hi", listed=True)
    assert RoomPolicy.from_json(policy.to_json()) == policy
    assert RoomPolicy.from_json(None) == RoomPolicy()


def test_a_knock_lets_one_person_into_a_locked_room(mod: Moderation) -> None:
    own(mod, "r", "alicetrip2", "alice")
    assert mod.knock("r", "sid-new", None, "newbie") is None  # open: just join
    mod.set_room("r", ALICE, "lock", True, ["trip:alicetrip2"])
    knock = mod.knock("r", "sid-new", None, "newbie")
    again = mod.knock("r", "sid-new", None, "newbie")  # replaces the first
    assert knock is not None and again is not None
    assert [k["id"] for k in mod.audit("r", ALICE)["knocks"]] == [again.id]
    with pytest.raises(ChatError) as refused:
        mod.answer_knock("r", actor("bob", "bobbtrip22"), again.id, True)
    assert refused.value.code == "not_allowed"
    with pytest.raises(ChatError) as refused:
        mod.answer_knock("r", ALICE, knock.id, True)
    assert refused.value.code == "unknown_request"
    mod.answer_knock("r", ALICE, again.id, True)
    mod.admit("r", "sid-new", None, "addr:x")  # that connection only
    with pytest.raises(ChatError):
        mod.admit("r", "sid-other", None, "addr:x")
    turned = mod.knock("r", "sid-other", "othertrip2", "other")
    assert turned is not None
    mod.answer_knock("r", ALICE, turned.id, False)
    with pytest.raises(ChatError):
        mod.admit("r", "sid-other", "othertrip2", "addr:x")
    actions = [entry["action"] for entry in mod.audit("r", ALICE)["entries"]][:2]
    assert actions == ["turned_away", "let_in"]


def test_reports_reach_moderators_once_each(mod: Moderation, wall_clock: Clock) -> None:
    own(mod, "r", "alicetrip2", "alice")
    message = {
        "id": "m1",
        "message": "spam " * 100,
        "username": "spammer",
        "trip": None,
    }
    carol = actor("carol", "caroltrip2")
    report = mod.report("r", carol, message, "spam")
    assert report is not None and len(report.snippet) == 200
    assert mod.report("r", carol, message, "spam again") is None
    assert mod.report("r", actor("dave", None), message, "") is not None
    reports = mod.audit("r", ALICE)["reports"]
    assert [(r["reporter"], r["author"]) for r in reports] == [
        ("carol", "spammer"),
        ("dave", "spammer"),
    ]
    with pytest.raises(ChatError):
        mod.resolve_report("r", carol, report.id)
    mod.resolve_report("r", ALICE, report.id)
    with pytest.raises(ChatError) as refused:
        mod.resolve_report("r", ALICE, report.id)
    assert refused.value.code == "unknown_request"
