"""A room's rules: who owns and moderates it, who may not come in or speak, how it
is shown. Plain data, the same in both policy stores (state/policy_store.py).

Roles attach to trips (keyed, 50-bit: chat/identity.py), never to names. Bans and
mutes are kept by "holder" keys: `trip:<trip>`, `addr:<hmac of the address>` (a
ban covers both) and, for mutes of someone without a trip, `sid:<sid>`. Times are
wall-clock milliseconds, so every node reads the same expiries.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

AUDIT_LOG_SIZE = 200
MAX_MODERATORS = 50
MAX_BANS = 1000
MAX_KNOCKS = 50
MAX_REPORTS = 100
MAX_PROBATIONS = 2000
KNOCK_SECONDS = 600


@dataclass
class Ban:
    """Who may not come back in, and until when (a kick is a short ban)."""

    keys: list[str]  # trip:... and addr:... keys it matches
    username: str  # their name when banned, to find the ban again (/unban name)
    trip: str | None
    until_ms: int
    by: str  # the moderator's name
    kind: str = "ban"  # "ban" or "kick"


@dataclass
class Mute:
    """Who may read but not post, and until when."""

    key: str  # trip:... or sid:...
    username: str
    until_ms: int
    by: str


@dataclass
class Knock:
    """Someone asking to be let into a locked room."""

    id: str
    key: str  # trip:... or sid:..., what `allowed` gets when they are let in
    username: str
    trip: str | None
    sid: str  # their connection, told the answer
    at_ms: int


@dataclass
class Report:
    """A member's report of a message, for the room's moderators."""

    id: str
    message_id: str
    snippet: str
    author: str
    author_trip: str | None
    reporter: str
    reporter_key: str
    reason: str
    at_ms: int


@dataclass
class RoomPolicy:
    """Everything a room's owner and moderators have decided about it."""

    owner: str | None = None  # trip
    owner_name: str = ""
    owner_seen_ms: int = 0
    moderators: list[str] = field(default_factory=list)  # trips
    listed: bool | None = None  # None: the server's LIST_ROOMS_DEFAULT
    topic: str = ""
    locked: bool = False
    # trip:... and sid:... keys let in while locked (those present, knocks let in)
    allowed: list[str] = field(default_factory=list)
    knocks: list[Knock] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    slow_seconds: int = 0
    # Raid mode until then (ms): newcomers prove work to join, then are on probation.
    raid_until_ms: int = 0
    probation: dict[str, int] = field(default_factory=dict)  # person key -> until
    bans: list[Ban] = field(default_factory=list)
    mutes: list[Mute] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)  # newest last

    # -- reading ------------------------------------------------------------------

    def owner_at(self, now_ms: int, owner_ttl_ms: int) -> str | None:
        """The owner's trip, unless they stayed away longer than the TTL."""
        if self.owner and now_ms - self.owner_seen_ms <= owner_ttl_ms:
            return self.owner
        return None

    def ban_matching(self, keys: list[str], now_ms: int) -> Ban | None:
        """The longest ban still running that matches any of `keys`."""
        running = [
            ban
            for ban in self.bans
            if ban.until_ms > now_ms and any(key in ban.keys for key in keys)
        ]
        return max(running, key=lambda ban: ban.until_ms, default=None)

    def mute_of(self, key: str, now_ms: int) -> Mute | None:
        for mute in self.mutes:
            if mute.key == key and mute.until_ms > now_ms:
                return mute
        return None

    def is_listed(self, listed_by_default: bool) -> bool:
        return listed_by_default if self.listed is None else self.listed

    # -- changing -----------------------------------------------------------------

    def forget_expired(self, now_ms: int) -> None:
        self.bans = [ban for ban in self.bans if ban.until_ms > now_ms]
        self.mutes = [mute for mute in self.mutes if mute.until_ms > now_ms]
        self.probation = {k: u for k, u in self.probation.items() if u > now_ms}
        knocks_since = now_ms - KNOCK_SECONDS * 1000
        self.knocks = [knock for knock in self.knocks if knock.at_ms > knocks_since]

    def record(self, entry: dict[str, Any]) -> None:
        """Add to the audit log, keeping its last AUDIT_LOG_SIZE entries."""
        self.audit.append(entry)
        del self.audit[:-AUDIT_LOG_SIZE]

    def is_empty(self) -> bool:
        """Nothing decided: such a policy need not be kept."""
        return self == RoomPolicy()

    # -- stored form ----------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> RoomPolicy:
        if not raw:
            return cls()
        data = json.loads(raw)
        data["bans"] = [Ban(**ban) for ban in data.get("bans", [])]
        data["mutes"] = [Mute(**mute) for mute in data.get("mutes", [])]
        data["knocks"] = [Knock(**knock) for knock in data.get("knocks", [])]
        data["reports"] = [Report(**report) for report in data.get("reports", [])]
        return cls(**data)
