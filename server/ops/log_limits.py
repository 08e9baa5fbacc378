"""Logs that survive abuse: repeated log lines are rate-limited.

A client sending thousands of bad frames can make libraries log a warning or a
traceback for each; this filter lets `burst` lines of one kind through per
`window` seconds, then counts the rest and reports the count with the next line
of that kind that gets through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class RepeatLimitFilter(logging.Filter):
    """Passes at most `burst` records per (logger, level, template) per window."""

    def __init__(
        self,
        burst: int = 20,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._burst = burst
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        # seen[key] = [window start, passed in window, suppressed since last pass]
        self._seen: dict[tuple[str, int, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg)[:200])
        now = self._clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is None or now - entry[0] >= self._window:
                suppressed = int(entry[2]) if entry else 0
                self._seen[key] = [now, 1, 0]
                if len(self._seen) > 10_000:
                    self._seen.clear()
                self._note(record, suppressed)
                return True
            if entry[1] < self._burst:
                entry[1] += 1
                return True
            entry[2] += 1
            return False

    @staticmethod
    def _note(record: logging.LogRecord, suppressed: int) -> None:
        if suppressed:
            record.msg = f"{record.msg} [{suppressed} similar lines suppressed]"


LIBRARY_LOGGERS = ("engineio.server", "socketio.server")


def route_library_loggers() -> None:
    """Send Engine.IO/Socket.IO logs through the root handlers (and their limit).

    With `logger=False` both libraries attach a StreamHandler of their own to their
    logger, which would print every traceback a bad frame causes, unfiltered.
    """
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True


def install(handler_owner: logging.Logger | None = None) -> RepeatLimitFilter:
    """Attach one filter to every handler of the root logger (or `handler_owner`)."""
    logger = handler_owner or logging.getLogger()
    limit = RepeatLimitFilter()
    for handler in logger.handlers:
        handler.addFilter(limit)
    return limit
