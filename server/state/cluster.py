"""Running as one of several nodes on Redis: heartbeat, reaping, readiness, recovery.

Flask-SocketIO's Redis message queue carries broadcasts between nodes, but it is
fire-and-forget: python-socketio drops a publish it cannot make after two tries.
So nothing here relies on it alone: messages are stored before they are broadcast,
clients fill seq gaps from history, and when this node's queue listener or Redis
comes back, the node puts back its members' presence (Redis may have restarted
empty, or survivors may have reaped us) and tells its clients each room's last seq
(`room_seq`) so they fetch what they missed.

Each node refreshes a heartbeat (nodes.py); a node whose heartbeat expired is dead,
and one survivor removes its members from presence, sending `left` to their rooms.
A node that was only paused for that long (or whose Redis lost it) finds itself gone
from `nodes` at its next heartbeat, and recovers the same way: other nodes relay
messages only to the nodes listed there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from state.base import Membership, NameTaken, StoreUnavailable
from state.nodes import NodeRegistry
from state.redis_store import RedisRoomStore

log = logging.getLogger("chat.cluster")

Sleep = Callable[[float], Any]
StartTask = Callable[..., Any]


class ClusterKeeper:
    """The background duties of a node: heartbeat, reaping dead nodes, recovery."""

    def __init__(
        self,
        store: RedisRoomStore,
        registry: NodeRegistry,
        node_timeout: float,
        announce_left: Callable[[Membership, str], None],
        announce_joined: Callable[[Membership], None],
        resync_room: Callable[[str], None],
        listening: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._registry = registry
        self._node_timeout = node_timeout
        self._announce_left = announce_left
        self._announce_joined = announce_joined
        self._resync_room = resync_room
        self._listening = listening
        self._recovering = threading.Lock()
        self._registered = False  # this node's first heartbeat is done
        self.redis_ok = True

    @property
    def ready(self) -> bool:
        return self.redis_ok and self._listening()

    @property
    def interval(self) -> float:
        return max(0.5, self._node_timeout / 3)

    def run(self, sleep: Sleep) -> None:
        """The keeper's loop; the factory starts it as a background task."""
        while True:
            try:
                self.beat()
            except Exception:
                log.exception("cluster upkeep failed")
            sleep(self.interval)

    def beat(self) -> None:
        """One round: heartbeat, recovery if Redis was lost, reaping of dead nodes."""
        try:
            known = self._registry.heartbeat(self._node_timeout)
        except StoreUnavailable as error:
            if self.redis_ok:
                log.error("lost Redis: %s", error)
            self.redis_ok = False
            return
        if not self.redis_ok:
            log.warning("Redis is back; restoring presence and resyncing clients")
            self.redis_ok = True
            self.recover()
        elif not known and self._registered:
            log.warning(
                "this node had been taken for dead (a pause longer than its node "
                "timeout?); restoring presence and resyncing clients"
            )
            self.recover()
        self._registered = True
        self._reap_dead_nodes()

    def recover(self) -> None:
        """Put back this node's presence and resync its clients (Redis came back,
        or the queue listener reconnected: Redis may have restarted empty)."""
        if not self._recovering.acquire(blocking=False):
            return  # a recovery is already running; it covers this one
        try:
            self._restore_presence()
            self.resync_all()
        except StoreUnavailable as error:
            log.warning("recovery postponed, Redis is unreachable: %s", error)
            self.redis_ok = False
        finally:
            self._recovering.release()

    def resync_all(self) -> None:
        """Tell local clients each of their rooms' last seq, so they catch up."""
        rooms = {room for room, _, _ in self._store.local_memberships()}
        for room in sorted(rooms):
            self._resync_room(room)

    def _restore_presence(self) -> None:
        """Put back local members that Redis lost or survivors removed meanwhile."""
        for membership in self._store.retry_deferred_leaves():
            self._announce_left(membership, "disconnect")
        self._registry.heartbeat(self._node_timeout)
        for room, sid, member in self._store.local_memberships():
            try:
                membership = self._store.join(room, sid, member.username, member.trip)
            except NameTaken as taken:
                # Someone took the name while Redis was empty: rejoin as close to it
                # as is free, rather than not at all.
                membership = self._store.join(room, sid, taken.suggestion, member.trip)
            if membership.person_changed and membership.changed:
                self._announce_joined(membership)

    def _reap_dead_nodes(self) -> None:
        for node in self._registry.dead_nodes():
            if not self._registry.claim_reaping(node):
                continue
            members = self._registry.members_of(node)
            log.warning("node %s is gone; removing its %d members", node, len(members))
            for room, sid in members:
                membership = self._store.leave_of(node, room, sid)
                if membership is not None:
                    self._announce_left(membership, "lost")
            self._registry.forget(node)
