"""Per-connection request limits: a cost-based score that decays with a half-life.

In the spirit of hack.chat's limiter: every request adds its cost to the
connection's score, the score halves every `half_life` seconds, and a request that
would lift it over `threshold` is refused. A refused request still adds its cost, and a
connection that itself keeps sending while refused (refused costs adding up to
`disconnect_score - threshold`, decaying like the score) is cut off.

Scores belong to connections, never to an address: people behind one NAT do not
share a bucket. Yet reconnecting resets nothing, because a closed connection leaves
its score with its address for `memory_seconds`, and the next connection from that
address takes it over (still decaying). Each score left behind is taken over once,
so a flooder's disconnect burdens at most one later connection from its address
(almost always the flooder's own reconnect), never the neighbours already chatting.
A connection that inherits a high score is refused (with `retry_after_ms`) until it
decays, but never cut off for what another connection did: only its own refused
requests count towards that.

The `limits` package was considered: its windows can count per connection or per
address, but cannot hand a decaying score from a closed connection to the next one
without sharing it across the address.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from wire.native_lock import native_lock


@dataclass(frozen=True)
class RatePolicy:
    """Costs and limits; the defaults let a quick typist chat and stop a script."""

    half_life: float = 10.0
    threshold: float = 30.0
    disconnect_score: float = 60.0
    memory_seconds: float = 300.0
    message_cost: float = 1.0
    # Extra cost of a message as long as MAX_MESSAGE_LENGTH (shorter: its share).
    message_length_cost: float = 4.0
    join_cost: float = 3.0
    bad_request_cost: float = 10.0
    request_cost: float = 1.0
    typing_cost: float = 0.2
    # Renames are announced to the whole room: a handful in a row, then one every
    # few seconds.
    rename_cost: float = 6.0


class Verdict(NamedTuple):
    allowed: bool
    retry_after_ms: int
    disconnect: bool


ALLOWED = Verdict(True, 0, False)
# Closed-connection scores kept per address; beyond this, the lowest are dropped.
MAX_SCORES_PER_ADDRESS = 16


class _Score:
    """A decaying score; `refused` is the part its own refused requests added."""

    __slots__ = ("value", "refused", "at")

    def __init__(self, value: float, at: float, refused: float = 0.0) -> None:
        self.value = value
        self.refused = refused
        self.at = at


class ScoreLimiter:
    """Scores of open connections, and of recently closed ones by address."""

    def __init__(
        self, policy: RatePolicy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = native_lock()  # never held while waiting
        self._open: dict[str, tuple[str, _Score]] = {}  # open[sid] = (address, score)
        # closed[address] = scores left behind by closed connections, highest first
        self._closed: dict[str, list[_Score]] = {}

    def open(self, sid: str, address: str) -> None:
        """Start tracking `sid`, taking over the highest score its address left."""
        now = self._clock()
        with self._lock:
            left = self._closed.get(address)
            value = 0.0
            if left:
                value = self._decayed(left.pop(0), now)
                if not left:
                    del self._closed[address]
            self._open[sid] = (address, _Score(value, now))

    def close(self, sid: str) -> None:
        """Stop tracking `sid`; its score stays with its address for a while."""
        now = self._clock()
        with self._lock:
            entry = self._open.pop(sid, None)
            if entry is None:
                return
            address, score = entry
            value = self._decayed(score, now)
            if value <= 0.5:
                return
            left = self._closed.setdefault(address, [])
            left.append(_Score(value, now))
            left.sort(key=lambda s: self._decayed(s, now), reverse=True)
            del left[MAX_SCORES_PER_ADDRESS:]

    def charge(self, sid: str, cost: float) -> Verdict:
        """Add `cost` to the score of `sid`; refused when that crosses the threshold."""
        now = self._clock()
        with self._lock:
            entry = self._open.get(sid)
            if entry is None:
                return ALLOWED
            score = entry[1]
            decay = self._decay(score, now)
            score.value = score.value * decay + cost
            score.refused *= decay
            score.at = now
            if score.value <= self.policy.threshold:
                return ALLOWED
            score.refused += cost
            margin = self.policy.disconnect_score - self.policy.threshold
            return Verdict(
                False,
                self._retry_after_ms(score.value, cost),
                score.refused >= max(margin, cost),
            )

    def score(self, sid: str) -> float:
        with self._lock:
            entry = self._open.get(sid)
            return self._decayed(entry[1], self._clock()) if entry else 0.0

    def forget_old(self) -> int:
        """Drop closed-connection scores that have decayed or outlived memory."""
        now = self._clock()
        forgotten = 0
        with self._lock:
            for address in list(self._closed):
                left = self._closed[address]
                kept = [
                    score
                    for score in left
                    if now - score.at <= self.policy.memory_seconds
                    and self._decayed(score, now) >= 0.5
                ]
                forgotten += len(left) - len(kept)
                if kept:
                    self._closed[address] = kept
                else:
                    del self._closed[address]
        return forgotten

    def counts(self) -> dict[str, int]:
        with self._lock:
            remembered = sum(len(left) for left in self._closed.values())
            return {"open": len(self._open), "remembered": remembered}

    def message_cost(self, length: int, max_length: int) -> float:
        share = min(length, max_length) / max_length if max_length else 0.0
        return self.policy.message_cost + self.policy.message_length_cost * share

    def _decay(self, score: _Score, now: float) -> float:
        elapsed = max(0.0, now - score.at)
        return float(0.5 ** (elapsed / self.policy.half_life))

    def _decayed(self, score: _Score, now: float) -> float:
        return score.value * self._decay(score, now)

    def _retry_after_ms(self, value: float, cost: float) -> int:
        """Time until a request of `cost` fits again: value * 2^(-t/h) + cost <= T."""
        room = self.policy.threshold - cost
        if room <= 0:
            room = self.policy.threshold / 2
        seconds = self.policy.half_life * math.log2(value / room)
        return max(1, math.ceil(seconds * 1000))
