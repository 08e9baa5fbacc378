from __future__ import annotations

import pytest

from guards.rate_limit import RatePolicy, ScoreLimiter
from support import ManualClock as Clock


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves by hand."""
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> ScoreLimiter:
    """The default policy: half-life 10 s, threshold 30, disconnect at 60."""
    return ScoreLimiter(RatePolicy(), clock=clock)


def test_a_fast_human_types_twenty_short_messages_in_ten_seconds(
    limiter: ScoreLimiter, clock: Clock
) -> None:
    limiter.open("a", "1.1.1.1")
    for _ in range(20):
        assert limiter.charge("a", limiter.message_cost(20, 2000)).allowed
        clock.now += 0.5


def test_a_steady_human_pace_is_never_limited(
    limiter: ScoreLimiter, clock: Clock
) -> None:
    limiter.open("a", "1.1.1.1")
    for _ in range(600):
        assert limiter.charge("a", limiter.message_cost(100, 2000)).allowed
        clock.now += 1.0


def test_a_script_is_stopped_within_its_first_thirty_messages(
    limiter: ScoreLimiter, clock: Clock
) -> None:
    limiter.open("a", "1.1.1.1")
    allowed = 0
    while limiter.charge("a", 1.0).allowed:
        allowed += 1
        clock.now += 0.001
    assert allowed == 30


def test_refusal_says_when_to_retry_and_that_is_accurate(
    limiter: ScoreLimiter, clock: Clock
) -> None:
    limiter.open("a", "1.1.1.1")
    limiter.charge("a", 30.0)
    verdict = limiter.charge("a", 1.0)
    assert not verdict.allowed and verdict.retry_after_ms > 0
    clock.now += verdict.retry_after_ms / 1000
    assert limiter.charge("a", 1.0).allowed


def test_hammering_while_limited_leads_to_disconnect(
    limiter: ScoreLimiter,
) -> None:
    limiter.open("a", "1.1.1.1")
    verdicts = [limiter.charge("a", 1.0) for _ in range(61)]
    assert not verdicts[30].allowed and not verdicts[30].disconnect
    assert verdicts[-1].disconnect


def test_score_halves_every_half_life(limiter: ScoreLimiter, clock: Clock) -> None:
    limiter.open("a", "1.1.1.1")
    limiter.charge("a", 20.0)
    clock.now += 10
    assert limiter.score("a") == pytest.approx(10.0)


def test_reconnecting_inherits_the_decaying_score_of_the_address(
    limiter: ScoreLimiter, clock: Clock
) -> None:
    limiter.open("a", "1.1.1.1")
    limiter.charge("a", 40.0)
    limiter.close("a")
    clock.now += 10
    limiter.open("b", "1.1.1.1")
    assert limiter.score("b") == pytest.approx(20.0)
    assert not limiter.charge("b", 15.0).allowed


def test_neighbours_on_one_address_keep_their_own_scores(
    limiter: ScoreLimiter,
) -> None:
    limiter.open("flooder", "10.0.0.1")
    limiter.open("neighbour", "10.0.0.1")
    for _ in range(100):
        limiter.charge("flooder", 1.0)
    assert limiter.charge("neighbour", 1.0).allowed


def test_memory_of_closed_connections_is_forgotten(
    limiter: ScoreLimiter, clock: Clock
) -> None:
    limiter.open("a", "1.1.1.1")
    limiter.charge("a", 30.0)
    limiter.close("a")
    assert limiter.counts() == {"open": 0, "remembered": 1}
    clock.now += 301
    assert limiter.forget_old() == 1
    assert limiter.counts() == {"open": 0, "remembered": 0}


def test_a_quiet_connection_leaves_nothing_behind(limiter: ScoreLimiter) -> None:
    limiter.open("a", "1.1.1.1")
    limiter.close("a")
    assert limiter.counts() == {"open": 0, "remembered": 0}


def test_longer_messages_cost_more(limiter: ScoreLimiter) -> None:
    assert limiter.message_cost(0, 2000) == 1.0
    assert limiter.message_cost(1000, 2000) == 3.0
    assert limiter.message_cost(99999, 2000) == 5.0


def test_a_score_left_behind_is_taken_over_once(
    limiter: ScoreLimiter, clock: Clock
) -> None:
    limiter.open("flooder", "10.0.0.1")
    limiter.charge("flooder", 50.0)
    limiter.close("flooder")
    limiter.open("flooder-again", "10.0.0.1")
    limiter.open("neighbour", "10.0.0.1")
    assert limiter.score("flooder-again") == pytest.approx(50.0)
    assert limiter.score("neighbour") == 0.0


def test_memory_per_address_is_bounded(limiter: ScoreLimiter) -> None:
    for n in range(100):
        limiter.open(f"s{n}", "10.0.0.1")
        limiter.charge(f"s{n}", 5.0)
    for n in range(100):
        limiter.close(f"s{n}")
    assert limiter.counts()["remembered"] == 16
