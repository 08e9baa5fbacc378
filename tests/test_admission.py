from __future__ import annotations

from admission import Admission


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


def test_released_addresses_leave_no_state() -> None:
    admission = Admission("1000 per second", max_per_address=5)
    for _ in range(3):
        admission.admit("1.1.1.1")
    for _ in range(3):
        admission.release("1.1.1.1")
    assert admission.counts() == {"addresses": 0, "open": 0}
