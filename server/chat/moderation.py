"""Who may do what in a room, and what each moderation action changes.

Ranks, highest first: a server moderator (a trip in MOD_TRIPS), the room's owner
(the first trip to join a room without one, for as long as they come back within
ROOM_OWNER_TTL_DAYS), a room moderator (appointed by the owner), a member. Anyone
may act only on people of a lower rank. Actions change the room's policy
(state/policy.py) through its store, atomically, and add to its audit log; the
handlers (chat_events.py) then tell the room.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chat.names import name_keys
from chat.protocol import ChatError
from chat.spacing import PostSpacing
from state.policy import (
    MAX_BANS,
    MAX_KNOCKS,
    MAX_MODERATORS,
    MAX_REPORTS,
    Ban,
    Knock,
    Mute,
    Report,
    RoomPolicy,
)
from state.policy_store import PolicyStore

SERVER_MODERATOR, OWNER, MODERATOR, MEMBER = 4, 3, 2, 1
ROLE_NAMES = {SERVER_MODERATOR: "server_moderator", OWNER: "owner"}
ROLE_NAMES |= {MODERATOR: "moderator", MEMBER: "member"}
MAX_BAN_MINUTES = 30 * 24 * 60
MAX_SLOW_SECONDS = 3600
MAX_TOPIC_LENGTH = 200


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def address_key(address: str, secret: str) -> str:
    """What a ban keeps of an address: an HMAC of its /32 (IPv4) or /64 (IPv6),
    so moderators and the stored policy never hold an address, and one IPv6 host
    cannot step around a ban by taking the next address of its network."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        network = address
    else:
        mapped = (
            parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else None
        )
        if mapped is not None:
            network = str(mapped)
        elif parsed.version == 6:
            network = str(ipaddress.ip_network(f"{parsed}/64", strict=False))
        else:
            network = str(parsed)
    digest = hmac.new(secret.encode(), b"address:" + network.encode(), hashlib.sha256)
    return "addr:" + digest.hexdigest()[:20]


def person_key(sid: str, trip: str | None) -> str:
    """Who a mute or slow mode applies to: a trip, else one connection."""
    return f"trip:{trip}" if trip else f"sid:{sid}"


@dataclass(frozen=True)
class Actor:
    """Someone asking for a moderation action (or being acted on)."""

    sid: str
    username: str
    trip: str | None


@dataclass(frozen=True)
class Target:
    """The person an action is about: their name, trip and every key a ban takes."""

    username: str
    trip: str | None
    sids: tuple[str, ...]
    address_keys: tuple[str, ...]

    @property
    def ban_keys(self) -> list[str]:
        keys = list(self.address_keys)
        if self.trip:
            keys.insert(0, f"trip:{self.trip}")
        return keys

    @property
    def key(self) -> str:
        return person_key(self.sids[0], self.trip)


