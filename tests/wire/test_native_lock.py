"""wire/native_lock.py: the OS's own lock whatever patched `threading`, and
Prometheus values made under it."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from support import REPO_ROOT
from wire import native_lock

# Run in a fresh interpreter: monkey-patching cannot be undone in this one.
PROBE = """
import sys
sys.path.insert(0, {server!r})
{patch}
import threading
from wire.native_lock import install_for_metrics, native_lock
lock = native_lock()
green = threading.Lock()
install_for_metrics()
from prometheus_client import CollectorRegistry, Counter
counter = Counter("probe", "probe", registry=CollectorRegistry())
counter.inc()
print(type(lock).__module__, type(lock).__name__)
print(type(green).__module__, type(green).__name__)
print(type(counter._value._lock).__name__, counter._value.get())
"""

PATCHES = {
    "gevent": "from gevent import monkey; monkey.patch_all()",
    "eventlet": (
        "import warnings; warnings.simplefilter('ignore'); "
        "import eventlet; eventlet.monkey_patch()"
    ),
}


@pytest.mark.parametrize("mode", sorted(PATCHES))
def test_the_lock_is_native_where_threading_is_green(mode: str) -> None:
    code = PROBE.format(server=str(REPO_ROOT / "server"), patch=PATCHES[mode])
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    native, green, metric = done.stdout.splitlines()
    assert native == "_thread lock"  # the C lock of CPython's _thread module
    assert green != native  # what the patched threading hands out instead
    assert metric == "lock 1.0"  # Prometheus values count under the native lock


def test_unpatched_it_is_threadings_own_lock() -> None:
    lock = native_lock.native_lock()
    assert type(lock) is type(threading.Lock())
    with lock:
        assert lock.locked()
    assert not lock.locked()
