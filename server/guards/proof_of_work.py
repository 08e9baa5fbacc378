"""Proof of work: a newcomer's device works a second or two before it may join a
room under a raid, or connect during a connection flood. No third-party captcha
and no request leaves the page.

Hashcash over SHA-256: the server issues a challenge (a random token, its expiry
and difficulty, signed with an HMAC under the server's secret, so any node can
check it without keeping it); the client finds a `solution` such that
SHA-256("<nonce>:<solution>") starts with `bits` zero bits. A challenge is bound to
its purpose (one room's join, one connection) and is spent on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

from chat.protocol import ChatError

MAX_SOLUTION_LENGTH = 32


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


class ProofOfWork:
    """Issues and checks challenges; `spend(nonce, ttl_ms)` is True the first time."""

    def __init__(
        self,
        secret: str,
        bits: int,
        ttl_seconds: float,
        spend: Callable[[str, int], bool],
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._key = hashlib.sha256(b"proof-of-work:" + secret.encode()).digest()
        self.bits = bits
        self._ttl_ms = int(ttl_seconds * 1000)
        self._spend = spend
        self._now = clock_ms

    def challenge(self, purpose: str) -> dict[str, Any]:
        """A new challenge for `purpose`: {nonce, bits, expires}."""
        token = secrets.token_urlsafe(12)
        expires = self._now() + self._ttl_ms
        nonce = f"{token}.{expires}.{self.bits}"
        nonce = f"{nonce}.{self._sign(purpose, nonce)}"
        return {"nonce": nonce, "bits": self.bits, "expires": expires}

    def verify(self, purpose: str, proof: Any) -> None:
        """Accept a solved challenge for `purpose` once, or refuse it with
        `challenge_failed` (forged, expired, reused, or not enough work)."""
        if not isinstance(proof, dict):
            raise ChatError("invalid_payload", "'proof' must be {nonce, solution}.")
        nonce, solution = proof.get("nonce"), proof.get("solution")
        if (
            not isinstance(nonce, str)
            or not isinstance(solution, str)
            or not 1 <= len(solution) <= MAX_SOLUTION_LENGTH
            or len(nonce) > 200
        ):
            raise ChatError("invalid_payload", "'proof' must be {nonce, solution}.")
        body, _, signature = nonce.rpartition(".")
        parts = body.split(".")
        if len(parts) != 3 or not hmac.compare_digest(
            signature, self._sign(purpose, body)
        ):
            raise self._failed("That challenge was not issued for this.")
        expires, bits = int(parts[1]), int(parts[2])
        if expires < self._now():
            raise self._failed("That challenge ran out; here is a new one.")
        digest = hashlib.sha256(f"{nonce}:{solution}".encode()).digest()
        if leading_zero_bits(digest) < bits:
            raise self._failed("That solution does not do the work asked.")
        if not self._spend(nonce, expires - self._now() + 1000):
            raise self._failed("That challenge was already used.")

    def _failed(self, why: str) -> ChatError:
        return ChatError("challenge_failed", why)

    def _sign(self, purpose: str, body: str) -> str:
        mac = hmac.new(self._key, f"{purpose}\n{body}".encode(), hashlib.sha256)
        return mac.hexdigest()[:24]


def solve(challenge: dict[str, Any], limit: int = 1 << 26) -> str:
    """A solution, found the way a client finds one (for tests and the bench)."""
    nonce, bits = challenge["nonce"], int(challenge["bits"])
    for counter in range(limit):
        solution = format(counter, "x")
        digest = hashlib.sha256(f"{nonce}:{solution}".encode()).digest()
        if leading_zero_bits(digest) >= bits:
            return solution
    raise RuntimeError("no solution within the limit")
