"""What one connection may cost below the chat's rate limit (set from Config).

Its own module, free of library imports, because config.py needs it and config.py
is read before eventlet or gevent have patched anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConnectionLimits:
    """Bytes queued for one client at most, and the frames one client may send."""

    max_queued_bytes: int
    frames_per_second: float
    frame_burst: float


def packet_size(pkt: Any) -> int:
    """Bytes a queued Engine.IO packet takes on the wire (close enough for a cap)."""
    data = getattr(pkt, "data", None)
    if isinstance(data, (str, bytes, bytearray)):
        return len(data) + 1
    return 64
