"""What one connection may cost below the chat's rate limit (set from Config).

Its own module, free of library imports, because config.py needs it and config.py
is read before eventlet or gevent have patched anything.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionLimits:
    """Bytes queued for one client at most, and the frames one client may send."""

    max_queued_bytes: int
    frames_per_second: float
    frame_burst: float
