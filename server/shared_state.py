"""Where room state lives: this process (default) or Redis (REDIS_URL).

With Redis, this also builds the message queue manager and starts the node's
cluster upkeep (cluster.py) once the handlers exist.
"""

from __future__ import annotations

import secrets
from typing import Any

from config import Config
from rooms import RoomStore, StoreUnavailable


class SharedState:
    """Where room state lives: this process (default) or Redis (REDIS_URL)."""

    def __init__(
        self,
        store: RoomStore | Any,
        manager: Any = None,
        redis_store: Any = None,
    ) -> None:
        self.store = store
        self.manager = manager
        self._redis_store = redis_store
        self.keeper: Any = None

    @classmethod
    def from_config(cls, config: Config) -> SharedState:
        if not config.redis_url:
            return cls(RoomStore(config.history_size, config.room_ttl_seconds))
        # Imported only here: a single process needs neither redis nor cluster code.
        import cluster
        import redis_store

        client = redis_store.connect(config.redis_url)
        if not redis_store.RedisRoomStore.reachable(client):
            raise StoreUnavailable(f"cannot reach Redis at {config.redis_url}")
        store = redis_store.RedisRoomStore(
            client,
            config.redis_prefix,
            config.history_size,
            config.room_ttl_seconds,
            node_id=secrets.token_hex(6),
        )
        state = cls(store, redis_store=store)
        state.manager = cluster.ObservedRedisManager(
            config.redis_url,
            channel=f"{config.redis_prefix}socketio",
            on_restored=state.resync,
        )
        return state

    def start_keeper(self, sio: Any, events: Any, node_timeout: float) -> None:
        if self._redis_store is None:
            return
        import cluster

        self.keeper = cluster.ClusterKeeper(
            sio,
            self._redis_store,
            node_timeout,
            announce_left=events.announce_left,
            announce_joined=events.announce_joined,
            resync_room=events.resync_room,
        )
        self.keeper.manager = self.manager
        self.keeper.beat()
        self.keeper.start()

    def leave_cluster(self) -> None:
        """Stop counting as a live node (members were already drained)."""
        if self._redis_store is not None:
            try:
                self._redis_store.leave_node()
            except StoreUnavailable:
                pass

    def resync(self) -> None:
        if self.keeper is not None:
            self.keeper.resync_all()

    def ready(self) -> bool:
        """Readiness: always, in memory; on Redis, when Redis and the queue work."""
        if self.keeper is None:
            return True
        return bool(self._redis_store.ping()) and self.keeper.ready
