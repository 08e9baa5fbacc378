"""Where room state lives: this process (default) or Redis (REDIS_URL).

With Redis this also builds the node registry, the Socket.IO message queue
manager, and (once the handlers exist) the cluster keeper.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from config import Config
from state.base import Membership, RoomStore, StoreUnavailable
from state.memory import MemoryRoomStore
from state.policy_store import MemoryPolicyStore, PolicyStore


class SharedState:
    """The room store, and with Redis the queue manager and the cluster keeper."""

    def __init__(
        self, store: RoomStore, policies: PolicyStore, manager: Any = None
    ) -> None:
        self.store = store
        # Rooms' owners, moderators and rules (state/policy_store.py).
        self.policies = policies
        self.manager = manager
        self.keeper: Any = None
        # (RedisRoomStore, NodeRegistry, RedisSpace) with REDIS_URL
        self._redis: Any = None

    @classmethod
    def from_config(cls, config: Config) -> SharedState:
        if not config.redis_url:
            return cls(
                MemoryRoomStore(
                    config.history_size,
                    config.room_ttl_seconds,
                    config.nick_lease_seconds,
                    edit_window_seconds=config.edit_window_seconds,
                ),
                MemoryPolicyStore(),
            )
        # Imported only here: a single process needs neither redis nor cluster code.
        import wire
        from state import redis_space
        from state.nodes import NodeRegistry
        from state.policy_store import RedisPolicyStore
        from state.redis_store import RedisRoomStore, relay_channel

        client = redis_space.connect(config.redis_url)
        if not redis_space.reachable(client):
            raise StoreUnavailable(f"cannot reach Redis at {config.redis_url}")
        space = redis_space.RedisSpace(client, config.redis_prefix)
        space.sync_clock()
        node_id = secrets.token_hex(6)
        queue_channel = f"{config.redis_prefix}socketio"
        relay_prefix = (
            f"{queue_channel}:messages:"
            if wire.relays_messages(config.async_mode)
            else ""
        )
        store = RedisRoomStore(
            space,
            config.history_size,
            config.room_ttl_seconds,
            node_id,
            config.nick_lease_seconds,
            edit_window_seconds=config.edit_window_seconds,
            relay_prefix=relay_prefix,
        )
        state = cls(store, RedisPolicyStore(space, config.room_owner_ttl_days * 86400))
        state._redis = (store, NodeRegistry(space, node_id), space)
        state.manager = wire.redis_manager(
            config.redis_url,
            channel=queue_channel,
            on_restored=state.recover,
            async_mode=config.async_mode,
            relay_channel=relay_channel(relay_prefix, node_id) if relay_prefix else "",
        )
        return state

    @property
    def clustered(self) -> bool:
        return self._redis is not None

    @property
    def relay(self) -> Any:
        """The queue manager that relays chat messages between nodes, or None
        (one process, or the stock queue: messages then take Socket.IO's queue)."""
        return self.manager if hasattr(self.manager, "on_relayed") else None

    def make_keeper(
        self,
        node_timeout: float,
        announce_left: Callable[[Membership, str], None],
        announce_joined: Callable[[Membership], None],
        resync_room: Callable[[str], None],
    ) -> Any:
        """The cluster keeper (None in one process); the factory runs its loop."""
        if self._redis is None:
            return None
        from state.cluster import ClusterKeeper

        store, registry, _ = self._redis
        self.keeper = ClusterKeeper(
            store,
            registry,
            node_timeout,
            announce_left=announce_left,
            announce_joined=announce_joined,
            resync_room=resync_room,
            listening=lambda: bool(getattr(self.manager, "listening", True)),
        )
        self.keeper.beat()
        return self.keeper

    def leave_cluster(self) -> None:
        """Stop counting as a live node (members were already drained)."""
        if self._redis is not None:
            try:
                self._redis[1].leave()
            except StoreUnavailable:
                pass

    def recover(self) -> None:
        """The queue listener is back: restore presence and resync clients."""
        if self.keeper is not None:
            self.keeper.recover()

    def ready(self) -> bool:
        """Readiness: always, in memory; on Redis, when Redis and the queue work."""
        if self.keeper is None:
            return True
        space = self._redis[2]
        return bool(space.ping()) and self.keeper.ready
