"""ops/hot_metrics.py against prometheus_client's own Counter and Histogram: the
same counts give the same exposition, `_created` times aside."""

from __future__ import annotations

import re
import threading

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ops.hot_metrics import HotCollector, Tally, TimingsByLabel

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
EVENTS = ("message", "join", "unknown")


def exposition(registry: CollectorRegistry) -> list[str]:
    """The text format's lines, without the `_created` samples (times differ)."""
    text = generate_latest(registry).decode()
    return sorted(line for line in text.splitlines() if "_created" not in line)


def created_lines(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    return sorted(
        re.sub(r" \S+$", "", line)
        for line in text.splitlines()
        if "_created" in line and not line.startswith("#")
    )


def both(
    counts: list[int], timings: list[tuple[str, float]]
) -> tuple[CollectorRegistry, CollectorRegistry]:
    """A registry with the stock classes and one with ours, fed the same."""
    stock, ours = CollectorRegistry(), CollectorRegistry()
    counter = Counter("chat_things", "Things", registry=stock)
    histogram = Histogram(
        "chat_seconds", "Seconds", ["event"], buckets=BUCKETS, registry=stock
    )
    tally = Tally("chat_things", "Things")
    by_label = TimingsByLabel("chat_seconds", "Seconds", "event", BUCKETS)
    ours.register(HotCollector((tally, by_label)))
    for event in EVENTS:  # children made up front, as request_guard.wrap does
        histogram.labels(event)
        by_label.labels(event)
    for amount in counts:
        counter.inc(amount)
        tally.add(amount)
    for event, seconds in timings:
        histogram.labels(event).observe(seconds)
        by_label.labels(event).observe(seconds)
    return stock, ours


@given(
    counts=st.lists(st.integers(min_value=0, max_value=1000), max_size=20),
    timings=st.lists(
        st.tuples(
            st.sampled_from(EVENTS),
            st.one_of(
                st.sampled_from(BUCKETS),  # on a bound: counted in that bucket
                st.floats(min_value=0, max_value=5, allow_nan=False),
            ),
        ),
        max_size=50,
    ),
)
def test_the_same_counts_expose_the_same_samples(
    counts: list[int], timings: list[tuple[str, float]]
) -> None:
    stock, ours = both(counts, timings)
    assert exposition(ours) == exposition(stock)
    assert created_lines(ours) == created_lines(stock)


def test_nothing_observed_still_exposes_every_label_at_zero() -> None:
    stock, ours = both([], [])
    assert exposition(ours) == exposition(stock)
    assert 'chat_seconds_count{event="join"} 0.0' in exposition(ours)


def test_counts_from_many_threads_are_all_kept() -> None:
    tally = Tally("chat_things", "Things")
    timings = TimingsByLabel("chat_seconds", "Seconds", "event", BUCKETS)
    child = timings.labels("message")

    def count() -> None:
        for _ in range(20_000):
            tally.add()
            child.observe(0.003)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tally.value == 80_000
    counts, total = child.snapshot()
    assert counts[BUCKETS.index(0.005)] == 80_000 and sum(counts) == 80_000
    assert abs(total - 80_000 * 0.003) < 1e-6
