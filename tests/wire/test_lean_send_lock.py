"""wire/lean_send_lock.py: eventlet's send lock without its deque until a sender
waits, and the same lock as before for every caller; a handed-over eventlet
websocket sends through one."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from wire import eventlet_handover
from wire.lean_send_lock import lean_send_lock

with warnings.catch_warnings():  # deprecated upstream; it is our default
    warnings.simplefilter("ignore")
    import eventlet
    from eventlet.green import socket as green_socket
    from eventlet.semaphore import Semaphore
    from eventlet.websocket import RFC6455WebSocket


def test_uncontended_it_never_makes_a_deque() -> None:
    lock = lean_send_lock()
    assert isinstance(lock, Semaphore) and not lock.locked()
    for _ in range(3):
        with lock:
            assert lock.locked()
            assert lock.acquire(blocking=False) is False  # held: no wait, no deque
    assert lock._waiters == () and lock.balance == 1


def test_a_second_sender_waits_its_turn() -> None:
    lock = lean_send_lock()
    events: list[str] = []

    def sender(name: str) -> None:
        with lock:
            events.append(f"{name} in")
            eventlet.sleep(0.01)
            events.append(f"{name} out")

    first = eventlet.spawn(sender, "first")
    eventlet.sleep(0)  # first holds the lock
    second = eventlet.spawn(sender, "second")
    first.wait()
    second.wait()
    assert events == ["first in", "first out", "second in", "second out"]
    assert not lock.locked() and lock.balance == 1


@pytest.mark.parametrize("timeout", [0.01, 0.05])
def test_a_wait_that_times_out_leaves_the_lock_working(timeout: float) -> None:
    lock = lean_send_lock()
    lock.acquire()
    waited = eventlet.spawn(lock.acquire, True, timeout).wait()
    assert waited is False and lock.balance == 0
    lock.release()
    assert lock.acquire(blocking=False) is True
    lock.release()


def test_a_handed_over_websocket_sends_through_a_lean_lock() -> None:
    pool = eventlet.GreenPool(2)
    ours, peer = green_socket.socketpair()
    environ = {eventlet_handover.POOL_KEY: pool, "REQUEST_METHOD": "GET"}
    ws = RFC6455WebSocket(ours, environ, 13)
    seen: dict[str, Any] = {}

    def handler(websocket: Any) -> None:
        seen["lock"] = websocket._sendlock
        websocket.send("hello")

    pool.spawn(eventlet_handover.hand_over, ws, handler).wait()
    pool.waitall()
    assert seen["lock"]._waiters == () and not seen["lock"].locked()
    frames = peer.recv(64)
    assert frames.startswith(b"\x81\x05hello")  # the text frame, then the close
    peer.close()
