"""Chores that keep long-running state bounded: one loop, started by the factory.

Empty rooms past ROOM_TTL_SECONDS are forgotten (the in-memory store; Redis expires
its own keys), rate-limit scores that closed connections left behind are dropped
once they have decayed, and so are rooms' policies (owners gone, bans run out) and
slow-mode times that no longer matter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("chat.housekeeping")

# How often the chores run at most.
MAX_INTERVAL_SECONDS = 60.0


def interval_for(room_ttl_seconds: float) -> float:
    """Often enough that an idle room outlives its TTL by at most a minute."""
    return min(max(room_ttl_seconds, 1.0), MAX_INTERVAL_SECONDS)


def run(
    sleep: Callable[[float], Any],
    interval: float,
    expire_idle_rooms: Callable[[], int],
    forget_old_scores: Callable[[], int],
    *more_chores: Callable[[], Any],
) -> None:
    """The loop; never returns."""
    while True:
        sleep(interval)
        try:
            dropped = expire_idle_rooms()
            forget_old_scores()
            for chore in more_chores:
                chore()
            if dropped:
                log.info("expired %d idle room(s)", dropped)
        except Exception:
            log.exception("housekeeping failed")
