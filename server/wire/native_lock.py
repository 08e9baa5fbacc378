"""The operating system's own lock, for critical sections that never wait, even where
eventlet or gevent patched `threading`.

Once patched, `threading.Lock()` is a green lock whose acquire and release run in
Python, and a message takes about ten of them on its way (the rate limiter, the
store, the batches, the raid watch, and each Prometheus value it counts). A green
thread only gives way when it waits (on I/O, a sleep, a queue), so a section that
never waits cannot be entered by another green thread while one is inside: for it
the native lock is never contended, and costs one C call. Under threading it is what
`threading.Lock()` is anyway. Measured: 42.6k -> 40.5k instructions per delivery
(gevent, batches, bench/instructions.py).

The rule that comes with it: hold one only around code that never waits. A green
thread that waited while holding it would block the whole process at the next
acquire. Locks around callbacks, I/O or Redis (the policy store, the Redis store,
the script pipeline) stay `threading.Lock()`.

`install_for_metrics` gives prometheus_client's values the same lock (a module
global it reads when a value is made, prometheus-client 0.26.0; wire/versions.py).
To remove: `threading.Lock()` in place of `native_lock()`, and drop the
`install_for_metrics` call in wire/__init__.py.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any


def _native_factory() -> Callable[[], Any]:
    """allocate_lock from the unpatched `_thread`, whichever library patched it."""
    if "gevent.monkey" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            factory: Callable[[], Any] = monkey.get_original("_thread", "allocate_lock")
            return factory
    if "eventlet.patcher" in sys.modules:
        from eventlet import patcher

        if patcher.is_monkey_patched("thread"):
            original: Any = patcher.original("_thread")
            return original.allocate_lock  # type: ignore[no-any-return]
    return threading.Lock


def native_lock() -> Any:
    """A new lock from the operating system (see the module's rule on its use).
    Looked up each time: made at start-up only, and right after patching too."""
    return _native_factory()()


def install_for_metrics() -> None:
    """Prometheus values made from now on count under native locks."""
    from prometheus_client import values

    # A module global MutexValue reads when made (PRIVATE_SURFACE in versions.py).
    setattr(values, "Lock", native_lock)  # noqa: B010
