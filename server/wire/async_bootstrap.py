"""Monkey-patch the standard library for eventlet or gevent before anything else loads.

`python app.py` imports this first, because eventlet and gevent must patch sockets,
threads and time before Flask, Engine.IO or any of their dependencies import them.
The mode is read here from the environment or `.env`, validated the same way as in
`config.py`, and never guessed from what happens to be installed.
"""

from __future__ import annotations

import os
import sys
import warnings

from dotenv import load_dotenv

from config import REPO_ROOT, ConfigError, parse_async_mode


def patch_from_environment() -> str:
    """Load `.env`, then patch for ASYNC_MODE; a bad value exits with a message."""
    load_dotenv(REPO_ROOT / ".env")
    try:
        mode = parse_async_mode("ASYNC_MODE", os.environ.get("ASYNC_MODE", "eventlet"))
    except ConfigError as error:
        sys.exit(f"Configuration error: {error}")
    if mode == "eventlet":
        # Eventlet warns it is deprecated at import; app.py says so once, plainly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import eventlet
        eventlet.monkey_patch()
    elif mode == "gevent":
        import gevent
        from gevent import monkey

        # Each greenlet would keep its spawning stack and a dict on its parent (the
        # gevent-websocket reader of every connection): about 2.5 KiB per
        # connection for debugging aids nobody reads in production.
        gevent.config.track_greenlet_tree = False
        monkey.patch_all()
    return mode
