from __future__ import annotations

import io
import logging

from ops.log_limits import RepeatLimitFilter, WithoutInfo, drop_library_info
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


class Server:
    """What drop_library_info needs of an Engine.IO or Socket.IO server."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger: object = logger


def test_a_quiet_library_logger_drops_info_and_keeps_warnings() -> None:
    limit = RepeatLimitFilter()
    logger, stream = make_logger(limit)
    logger.setLevel(logging.ERROR)  # what logger=False sets
    server = Server(logger)
    drop_library_info(server)
    assert isinstance(server.logger, WithoutInfo)
    server.logger.info("received event %s", "message")
    server.logger.debug("pubsub message: %s", "x")
    server.logger.error("handler error")
    assert stream.getvalue() == "handler error\n"
    assert server.logger.name == logger.name  # the rest is the logger's own


def test_a_library_logger_set_to_show_info_is_left_alone() -> None:
    logger, stream = make_logger(RepeatLimitFilter())
    logger.setLevel(logging.INFO)
    server = Server(logger)
    drop_library_info(server)
    assert server.logger is logger
    logger.info("received event %s", "message")
    assert "received event message" in stream.getvalue()
