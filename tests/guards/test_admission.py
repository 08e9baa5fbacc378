from __future__ import annotations

import pytest

from guards.admission import Admission, MovingWindow
from support import ManualClock


def test_open_connections_per_address_are_capped() -> None:
    admission = Admission("1000 per second", max_per_address=2)
    assert admission.admit("1.1.1.1") is None
    assert admission.admit("1.1.1.1") is None
    assert admission.admit("1.1.1.1") == "too_many_connections"
    assert admission.admit("2.2.2.2") is None
    admission.release("1.1.1.1")
    assert admission.admit("1.1.1.1") is None


def test_new_connections_are_rate_limited_per_address() -> None:
    admission = Admission("3 per 10 seconds", max_per_address=100)
    results = [admission.admit("1.1.1.1") for _ in range(4)]
    assert results == [None, None, None, "connecting_too_fast"]
    assert admission.admit("2.2.2.2") is None


def test_the_window_moves() -> None:
    clock = ManualClock(100.0)
    window = MovingWindow.from_rate("2 per 10 seconds", clock)
    assert [window.hit("a") for _ in range(3)] == [True, True, False]
    clock.now = 109.9
    assert window.hit("a") is False
    clock.now = 110.0  # the first two hits are 10 s old
    assert [window.hit("a") for _ in range(3)] == [True, True, False]


def test_released_addresses_leave_no_state_once_out_of_the_window() -> None:
    clock = ManualClock(0.0)
    admission = Admission("1000 per second", max_per_address=5, clock=clock)
    for _ in range(3):
        admission.admit("1.1.1.1")
    for _ in range(3):
        admission.release("1.1.1.1")
    assert admission.counts() == {"addresses": 0, "open": 0, "remembered": 1}
    clock.now = 1.0
    admission.admit("2.2.2.2")
    admission.release("2.2.2.2")
    assert admission.counts() == {"addresses": 0, "open": 0, "remembered": 1}


@pytest.mark.parametrize("addresses", [200_000])
def test_many_addresses_are_forgotten_as_the_window_moves_on(addresses: int) -> None:
    """200,000 one-off addresses (an IPv6 sweep) leave nothing behind once their
    window has passed, and a hit never scans them all."""
    clock = ManualClock(0.0)
    window = MovingWindow.from_rate("30 per 10 seconds", clock)
    for index in range(addresses):
        clock.now = index * 0.00001  # all within two seconds
        assert window.hit(f"2001:db8::{index:x}")
    assert len(window) == addresses
    clock.now = 12.0
    assert window.hit("192.0.2.1")
    assert len(window) == 1