class Moderation:
    """Roles, admission and the actions of owners and moderators, for every room."""

    def __init__(
        self,
        policies: PolicyStore,
        *,
        server_moderators: frozenset[str],
        owner_ttl_seconds: float,
        kick_seconds: float,
        listed_by_default: bool,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.policies = policies
        self._server_moderators = server_moderators
        self._owner_ttl_ms = int(owner_ttl_seconds * 1000)
        self._kick_ms = int(kick_seconds * 1000)
        self.listed_by_default = listed_by_default
        self._now = clock_ms
        # Slow mode, counted on each node.
        self._posts = PostSpacing()

    # -- reading ------------------------------------------------------------------

    def rank(self, policy: RoomPolicy, trip: str | None) -> int:
        if not trip:
            return MEMBER
        if trip in self._server_moderators:
            return SERVER_MODERATOR
        if trip == policy.owner_at(self._now(), self._owner_ttl_ms):
            return OWNER
        if trip in policy.moderators:
            return MODERATOR
        return MEMBER

    def role(self, policy: RoomPolicy, trip: str | None) -> str:
        return ROLE_NAMES[self.rank(policy, trip)]

    def info(self, room: str, policy: RoomPolicy) -> dict[str, Any]:
        """The `room_info` payload: what everyone in (or looking at) a room sees."""
        owner = policy.owner_at(self._now(), self._owner_ttl_ms)
        return {
            "room": room,
            "owner": owner,
            "owner_name": policy.owner_name if owner else None,
            "moderators": list(policy.moderators),
            "server_moderators": sorted(self._server_moderators),
            "topic": policy.topic,
            "listed": policy.is_listed(self.listed_by_default),
            "locked": policy.locked,
            "slow_seconds": policy.slow_seconds,
            "raid_mode": policy.raid_until_ms > self._now(),
        }

    def audit(self, room: str, actor: Actor) -> dict[str, Any]:
        """The audit log and what is running (bans, mutes), for moderators only."""
        policy = self.policies.get(room)
        self._require(policy, actor, MODERATOR)
        now = self._now()
        policy.forget_expired(now)
        return {
            "room": room,
            "entries": list(reversed(policy.audit)),
            "bans": [
                {
                    "username": ban.username,
                    "trip": ban.trip,
                    "until": ban.until_ms,
                    "by": ban.by,
                    "kind": ban.kind,
                }
                for ban in policy.bans
            ],
            "mutes": [
                {"username": mute.username, "until": mute.until_ms, "by": mute.by}
                for mute in policy.mutes
            ],
            "knocks": [knock_payload(room, knock) for knock in policy.knocks],
            "reports": [report_payload(room, report) for report in policy.reports],
        }

    # -- joining and posting --------------------------------------------------------

    def admit(self, room: str, sid: str, trip: str | None, address: str) -> RoomPolicy:
        """The room's policy, or the refusal of someone banned, kicked or locked
        out. `address` is the joiner's address key."""
        policy = self.policies.get(room)
        now = self._now()
        rank = self.rank(policy, trip)
        # An address ban does not keep out the room's own moderators behind the
        # same address (a shared NAT); a ban of their trip does.
        keys = [f"trip:{trip}"] if trip else []
        if rank < MODERATOR:
            keys.append(address)
        ban = policy.ban_matching(keys, now)
        if ban is not None:
            code = "kicked" if ban.kind == "kick" else "banned"
            verb = "kicked out of" if ban.kind == "kick" else "banned from"
            raise ChatError(
                code,
                f"You were {verb} this room by {ban.by}; you can come back "
                "when it runs out.",
                until=ban.until_ms,
                retry_after_ms=ban.until_ms - now,
            )
        if policy.locked and rank < MODERATOR:
            if person_key(sid, trip) not in policy.allowed:
                raise ChatError("room_locked")
        return policy

    def arrived(
        self, room: str, policy: RoomPolicy, trip: str | None, username: str
    ) -> RoomPolicy | None:
        """A trip joined: the first one in an ownerless room owns it; the owner's
        return keeps their ownership. The new policy when its `room_info` changed."""
        if not trip:
            return None
        owner = policy.owner_at(self._now(), self._owner_ttl_ms)
        if owner is not None and owner != trip:
            return None

        def claim(current: RoomPolicy) -> bool:
            now = self._now()
            holder = current.owner_at(now, self._owner_ttl_ms)
            if holder is not None and holder != trip:
                return False  # someone else got there first
            changed = holder != trip or current.owner_name != username
            if holder != trip:
                current.record(_entry(now, "owner", username, trip, None, None))
            current.owner, current.owner_name, current.owner_seen_ms = (
                trip,
                username,
                now,
            )
            return changed

        updated, changed = self.policies.update(room, claim)
        return updated if changed else None

    def check_post(
        self, room: str, sid: str, trip: str | None, slow_mode: bool = True
    ) -> None:
        """Refuse a message from someone muted, or (`slow_mode`) too soon."""
        policy = self.policies.cached(room)
        if not policy.mutes and not policy.slow_seconds:
            return
        now = self._now()
        key = person_key(sid, trip)
        mute = policy.mute_of(key, now)
        if mute is not None:
            raise ChatError(
                "muted",
                f"{mute.by} muted you here; you can write again when it runs out.",
                until=mute.until_ms,
                retry_after_ms=mute.until_ms - now,
            )
        if slow_mode and policy.slow_seconds and self.rank(policy, trip) < MODERATOR:
            seconds = policy.slow_seconds
            why = f"Slow mode: one message every {seconds} s here."
            self._posts.check(room, key, seconds, now, why)

    def forget_idle(self) -> None:
        """Drop policies and slow-mode times that no longer matter (housekeeping)."""
        now = self._now()
        self.policies.forget_idle(now, self._owner_ttl_ms)
        self._posts.forget_before(now - MAX_SLOW_SECONDS * 1000)

    # -- actions --------------------------------------------------------------------

    def ban(
        self, room: str, actor: Actor, target: Target, minutes: float | None
    ) -> tuple[RoomPolicy, int]:
        """Ban (or with `minutes` None, kick) `target`: (policy, until in ms)."""
        kind = "kick" if minutes is None else "ban"

        def change(policy: RoomPolicy) -> int:
            self._require_over(policy, actor, target)
            now = self._now()
            until = now + (self._kick_ms if minutes is None else int(minutes * 60_000))
            policy.forget_expired(now)
            if len(policy.bans) >= MAX_BANS:
                raise ChatError("not_allowed", "This room has as many bans as it can.")
            if minutes is not None and target.trip:  # a ban also ends their roles
                policy.moderators = [t for t in policy.moderators if t != target.trip]
                if policy.owner == target.trip:
                    policy.owner, policy.owner_name = None, ""
            policy.bans.append(
                Ban(
                    target.ban_keys,
                    target.username,
                    target.trip,
                    until,
                    actor.username,
                    kind,
                )
            )
            policy.record(_entry(now, kind, actor.username, actor.trip, target, until))
            return until

        return self.policies.update(room, change)

    def unban(self, room: str, actor: Actor, username: str) -> RoomPolicy:
        def change(policy: RoomPolicy) -> None:
            self._require(policy, actor, MODERATOR)
            now = self._now()
            policy.forget_expired(now)
            lifted = [ban for ban in policy.bans if _same_name(ban.username, username)]
            if not lifted:
                raise ChatError("not_banned")
            policy.bans = [ban for ban in policy.bans if ban not in lifted]
            policy.record(
                _entry(now, "unban", actor.username, actor.trip, username, None)
            )

        return self.policies.update(room, change)[0]

    def mute(
        self, room: str, actor: Actor, target: Target, minutes: float
    ) -> tuple[RoomPolicy, int]:
        """Mute `target` for `minutes` (0 lifts a mute): (policy, until in ms)."""

        def change(policy: RoomPolicy) -> int:
            self._require_over(policy, actor, target)
            now = self._now()
            policy.forget_expired(now)
            policy.mutes = [mute for mute in policy.mutes if mute.key != target.key]
            until = now + int(minutes * 60_000)
            if minutes > 0:
                policy.mutes.append(
                    Mute(target.key, target.username, until, actor.username)
                )
            action = "mute" if minutes > 0 else "unmute"
            policy.record(
                _entry(now, action, actor.username, actor.trip, target, until)
            )
            return until

        return self.policies.update(room, change)

    def set_room(
        self, room: str, actor: Actor, setting: str, value: Any, present: list[str]
    ) -> RoomPolicy:
        """Change one of the room's settings: topic, slow, lock (moderators) or list
        (owner). Locking lets in those `present` (their person keys)."""
        needed = OWNER if setting == "list" else MODERATOR

        def change(policy: RoomPolicy) -> None:
            self._require(policy, actor, needed)
            if setting == "topic":
                policy.topic = value
            elif setting == "slow":
                policy.slow_seconds = value
            elif setting == "lock":
                policy.locked = value
                policy.allowed = sorted(set(present)) if value else []
            else:
                policy.listed = value
            detail = {"setting": setting, "value": value}
            policy.record(
                _entry(self._now(), setting, actor.username, actor.trip, None, None)
                | detail
            )

        return self.policies.update(room, change)[0]

    def appoint(self, room: str, actor: Actor, target: Target, on: bool) -> RoomPolicy:
        """The owner makes `target` a moderator (or takes it back)."""

        def change(policy: RoomPolicy) -> None:
            self._require(policy, actor, OWNER)
            trip = _trip_of(target)
            if on and trip not in policy.moderators:
                if len(policy.moderators) >= MAX_MODERATORS:
                    raise ChatError(
                        "not_allowed", "This room has as many moderators as it can."
                    )
                policy.moderators.append(trip)
            elif not on:
                policy.moderators = [t for t in policy.moderators if t != trip]
            action = "moderator" if on else "unmoderator"
            policy.record(
                _entry(self._now(), action, actor.username, actor.trip, target, None)
            )

        return self.policies.update(room, change)[0]

    def hand_over(self, room: str, actor: Actor, target: Target) -> RoomPolicy:
        """The owner gives the room to someone else (who must have a trip)."""

        def change(policy: RoomPolicy) -> None:
            self._require(policy, actor, OWNER)
            now = self._now()
            policy.owner, policy.owner_name = _trip_of(target), target.username
            policy.owner_seen_ms = now
            policy.moderators = [t for t in policy.moderators if t != policy.owner]
            policy.record(
                _entry(now, "hand_over", actor.username, actor.trip, target, None)
            )

        return self.policies.update(room, change)[0]

    def knock(
        self, room: str, sid: str, trip: str | None, username: str
    ) -> Knock | None:
        """Ask to be let into a locked room; None when it is not locked (just join).
        Knocking again replaces one's earlier knock."""

        def change(policy: RoomPolicy) -> Knock | None:
            if not policy.locked:
                return None
            now = self._now()
            policy.forget_expired(now)
            key = person_key(sid, trip)
            policy.knocks = [k for k in policy.knocks if k.key != key]
            if len(policy.knocks) >= MAX_KNOCKS:
                raise ChatError(
                    "not_allowed", "Too many people are knocking; try later."
                )
            knock = Knock(secrets.token_hex(6), key, username, trip, sid, now)
            policy.knocks.append(knock)
            return knock

        return self.policies.update(room, change)[1]

    def answer_knock(
        self, room: str, actor: Actor, knock_id: str, approve: bool
    ) -> Knock:
        """A moderator lets a knocker in (they may join while it stays locked) or
        turns them away."""

        def change(policy: RoomPolicy) -> Knock:
            self._require(policy, actor, MODERATOR)
            now = self._now()
            policy.forget_expired(now)
            found = [k for k in policy.knocks if k.id == knock_id]
            if not found:
                raise ChatError("unknown_request")
            knock = found[0]
            policy.knocks.remove(knock)
            if approve and knock.key not in policy.allowed:
                policy.allowed.append(knock.key)
            action = "let_in" if approve else "turned_away"
            policy.record(
                _entry(now, action, actor.username, actor.trip, knock.username, None)
            )
            return knock

        return self.policies.update(room, change)[1]

    def report(
        self, room: str, reporter: Actor, message: dict[str, Any], reason: str
    ) -> Report | None:
        """File a member's report of a message; None when they already reported it."""

        def change(policy: RoomPolicy) -> Report | None:
            key = person_key(reporter.sid, reporter.trip)
            for earlier in policy.reports:
                if earlier.message_id == message["id"] and earlier.reporter_key == key:
                    return None
            report = Report(
                secrets.token_hex(6),
                message["id"],
                message["message"][:200],
                message["username"],
                message.get("trip"),
                reporter.username,
                key,
                reason,
                self._now(),
            )
            policy.reports.append(report)
            del policy.reports[:-MAX_REPORTS]
            return report

        return self.policies.update(room, change)[1]

    def resolve_report(self, room: str, actor: Actor, report_id: str) -> None:
        """A moderator is done with a report (acted on it, or found nothing)."""

        def change(policy: RoomPolicy) -> None:
            self._require(policy, actor, MODERATOR)
            remaining = [r for r in policy.reports if r.id != report_id]
            if len(remaining) == len(policy.reports):
                raise ChatError("unknown_request")
            policy.reports = remaining

        self.policies.update(room, change)

    def is_moderator(self, policy: RoomPolicy, trip: str | None) -> bool:
        return self.rank(policy, trip) >= MODERATOR

    def require_moderator(self, policy: RoomPolicy, actor: Actor) -> None:
        self._require(policy, actor, MODERATOR)

    # -- rules ----------------------------------------------------------------------

    def _require(self, policy: RoomPolicy, actor: Actor, needed: int) -> None:
        if self.rank(policy, actor.trip) < needed:
            who = "the room's owner" if needed == OWNER else "moderators"
            raise ChatError("not_allowed", f"Only {who} can do that here.")

    def _require_over(self, policy: RoomPolicy, actor: Actor, target: Target) -> None:
        self._require(policy, actor, MODERATOR)
        if self.rank(policy, target.trip) >= self.rank(policy, actor.trip):
            raise ChatError(
                "not_allowed", f"{target.username} has as much say here as you."
            )


def knock_payload(room: str, knock: Knock) -> dict[str, Any]:
    """A `knock` as moderators see it."""
    return {
        "room": room,
        "id": knock.id,
        "username": knock.username,
        "trip": knock.trip,
        "at": knock.at_ms,
    }


def report_payload(room: str, report: Report) -> dict[str, Any]:
    """A `report` as moderators see it (never who else reported what)."""
    return {
        "room": room,
        "id": report.id,
        "message_id": report.message_id,
        "snippet": report.snippet,
        "author": report.author,
        "author_trip": report.author_trip,
        "reporter": report.reporter,
        "reason": report.reason,
        "at": report.at_ms,
    }


def _trip_of(target: Target) -> str:
    if not target.trip:
        raise ChatError(
            "no_trip",
            f"{target.username} is unverified (no identity key): no role for them.",
        )
    return target.trip


def _same_name(stored: str, asked: str) -> bool:
    return bool(set(name_keys(stored)) & set(name_keys(asked)))


def _entry(
    at: int,
    action: str,
    by: str,
    by_trip: str | None,
    target: Target | str | None,
    until: int | None,
) -> dict[str, Any]:
    """One line of the audit log."""
    entry: dict[str, Any] = {"at": at, "action": action, "by": by, "by_trip": by_trip}
    if isinstance(target, Target):
        entry["target"], entry["target_trip"] = target.username, target.trip
    elif target is not None:
        entry["target"] = target
    if until is not None:
        entry["until"] = until
    return entry
