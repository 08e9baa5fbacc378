"""GET /metrics in Prometheus text format: what the server holds and has done.

Gauges are read from the store and the connection guards at scrape time; the hot
path only increments a few counters and observes one histogram per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flask import Flask, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from rooms import RoomStore

if TYPE_CHECKING:
    from chat_events import ChatEvents, ConnectionGuards
    from framed_broadcast import FramedBroadcast


class ChatStateCollector(Collector):
    """Sizes of the in-memory state, read when scraped."""

    def __init__(
        self, store: RoomStore, events: ChatEvents, guards: ConnectionGuards
    ) -> None:
        self._store = store
        self._events = events
        self._guards = guards

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        store = self._store.counts()
        handlers = self._events.connection_counts()
        limiter = self._guards.limiter.counts()
        admission = self._guards.admission.counts()
        gauges = {
            "chat_connected_clients": ("Open Socket.IO connections", admission["open"]),
            "chat_rooms": ("Rooms held in memory, empty ones included", store["rooms"]),
            "chat_room_members": ("Memberships across all rooms", store["members"]),
            "chat_connections_in_rooms": (
                "Connections in at least one room",
                store["connections"],
            ),
            "chat_client_addresses": (
                "Addresses with open connections",
                admission["addresses"],
            ),
            "chat_rate_limited_connections": (
                "Connections tracked by the rate limiter",
                limiter["open"],
            ),
            "chat_rate_limit_remembered_scores": (
                "Scores of closed connections kept for their addresses",
                limiter["remembered"],
            ),
            "chat_handler_connection_state": (
                "Connections with per-connection handler state",
                handlers["addresses"],
            ),
            "chat_typing_state": (
                "Connections with typing throttle state",
                handlers["typing"],
            ),
            "chat_batching_connections": (
                "Connections that take room messages in `messages` batches",
                handlers["batching"],
            ),
        }
        for name, (help_text, value) in gauges.items():
            yield GaugeMetricFamily(name, help_text, value=value)
        batches = self._events.batches
        yield CounterMetricFamily(
            "chat_message_batches",
            "`messages` batches sent to rooms",
            value=batches.batches_sent,
        )
        yield CounterMetricFamily(
            "chat_batched_messages",
            "Messages sent inside `messages` batches (over batches: mean batch size)",
            value=batches.messages_sent,
        )


class SocketWritesCollector(Collector):
    """How packets reached websockets: directly, or through Engine.IO's queue."""

    def __init__(self, framed: FramedBroadcast) -> None:
        self._framed = framed

    def collect(self) -> Iterator[CounterMetricFamily]:
        writes = CounterMetricFamily(
            "chat_socket_writes",
            "Packets sent to clients, by path: direct (pre-framed, written at once), "
            "partial (direct, but the socket took only part; the rest was queued), "
            "queued (Engine.IO's queue and writer)",
            labels=["path"],
        )
        writes.add_metric(["direct"], self._framed.direct_writes)
        writes.add_metric(["partial"], self._framed.partial_writes)
        writes.add_metric(["queued"], self._framed.queued_writes)
        yield writes


class ChatMetrics:
    """Counters the handlers update; one set per app (tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages_accepted = Counter(
            "chat_messages_accepted",
            "Messages stored (retries with a known client_id not counted)",
            registry=self.registry,
        )
        self.messages_broadcast = Counter(
            "chat_messages_broadcast",
            "Messages broadcast to their room",
            registry=self.registry,
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
        self.latency = Histogram(
            "chat_handler_seconds",
            "Time spent handling a client event",
            ["event"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )


def init_app(
    app: Flask,
    metrics: ChatMetrics,
    store: RoomStore,
    events: ChatEvents,
    guards: ConnectionGuards,
    framed: FramedBroadcast | None = None,
) -> None:
    registry = metrics.registry
    registry.register(ChatStateCollector(store, events, guards))
    if framed is not None:
        registry.register(SocketWritesCollector(framed))

    def serve_metrics() -> Response:
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", serve_metrics)
