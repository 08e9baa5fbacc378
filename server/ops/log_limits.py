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
from typing import Any


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


class WithoutInfo:
    """A library's logger without its info and debug lines.

    Engine.IO and Socket.IO write an info line for every packet received (two per
    chat message), each call costing two Python calls before the level check
    drops it. With `logger=False` their loggers are at ERROR, so those lines were
    never printed; this drops them in one call. Everything else (warning, error,
    exception, attributes) is the logger's own.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def info(self, *args: Any, **kwargs: Any) -> None:
        """Dropped, as the logger's level did."""

    debug = info

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


def drop_library_info(*servers: Any) -> None:
    """Give each Engine.IO/Socket.IO server (`logger` attribute) its logger
    WithoutInfo, unless that logger is set to show info lines."""
    for server in servers:
        logger = server.logger
        if isinstance(logger, logging.Logger) and not logger.isEnabledFor(logging.INFO):
            server.logger = WithoutInfo(logger)


def install(handler_owner: logging.Logger | None = None) -> RepeatLimitFilter:
    """Attach one filter to every handler of the root logger (or `handler_owner`)."""
    logger = handler_owner or logging.getLogger()
    limit = RepeatLimitFilter()
    for handler in logger.handlers:
        handler.addFilter(limit)
    return limit
