"""A room under a raid: who must prove work to join, and what newcomers may post.

Raid mode starts by itself when a room gets more newcomer joins or messages in a
minute than RAID_JOINS_PER_MINUTE or RAID_MESSAGES_PER_MINUTE (chat/raids.py), or
when a moderator turns it on; it is kept in the room's policy, so it holds on every
node. While it lasts, a newcomer solves a proof of work to join
(guards/proof_of_work.py) and is then on probation for PROBATION_MINUTES: no links,
no mentions, one message every PROBATION_SLOW_SECONDS. Newcomers already in the room
are held to the same rules while the raid lasts (raiders who came just before it
started too). Regulars and moderators are not slowed down at all: a regular is a
trip that first joined the room at least REGULAR_AFTER_MINUTES ago and came back
within REGULAR_DAYS; everyone else (no trip included) is a newcomer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chat.moderation import MODERATOR, Actor, Moderation, person_key
from chat.protocol import ChatError
from chat.raids import RaidWatch
from chat.spacing import PostSpacing
from guards.proof_of_work import ProofOfWork
from state.policy import RoomPolicy

REGULAR_DAYS = 7
PROBATION_SLOW_SECONDS = 10
REGULAR_CACHE_MS = 30_000
MANUAL_RAID_MS = 30 * 86_400_000  # a moderator's raid mode lasts until turned off
SERVER = Actor("", "the server", None)
# A link as people write them: a scheme, www., or a name under a common TLD.
_LINK = re.compile(
    r"(?i)\b(?:https?://|www\.)|\b[a-z0-9-]+\.(?:com|net|org|io|ru|xyz|info|biz|co"
    r"|me|app|gg|ly|to|cc|tk|top|site|online|link)\b"
)


class RaidDefence:
    """Raid mode, proofs of work at the door, and probation, for every room."""

    def __init__(
        self,
        moderation: Moderation,
        proof: ProofOfWork,
        watch: RaidWatch,
        *,
        raid_minutes: float,
        probation_minutes: float,
        regular_after_minutes: float,
        clock_ms: Callable[[], int],
    ) -> None:
        self._moderation = moderation
        self._policies = moderation.policies
        self.proof = proof
        self._watch = watch
        self._raid_ms = int(raid_minutes * 60_000)
        self._probation_ms = int(probation_minutes * 60_000)
        self._settle_ms = int(regular_after_minutes * 60_000)
        self._now = clock_ms
        self._posts = PostSpacing()
        # regulars[(room, trip)] = (is a regular, until when that answer is kept)
        self._regulars: dict[tuple[str, str], tuple[bool, int]] = {}

    def is_raided(self, policy: RoomPolicy) -> bool:
        return policy.raid_until_ms > self._now()

    def check_door(
        self, room: str, policy: RoomPolicy, trip: str | None, proof: Any
    ) -> bool:
        """Before a join: True when the joiner comes in on probation (a newcomer
        under a raid, with a valid proof); a newcomer without one is refused with
        `challenge_required`, a bad one with `challenge_failed`, each carrying a
        new challenge."""
        if not self.is_raided(policy) or self._is_regular(room, policy, trip):
            return False
        purpose = f"join:{room}"
        if proof is None:
            raise ChatError(
                "challenge_required",
                "This room is under a raid: newcomers show they are real by letting "
                "their device work a moment.",
                challenge=self.proof.challenge(purpose),
            )
        try:
            self.proof.verify(purpose, proof)
        except ChatError as refused:
            if refused.code != "challenge_failed":
                raise
            raise ChatError(
                "challenge_failed",
                refused.message,
                challenge=self.proof.challenge(purpose),
            ) from None
        return True

    def joined(
        self, room: str, policy: RoomPolicy, sid: str, trip: str | None, probation: bool
    ) -> RoomPolicy | None:
        """After a join: regulars are noted, newcomers counted (perhaps starting a
        raid) and, let in under one, put on probation. The policy when raid mode
        started (the room should hear it)."""
        now = self._now()
        regular = self._is_regular(room, policy, trip)
        if trip:
            self._policies.note_seen(room, trip, now)
        if probation:
            key = person_key(sid, trip)

            def put_on_probation(current: RoomPolicy) -> None:
                current.probation[key] = now + self._probation_ms

            self._policies.update(room, put_on_probation)
            return None
        if self.is_raided(policy):
            return None
        if not regular and self._watch.note("join", room, now):
            return self.start(room, SERVER, self._raid_ms)
        return None

    def posted(self, room: str) -> RoomPolicy | None:
        """A message was accepted: the policy when this one started raid mode."""
        if self._watch.note("message", room, self._now()):
            return self.start(room, SERVER, self._raid_ms)
        return None

    def start(self, room: str, actor: Actor, duration_ms: int) -> RoomPolicy:
        """Raid mode on for `duration_ms` (0: off), by a moderator or the server."""

        def change(policy: RoomPolicy) -> None:
            if actor is not SERVER:
                self._moderation.require_moderator(policy, actor)
            now = self._now()
            policy.raid_until_ms = now + duration_ms if duration_ms else 0
            policy.record(
                {
                    "at": now,
                    "action": "raid",
                    "by": actor.username,
                    "by_trip": actor.trip,
                    "value": bool(duration_ms),
                }
            )

        return self._policies.update(room, change)[0]

    def manual(self, room: str, actor: Actor, on: bool) -> RoomPolicy:
        return self.start(room, actor, MANUAL_RAID_MS if on else 0)

    def check_probation(
        self, room: str, sid: str, trip: str | None, text: str, mentions: list[str]
    ) -> None:
        """Refuse what a newcomer on probation may not post yet."""
        policy = self._policies.cached(room)
        if not policy.probation and not policy.raid_until_ms:
            return
        key = person_key(sid, trip)
        now = self._now()
        until = policy.probation.get(key, 0)
        if until <= now:
            if not self.is_raided(policy) or self._is_regular(room, policy, trip, now):
                return
            until = policy.raid_until_ms  # a newcomer already in: while it lasts
        if _LINK.search(text) or mentions:
            raise ChatError(
                "on_probation",
                "During a raid, newcomers' links and mentions wait until their "
                "probation ends.",
                until=until,
                retry_after_ms=until - now,
            )
        why = (
            "During a raid, newcomers can post one message every "
            f"{PROBATION_SLOW_SECONDS} s."
        )
        self._posts.check(room, key, PROBATION_SLOW_SECONDS, now, why)

    def forget_idle(self) -> None:
        now = self._now()
        self._posts.forget_before(now - PROBATION_SLOW_SECONDS * 1000)
        for found, (_, until) in list(self._regulars.items()):
            if until < now:
                self._regulars.pop(found, None)

    def _is_regular(
        self, room: str, policy: RoomPolicy, trip: str | None, cached_at: int = 0
    ) -> bool:
        """Whether `trip` is a regular here; with `cached_at` (the message path),
        an answer up to REGULAR_CACHE_MS old will do."""
        if not trip:
            return False
        if self._moderation.rank(policy, trip) >= MODERATOR:
            return True
        if cached_at:
            known = self._regulars.get((room, trip))
            if known is not None and known[1] > cached_at:
                return known[0]
        now = self._now()
        seen = self._policies.seen(room, trip)
        regular = (
            seen is not None
            and seen[0] <= now - self._settle_ms
            and seen[1] >= now - REGULAR_DAYS * 86_400_000
        )
        self._regulars[(room, trip)] = (regular, now + REGULAR_CACHE_MS)
        return regular
