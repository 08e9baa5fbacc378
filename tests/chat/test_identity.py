"""Identity keys and trips (chat/identity.py): fixed vectors, and what is no key."""

from __future__ import annotations

import base64

import pytest

from chat.identity import identity_key, trip_of

KEY = bytes(range(32))
KEY_TEXT = base64.urlsafe_b64encode(KEY).decode().rstrip("=")


def test_trips_match_fixed_vectors() -> None:
    """Pinned: a change here would give every person a new trip."""
    assert trip_of(KEY, "secret") == "i6daxs5zsf"
    assert trip_of(KEY, "another secret") == "czofadly4f"
    assert trip_of(bytes(32), "secret") == "skbrw6htto"


def test_a_trip_is_ten_lower_case_base32_characters() -> None:
    trip = trip_of(KEY, "secret")
    assert len(trip) == 10 and set(trip) <= set("abcdefghijklmnopqrstuvwxyz234567")


def test_the_key_is_read_from_base64url_without_padding() -> None:
    assert KEY_TEXT == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    assert identity_key({"identity": KEY_TEXT}) == KEY


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        {},
        {"identity": None},
        {"identity": 12},
        {"identity": KEY_TEXT[:-1]},  # 42 characters
        {"identity": KEY_TEXT + "A"},  # 44
        {"identity": KEY_TEXT + "="},
        {"identity": "!" * 43},
        {"identity": KEY_TEXT.replace("A", "+", 1)},  # standard, not url-safe
        {"identity": KEY_TEXT[:-1] + "9"},  # leftover bits set: not one encoding
    ],
)
def test_anything_malformed_is_no_identity(auth: object) -> None:
    assert identity_key(auth) is None
