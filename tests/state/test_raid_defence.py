"""Raid defence (issue #14), on both policy stores with a clock moved by hand: raid
mode by itself and by a moderator, newcomers proving work, probation, regulars."""

from __future__ import annotations

import pytest

from chat.moderation import Actor, Moderation
from chat.protocol import ChatError
from chat.raid_defence import PROBATION_SLOW_SECONDS, RaidDefence
from chat.raids import ConnectionFlood, RaidWatch
from guards.proof_of_work import ProofOfWork, solve
from state.policy_store import PolicyStore

from .conftest import Clock

OWNER = Actor("sid-owner", "owner", "ownertrip2")


@pytest.fixture
def raids(mod: Moderation, policies: PolicyStore, wall_clock: Clock) -> RaidDefence:
    proof = ProofOfWork("s", 8, 60, policies.spend_once, clock_ms=wall_clock)
    return RaidDefence(
        mod,
        proof,
        RaidWatch(joins_per_minute=3, messages_per_minute=5),
        raid_minutes=10,
        probation_minutes=10,
        regular_after_minutes=10,
        clock_ms=wall_clock,
    )


def arrive(mod: Moderation, raids: RaidDefence, sid: str, trip: str | None) -> bool:
    """A join as the handler does it; whether raid mode started with it."""
    policy = mod.admit("r", sid, trip, "addr:x")
    probation = raids.check_door("r", policy, trip, None)
    return raids.joined("r", policy, sid, trip, probation) is not None


def enter_with_proof(raids: RaidDefence, mod: Moderation, sid: str) -> None:
    policy = mod.admit("r", sid, None, "addr:x")
    with pytest.raises(ChatError) as refused:
        raids.check_door("r", policy, None, None)
    assert refused.value.code == "challenge_required"
    challenge = refused.value.details["challenge"]
    proof = {"nonce": challenge["nonce"], "solution": solve(challenge)}
    assert raids.check_door("r", policy, None, proof) is True
    raids.joined("r", policy, sid, None, True)


def test_too_many_newcomers_start_raid_mode_and_regulars_walk_in(
    mod: Moderation, raids: RaidDefence, policies: PolicyStore, wall_clock: Clock
) -> None:
    assert arrive(mod, raids, "s0", "regular222") is False  # first seen now
    wall_clock.now += 11 * 60_000  # settled: a regular from now on
    started = [arrive(mod, raids, f"s{n}", None) for n in range(1, 5)]
    assert started == [False, False, False, True]
    policy = policies.get("r")
    assert mod.info("r", policy)["raid_mode"] is True
    assert arrive(mod, raids, "s9", "regular222") is False  # no proof asked
    with pytest.raises(ChatError) as refused:
        raids.check_door("r", policy, "strangers2", None)
    assert refused.value.code == "challenge_required"
    wall_clock.now += 10 * 60_000 + 1
    assert mod.info("r", policies.get("r"))["raid_mode"] is False
    assert arrive(mod, raids, "late", "strangers2") is False


def test_newcomers_already_in_keep_the_rules_while_the_raid_lasts(
    mod: Moderation, raids: RaidDefence, wall_clock: Clock
) -> None:
    arrive(mod, raids, "early", "earlybird2")  # in just before the raid
    arrive(mod, raids, "old", "oldtimer22")
    wall_clock.now += 11 * 60_000
    arrive(mod, raids, "old", "oldtimer22")  # back: a regular now
    arrive(mod, raids, "late", "latecomer2")  # first seen a moment ago
    raids.manual("r", Actor("", "staff", "servermod2"), True)
    raids.check_probation("r", "old", "oldtimer22", "see example.com", ["x"])
    with pytest.raises(ChatError) as refused:
        raids.check_probation("r", "late", "latecomer2", "see example.com", [])
    assert refused.value.code == "on_probation"
    raids.check_probation("r", "early", "earlybird2", "see example.com", [])  # settled
    raids.manual("r", Actor("", "staff", "servermod2"), False)
    raids.check_probation("r", "late", "latecomer2", "see example.com", [])


def test_a_newcomer_proves_work_and_is_on_probation(
    mod: Moderation, raids: RaidDefence, wall_clock: Clock
) -> None:
    raids.manual("r", Actor("", "staff", "servermod2"), True)
    enter_with_proof(raids, mod, "new")
    for text, mentions in (("see example.com", []), ("hi @bob", ["bobtrip"])):
        with pytest.raises(ChatError) as refused:
            raids.check_probation("r", "new", None, text, mentions)
        assert refused.value.code == "on_probation"
    raids.check_probation("r", "new", None, "hello", [])
    with pytest.raises(ChatError) as refused:
        raids.check_probation("r", "new", None, "again", [])
    assert refused.value.code == "slow_mode"
    wall_clock.now += PROBATION_SLOW_SECONDS * 1000
    raids.check_probation("r", "new", None, "again", [])
    with pytest.raises(ChatError):  # any newcomer, while the raid lasts
        raids.check_probation("r", "someone-else", None, "see example.com", [])
    raids.manual("r", Actor("", "staff", "servermod2"), False)
    with pytest.raises(ChatError):  # probation outlasts the raid
        raids.check_probation("r", "new", None, "see example.com", [])
    wall_clock.now += 10 * 60_000
    raids.check_probation("r", "new", None, "see example.com", ["x"])


def test_only_moderators_switch_raid_mode(mod: Moderation, raids: RaidDefence) -> None:
    mod.arrived(
        "r", mod.admit("r", "sid-owner", "ownertrip2", "a"), "ownertrip2", "owner"
    )
    with pytest.raises(ChatError) as refused:
        raids.manual("r", Actor("s", "member", "membertrip"), True)
    assert refused.value.code == "not_allowed"
    assert mod.info("r", raids.manual("r", OWNER, True))["raid_mode"] is True
    assert mod.info("r", raids.manual("r", OWNER, False))["raid_mode"] is False
    actions = [e["action"] for e in mod.audit("r", OWNER)["entries"]]
    assert actions[:2] == ["raid", "raid"]


def test_a_flood_of_messages_starts_raid_mode(raids: RaidDefence) -> None:
    assert [raids.posted("r") is not None for _ in range(7)] == [
        False,
        False,
        False,
        False,
        False,
        True,
        False,
    ]


def test_a_connection_flood_is_counted_per_minute() -> None:
    flood = ConnectionFlood(per_minute=2)
    assert [flood.flooding(1000) for _ in range(4)] == [False, False, True, True]
    assert flood.flooding(61_000) is False
    assert ConnectionFlood(per_minute=0).flooding(0) is False
