"""GET /metrics in Prometheus text format: what the server holds and has done.

The hot path only increments a few counters and observes one histogram per
request, all kept by ops/hot_metrics.py (cheaper than prometheus_client's own
classes; exposed by its registry all the same). Everything else is read at scrape
time from the parts' own `counts()`, which the factory hands over as callables:
this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from flask import Flask, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ops.hot_metrics import HotCollector, Tally, TimingsByLabel

Counts = Callable[[], Mapping[str, int]]

# name: (help, source, key in that source's counts())
GAUGES = {
    "chat_connected_clients": ("Open Engine.IO sessions", "admission", "open"),
    "chat_client_addresses": ("Addresses with open sessions", "admission", "addresses"),
    "chat_admission_remembered_addresses": (
        "Addresses in the connection-rate window",
        "admission",
        "remembered",
    ),
    "chat_rooms": ("Rooms known, empty ones included", "store", "rooms"),
    "chat_room_members": (
        "Memberships of this node's connections",
        "store",
        "members",
    ),
    "chat_connections_in_rooms": (
        "This node's connections in at least one room",
        "store",
        "connections",
    ),
    "chat_rate_limited_connections": (
        "Connections tracked by the rate limiter",
        "limiter",
        "open",
    ),
    "chat_rate_limit_remembered_scores": (
        "Scores of closed connections kept for their addresses",
        "limiter",
        "remembered",
    ),
    "chat_handler_connection_state": (
        "Connections with per-connection handler state",
        "connections",
        "connections",
    ),
    "chat_typing_state": (
        "Connections with typing throttle state",
        "connections",
        "typing",
    ),
    "chat_batching_connections": (
        "Connections that take room messages in `messages` batches",
        "connections",
        "batching",
    ),
    "chat_resting_readers": (
        "Idle websockets whose reader has given up its green thread until they "
        "are readable",
        "wire",
        "resting_readers",
    ),
    "chat_messages_in_flight": (
        "Messages read and being stored (one Redis round trip), acked once stored",
        "wire",
        "messages_in_flight",
    ),
}
COUNTERS = {
    "chat_message_batches": ("`messages` batches sent to rooms", "batches", "batches"),
    "chat_batched_messages": (
        "Messages sent inside `messages` batches (over batches: mean batch size)",
        "batches",
        "messages",
    ),
    "chat_slow_consumers_dropped": (
        "Connections dropped for not reading what they were sent",
        "wire",
        "slow_consumers_dropped",
    ),
    "chat_frame_budget_closes": (
        "Connections closed for sending frames faster than their budget",
        "wire",
        "frame_budget_closes",
    ),
    "chat_ping_timeouts": (
        "Connections closed for not answering pings",
        "wire",
        "ping_timeouts",
    ),
    "chat_reader_wakes": (
        "Resting websocket readers woken by something to read",
        "wire",
        "reader_wakes",
    ),
}


class StateCollector(Collector):
    """Sizes of the in-memory state and counts kept by the parts, read when scraped."""

    def __init__(self, sources: Mapping[str, Counts]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        values = {name: dict(counts()) for name, counts in self._sources.items()}
        for name, (help_text, source, key) in GAUGES.items():
            if key in values.get(source, {}):
                yield GaugeMetricFamily(name, help_text, value=values[source][key])
        for name, (help_text, source, key) in COUNTERS.items():
            if key in values.get(source, {}):
                yield CounterMetricFamily(name, help_text, value=values[source][key])
        wire = values.get("wire", {})
        if "direct_writes" in wire:
            writes = CounterMetricFamily(
                "chat_socket_writes",
                "Packets sent to clients, by path: direct (pre-framed, written at "
                "once), partial (direct, but the socket took only part; the rest was "
                "queued), queued (Engine.IO's queue and writer)",
                labels=["path"],
            )
            writes.add_metric(["direct"], wire["direct_writes"])
            writes.add_metric(["partial"], wire["partial_writes"])
            writes.add_metric(["queued"], wire["queued_writes"])
            yield writes


class ChatMetrics:
    """Counters the handlers update; one set per app (tests build many apps).
    Those counted on every message are hot_metrics' classes; the rest are
    prometheus_client's."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages_accepted = Tally(
            "chat_messages_accepted",
            "Messages stored (retries with a known client_id not counted)",
        )
        self.messages_broadcast = Tally(
            "chat_messages_broadcast", "Messages broadcast to their room"
        )
        self.errors = Counter(
            "chat_errors",
            "Requests refused, by error code",
            ["code"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "chat_rate_limited_requests",
            "Requests refused by the rate limiter",
            registry=self.registry,
        )
        self.store_errors = Counter(
            "chat_store_errors",
            "Requests that failed because Redis could not be reached",
            registry=self.registry,
        )
        self.latency = TimingsByLabel(
            "chat_handler_seconds",
            "Time spent handling a client event (with Redis, a message's until it "
            "is handed to the store: its round trip is not in it)",
            "event",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self.registry.register(
            HotCollector(
                (self.messages_accepted, self.messages_broadcast, self.latency)
            )
        )


def init_app(app: Flask, metrics: ChatMetrics, sources: Mapping[str, Counts]) -> None:
    """Serve /metrics: `metrics`' counters and the `sources`' counts."""
    registry = metrics.registry
    registry.register(StateCollector(sources))

    def serve_metrics() -> Response:
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", serve_metrics)
