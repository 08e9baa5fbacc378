"""Proof of work (issue #14): a challenge is accepted once, for its purpose, before
it expires, and only with the work it asked for."""

from __future__ import annotations

import pytest

from chat.protocol import ChatError
from guards.proof_of_work import ProofOfWork, leading_zero_bits, solve
from support import wrong_solution


class Spent:
    def __init__(self) -> None:
        self.tokens: set[str] = set()

    def __call__(self, token: str, ttl_ms: int) -> bool:
        assert ttl_ms > 0
        if token in self.tokens:
            return False
        self.tokens.add(token)
        return True


class Clock:
    now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def work(clock: Clock) -> ProofOfWork:
    return ProofOfWork("secret", 10, 60, Spent(), clock_ms=clock)


def refusal(work: ProofOfWork, purpose: str, proof: object) -> str:
    with pytest.raises(ChatError) as refused:
        work.verify(purpose, proof)
    return refused.value.code


def test_a_solved_challenge_is_accepted_once(work: ProofOfWork) -> None:
    challenge = work.challenge("join:r")
    assert challenge["bits"] == 10
    proof = {"nonce": challenge["nonce"], "solution": solve(challenge)}
    work.verify("join:r", proof)
    assert refusal(work, "join:r", proof) == "challenge_failed"  # reused


def test_a_challenge_holds_only_for_its_purpose_and_its_signature(
    work: ProofOfWork,
) -> None:
    challenge = work.challenge("join:r")
    proof = {"nonce": challenge["nonce"], "solution": solve(challenge)}
    assert refusal(work, "join:other", proof) == "challenge_failed"
    token, expires, bits, signature = challenge["nonce"].split(".")
    easier = f"{token}.{expires}.1.{signature}"  # asks for less work: forged
    assert refusal(work, "join:r", {"nonce": easier, "solution": "0"}) == (
        "challenge_failed"
    )
    other_secret = ProofOfWork("other", 10, 60, Spent())
    forged = other_secret.challenge("join:r")
    forged_proof = {"nonce": forged["nonce"], "solution": solve(forged)}
    assert refusal(work, "join:r", forged_proof) == "challenge_failed"


def test_an_expired_challenge_is_refused(work: ProofOfWork, clock: Clock) -> None:
    challenge = work.challenge("join:r")
    proof = {"nonce": challenge["nonce"], "solution": solve(challenge)}
    clock.now += 61_000
    assert refusal(work, "join:r", proof) == "challenge_failed"


def test_too_little_work_is_refused(work: ProofOfWork) -> None:
    challenge = work.challenge("join:r")
    nonce = challenge["nonce"]
    lazy = wrong_solution(challenge)
    assert refusal(work, "join:r", {"nonce": nonce, "solution": lazy}) == (
        "challenge_failed"
    )
    # Not spent by the failed try: the real solution still counts.
    work.verify("join:r", {"nonce": nonce, "solution": solve(challenge)})


@pytest.mark.parametrize(
    "proof",
    [None, "x", {"nonce": 1, "solution": "0"}, {"nonce": "a.b", "solution": "x" * 40}],
)
def test_malformed_proofs_are_invalid_payloads(
    work: ProofOfWork, proof: object
) -> None:
    assert refusal(work, "join:r", proof) == "invalid_payload"


def test_leading_zero_bits() -> None:
    assert leading_zero_bits(b"\x00\x00\xff") == 16
    assert leading_zero_bits(b"\x00\x1f") == 11
    assert leading_zero_bits(b"\x80") == 0
