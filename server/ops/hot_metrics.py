"""Counts kept on every message, cheap to keep, read by Prometheus when scraped.

prometheus_client's Counter.inc and Histogram.observe run four Python calls and a
loop over the buckets for each count (checks, the value object, its lock), and a
message paid that three times. With the libraries' per-packet log lines
(ops/log_limits.WithoutInfo) this saved about 2 % of the instructions per delivery
on the plain path (gevent, bench/instructions.py: 0.978 and 0.985 in two pairs of
runs). Here a count is one call under one lock, and the bucket is
found by `bisect` in C; the exposition (names, `_total`, `_bucket`/`_sum`/`_count`,
`_created`) is prometheus_client's own, through a collector.

Each lock is the OS's (wire/native_lock.py): nothing waits while holding it.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from wire.native_lock import native_lock


def _go_float(bound: float) -> str:
    """A bucket's `le` as prometheus_client writes it (its floatToGoString)."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


class Tally:
    """A Prometheus counter: a count that only goes up."""

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help_text = help_text
        self.created = time.time()
        self.value = 0
        self._lock = native_lock()

    def add(self, amount: int = 1) -> None:
        with self._lock:
            self.value += amount

    def family(self) -> CounterMetricFamily:
        return CounterMetricFamily(
            self.name, self.help_text, value=self.value, created=self.created
        )


class Timings:
    """One label's histogram: counts per bucket (the last is +Inf) and their sum."""

    __slots__ = ("_bounds", "counts", "total", "created", "_lock")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = tuple(bounds)
        self.counts = [0] * (len(self._bounds) + 1)
        self.total = 0.0
        self.created = time.time()
        self._lock = native_lock()

    def observe(self, seconds: float) -> None:
        """As Histogram.observe: the first bucket whose bound is >= `seconds`."""
        with self._lock:
            self.counts[bisect_left(self._bounds, seconds)] += 1
            self.total += seconds

    def snapshot(self) -> tuple[list[int], float]:
        """Counts per bucket and their sum, taken together."""
        with self._lock:
            return list(self.counts), self.total


class TimingsByLabel:
    """A Prometheus histogram with one label, a Timings per value of it."""

    def __init__(
        self, name: str, help_text: str, label: str, buckets: Sequence[float]
    ) -> None:
        self.name = name
        self.help_text = help_text
        self.label = label
        self._buckets = tuple(sorted(buckets))
        self._children: dict[str, Timings] = {}

    def labels(self, value: str) -> Timings:
        """The Timings for `value`, made on first use (at wrap time, not per event)."""
        child = self._children.get(value)
        if child is None:
            child = self._children.setdefault(value, Timings(self._buckets))
        return child

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.help_text, labels=[self.label])
        bounds = [_go_float(bound) for bound in self._buckets] + ["+Inf"]
        for value, child in list(self._children.items()):
            counts, total = child.snapshot()
            cumulative, running = [], 0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            family.add_metric([value], cumulative, sum_value=total)
            family.samples.append(
                Sample(f"{self.name}_created", {self.label: value}, child.created)
            )
        return family


class HotCollector(Collector):
    """Exposes the given tallies and histograms when the registry is scraped."""

    def __init__(self, metrics: Sequence[Tally | TimingsByLabel]) -> None:
        self._metrics = tuple(metrics)

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        for metric in self._metrics:
            yield metric.family()
