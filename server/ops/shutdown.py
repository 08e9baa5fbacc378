"""Leaving on SIGTERM: take this node's clients out of presence, then exit quickly.

Rooms hear `left` for every member of this node at once (rather than after the
NODE_TIMEOUT_SECONDS it takes others to notice a dead node), the node stops counting
as alive, and the process exits. Its clients see their connection close and
reconnect, through the load balancer, to a node that is still running.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("chat.shutdown")

# Time for the last `left` broadcasts to reach the message queue before exiting.
FLUSH_SECONDS = 0.5
POLL_SECONDS = 0.2


def install(
    sio: Any, drain: Callable[[], int], leave_cluster: Callable[[], None]
) -> None:
    """Handle SIGTERM (and SIGINT) by draining on a background task, then exiting.

    The signal handler only raises a flag: a watcher task polls it. Work started from
    inside the handler would wait for the event loop's next wake-up, which can be a
    minute away on an idle eventlet or gevent server.
    """
    requested = threading.Event()

    def watch() -> None:
        while not requested.is_set():
            sio.sleep(POLL_SECONDS)
        try:
            count = drain()
            leave_cluster()
            log.info("shutting down: %d connection(s) left their rooms", count)
            sio.sleep(FLUSH_SECONDS)
        except Exception:
            log.exception("shutdown drain failed")
        finally:
            logging.shutdown()
            os._exit(0)

    def on_signal(signum: int, frame: Any) -> None:
        if not requested.is_set():
            log.info("received %s", signal.Signals(signum).name)
            requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sio.start_background_task(watch)
