"""Running as one of several nodes on Redis: heartbeat, reaping, readiness, resync.

Flask-SocketIO's Redis message queue carries broadcasts between nodes, but it is
fire-and-forget: python-socketio drops a publish it cannot make after two tries,
and its listener backs off for up to 60 s after losing Redis. So nothing here relies
on it alone: messages are stored before they are broadcast, clients fill seq gaps
from history, and when this node's listener or Redis comes back it tells its
clients each room's last seq (`room_seq`) so they fetch what they missed.

Each node refreshes a heartbeat key; a node whose key expired is dead, and one
survivor removes its members from presence, sending `left` to their rooms.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import socketio

from redis_store import RedisRoomStore
from rooms import Membership, StoreUnavailable

log = logging.getLogger("chat.cluster")

# The longest the pub/sub listener waits before reconnecting to Redis.
LISTENER_RETRY_MAX_SECONDS = 1.0


class ObservedRedisManager(socketio.RedisManager):  # type: ignore[misc]
    """python-socketio's RedisManager, reporting whether its listener is subscribed.

    It replaces `_redis_listen_with_retries` (python-socketio 5.18, pinned) to cap
    the reconnect back-off at one second instead of sixty, and to call `on_restored`
    when the subscription is back, so missed broadcasts can be made up for.
    """

    def __init__(self, url: str, channel: str, on_restored: Callable[[], None]) -> None:
        super().__init__(url, channel=channel, logger=logging.getLogger("chat.queue"))
        self.listening = False
        self._on_restored = on_restored

    def _redis_listen_with_retries(self) -> Any:  # pragma: no cover - needs Redis
        lost = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                self.listening = True
                if lost:
                    log.warning("message queue listener is back")
                    self._on_restored()
                yield from self.pubsub.listen()
            except Exception as error:
                if not lost:
                    log.error("message queue listener lost Redis: %s", error)
                self.listening = False
                lost = True
                time.sleep(LISTENER_RETRY_MAX_SECONDS)


class ClusterKeeper:
    """The background duties of a node: heartbeat, reaping dead nodes, resync."""

    def __init__(
        self,
        sio: socketio.Server,
        store: RedisRoomStore,
        node_timeout: float,
        announce_left: Callable[[Membership], None],
        announce_joined: Callable[[Membership], None],
        resync_room: Callable[[str], None],
    ) -> None:
        self._sio = sio
        self._store = store
        self._node_timeout = node_timeout
        self._announce_left = announce_left
        self._announce_joined = announce_joined
        self._resync_room = resync_room
        self.redis_ok = True
        self.manager: ObservedRedisManager | None = None

    @property
    def ready(self) -> bool:
        listening = self.manager is None or self.manager.listening
        return self.redis_ok and listening

    def start(self) -> None:
        self._sio.start_background_task(self._run)

    def beat(self) -> None:
        """One round: heartbeat, recovery if Redis was lost, reaping of dead nodes."""
        try:
            self._store.heartbeat(self._node_timeout)
        except StoreUnavailable as error:
            if self.redis_ok:
                log.error("lost Redis: %s", error)
            self.redis_ok = False
            return
        if not self.redis_ok:
            log.warning("Redis is back; restoring presence and resyncing clients")
            self.redis_ok = True
            self._restore_presence()
            self.resync_all()
        self._reap_dead_nodes()

    def resync_all(self) -> None:
        """Tell local clients each of their rooms' last seq, so they catch up."""
        rooms = {room for room, _ in self._store.local_memberships()}
        for room in sorted(rooms):
            try:
                self._resync_room(room)
            except StoreUnavailable:
                return

    def _run(self) -> None:
        while True:
            try:
                self.beat()
            except Exception:
                log.exception("cluster upkeep failed")
            self._sio.sleep(max(0.5, self._node_timeout / 3))

    def _restore_presence(self) -> None:
        """Put back local members that survivors removed while we had no Redis."""
        for membership in self._store.retry_deferred_leaves():
            self._announce_left(membership)
        for room, sid in self._store.local_memberships():
            name = self._store.local_username(room, sid)
            if name is None:
                continue
            membership = self._store.join(room, sid, name)
            if membership.changed:
                self._announce_joined(membership)

    def _reap_dead_nodes(self) -> None:
        for node in self._store.dead_nodes():
            if not self._store.claim_reaping(node):
                continue
            members = self._store.members_of_node(node)
            log.warning("node %s is gone; removing its %d members", node, len(members))
            for room, sid in members:
                membership = self._store.leave_of(node, room, sid)
                if membership is not None:
                    self._announce_left(membership)
            self._store.forget_node(node)
