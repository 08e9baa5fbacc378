from __future__ import annotations

import io
import logging

from ops.log_limits import RepeatLimitFilter
from support import ManualClock as Clock


def make_logger(limit: RepeatLimitFilter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(limit)
    logger = logging.getLogger(f"test.log_limits.{id(limit)}")
    logger.propagate = False
    logger.addHandler(handler)
    return logger, stream


def test_a_burst_of_identical_lines_is_cut_to_the_limit_and_counted() -> None:
    clock = Clock()
    logger, stream = make_logger(RepeatLimitFilter(burst=5, window=60, clock=clock))
    for n in range(10_000):
        logger.warning("bad frame from %s", n)
    assert stream.getvalue().count("bad frame") == 5
    clock.now += 61
    logger.warning("bad frame from %s", "later")
    assert "[9995 similar lines suppressed]" in stream.getvalue()


def test_different_lines_are_limited_separately() -> None:
    logger, stream = make_logger(RepeatLimitFilter(burst=1, window=60, clock=Clock()))
    logger.warning("one")
    logger.warning("two")
    logger.warning("one")
    assert stream.getvalue().splitlines() == ["one", "two"]
