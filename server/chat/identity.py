"""Who someone is without an account: an identity key in the browser, a trip here.

A client makes a random 32-byte identity key once (or derives it from `name#password`
on its own side) and sends it in its connect auth. The server never stores it or
logs it: it only derives the person's *trip*, the first 10 characters (50 bits) of
base32(HMAC-SHA256(TRIP_SECRET, key)). Without TRIP_SECRET nobody can compute a
trip offline, so a trip cannot be mined for a collision; every node of a cluster
shares the secret, so a trip is the same on every node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

TRIP_LENGTH = 10
KEY_BYTES = 32
# 32 bytes in base64url without padding: 43 characters, the last of 16 possible.
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")


def identity_key(auth: Any) -> bytes | None:
    """The 32-byte key a connect auth carries (base64url, no padding), or None.

    Lenient like the rest of the auth: anything malformed is simply no identity.
    """
    if not isinstance(auth, dict):
        return None
    raw = auth.get("identity")
    if not isinstance(raw, str) or not _KEY_PATTERN.fullmatch(raw):
        return None
    return base64.urlsafe_b64decode(raw + "=")


def trip_of(key: bytes, secret: str) -> str:
    """The person's trip: 10 lower-case base32 characters (50 bits)."""
    digest = hmac.new(secret.encode(), key, hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:TRIP_LENGTH]
