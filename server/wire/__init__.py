"""Everything that reaches into Engine.IO, Socket.IO, eventlet, gevent or
prometheus_client internals.

The rest of the server uses those libraries' public APIs only; the patches live
here, each in a module whose docstring says what it replaces, the gain measured and
how to remove it. `install` applies them, each only when the libraries it touches
are exactly the versions it was written for (versions.py); otherwise it logs one
warning and that part runs the stock library path.

Imported before monkey-patching (app.py imports wire.async_bootstrap first), so this
package imports nothing at load time: `install` imports its modules when called.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socketio

    from wire.engine_socket import WireCounters
    from wire.framed_broadcast import FramedBroadcast
    from wire.later_acks import InFlight
    from wire.limits import ConnectionLimits

log = logging.getLogger("chat.wire")


@dataclass
class Installed:
    """What `install` put in place, for metrics and tests."""

    skipped: dict[str, dict[str, str]] = field(default_factory=dict)
    counters: WireCounters | None = None
    framed: FramedBroadcast | None = None
    # Messages acknowledged once stored, their connection reading on meanwhile
    # (later_acks.py): only with a store that answers after a round trip.
    in_flight: InFlight | None = None

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self.counters is not None:
            counts.update(self.counters.counts())
        if self.framed is not None:
            counts.update(self.framed.counts())
        if self.in_flight is not None:
            counts["messages_in_flight"] = self.in_flight.count()
        return counts


def install(
    sio: socketio.Server,
    async_mode: str,
    limits: ConnectionLimits,
    direct_writes: bool,
    store_round_trips: bool = False,
) -> Installed:
    """Apply the patches to `sio` (and, where unavoidable, to library classes)."""
    from wire import (
        engine_socket,
        eventlet_handover,
        fast_packet,
        framed_broadcast,
        gevent_handover,
        heartbeat,
        later_acks,
        lean_queue,
        native_lock,
        packet_filter,
        versions,
        websocket_limits,
        websocket_speedups,
        writer_on_demand,
    )

    skipped = versions.patches_to_skip(async_mode)
    if skipped:
        log.warning(
            "library versions differ from those the wire patches were written for; "
            "running the stock library path for: %s. Protections and speed-ups in "
            "those patches are off until requirements.txt pins the tested versions.",
            "; ".join(
                f"{patch} ({', '.join(f'{p} {why}' for p, why in wrong.items())})"
                for patch, wrong in sorted(skipped.items())
            ),
        )
    installed = Installed(skipped=skipped)
    if "fast_packet" not in skipped:
        # Before packet_filter wraps the message handler it puts in place.
        fast_packet.install(sio)
    # Not patches: public hooks, always on.
    packet_filter.install(sio)
    if "engine_socket" not in skipped:
        installed.counters = engine_socket.install(sio.eio, limits, async_mode)
        if "writer_on_demand" not in skipped:
            writer_on_demand.install(sio.eio, async_mode)
    if "lean_queue" not in skipped:
        lean_queue.install(sio.eio, async_mode)
    if "websocket_limits" not in skipped:
        websocket_limits.install(sio.eio, async_mode)
    if "websocket_speedups" not in skipped:
        websocket_speedups.install(async_mode)
    if "heartbeat" not in skipped:
        heartbeat.install(sio.eio)
    if "native_locks" not in skipped:
        native_lock.install_for_metrics()
    # An idle reader may end its green thread (resting.py) where the read loop,
    # the wait at a message boundary and the heartbeat that closes silent
    # clients are ours.
    readers_rest = not {
        "engine_socket",
        "writer_on_demand",
        "websocket_limits",
        "heartbeat",
    } & set(skipped)
    if async_mode == "gevent" and "gevent_handover" not in skipped:
        # Before framed_broadcast wraps it.
        gevent_handover.install(sio.eio, readers_rest)
    if async_mode == "eventlet" and "eventlet_handover" not in skipped:
        # Before framed_broadcast wraps it.
        eventlet_handover.install(sio.eio, readers_rest)
    if direct_writes and "framed_broadcast" not in skipped:
        installed.framed = framed_broadcast.install(sio, async_mode)
    if store_round_trips and "later_acks" not in skipped:
        installed.in_flight = later_acks.InFlight(native_lock.native_lock())
        later_acks.install(sio, installed.in_flight)
    return installed


def relays_messages(async_mode: str) -> bool:
    """Whether chat messages take the relay channel (queue_listener.py) rather
    than the Socket.IO queue: only with the patched listener that reads it."""
    from wire import versions

    return "queue_listener" not in versions.patches_to_skip(async_mode)


def redis_manager(
    url: str,
    channel: str,
    on_restored: Any,
    async_mode: str,
    relay_channel: str,
) -> Any:
    """The Socket.IO message queue on Redis: with a listener that reports its health
    and carries the relay (queue_listener.py), or python-socketio's own if that
    patch is skipped."""
    if not relays_messages(async_mode):
        import socketio

        return socketio.RedisManager(url, channel=channel)
    from wire.queue_listener import ObservedRedisManager

    return ObservedRedisManager(
        url,
        channel=channel,
        on_restored=on_restored,
        relay_channel=relay_channel,
    )
