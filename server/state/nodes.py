"""Which nodes are alive: heartbeats in Redis, and the claim to clean up after one.

Keys (under REDIS_PREFIX):
  node:<id>:alive     expires after NODE_TIMEOUT_SECONDS    heartbeat
  node:<id>:members   set of "room\\nsid" joined through that node (written by the
                      room store's join and leave scripts)
  nodes               set of node ids                       for reaping dead ones,
                      and whose relay channels a stored message is published to
  reaping:<id>        short-lived claim: one survivor reaps a dead node
"""

from __future__ import annotations

from state.redis_space import RedisSpace

REAPING_CLAIM_SECONDS = 30


def nodes_key(space: RedisSpace) -> str:
    """The set of node ids: the registry's, and the relay's list of who to publish
    a stored message to (redis_store.py)."""
    return space.key("nodes")


class NodeRegistry:
    """This node's heartbeat, and the other nodes' liveness."""

    def __init__(self, space: RedisSpace, node_id: str) -> None:
        self._space = space
        self._redis = space.client
        self.node_id = node_id

    def heartbeat(self, timeout: float) -> bool:
        """Say this node is alive for `timeout` seconds; also re-measures the clock.
        False when `nodes` did not have this node: it is new, or survivors took it
        for dead and reaped it, or Redis lost it."""
        pipe = self._redis.pipeline(transaction=False)
        alive = self._space.key("node", self.node_id, "alive")
        pipe.set(alive, "1", ex=max(1, int(timeout)))
        pipe.sadd(nodes_key(self._space), self.node_id)
        _, added = self._space.call(pipe.execute)
        self._space.sync_clock()
        return not added

    def dead_nodes(self) -> list[str]:
        nodes = [
            n.decode()
            for n in self._space.call(self._redis.smembers, nodes_key(self._space))
        ]
        others = [node for node in nodes if node != self.node_id]
        if not others:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for node in others:
            pipe.exists(self._space.key("node", node, "alive"))
        alive = self._space.call(pipe.execute)
        return [node for node, up in zip(others, alive, strict=True) if not up]

    def claim_reaping(self, node: str) -> bool:
        """One survivor at a time cleans up after a dead node."""
        key = self._space.key("reaping", node)
        claimed = self._space.call(
            self._redis.set, key, self.node_id, nx=True, ex=REAPING_CLAIM_SECONDS
        )
        return bool(claimed)

    def members_of(self, node: str) -> list[tuple[str, str]]:
        """(room, sid) of every membership made through `node`."""
        key = self._space.key("node", node, "members")
        entries = self._space.call(self._redis.smembers, key)
        pairs = (entry.decode().split("\n", 1) for entry in entries)
        return [(room, sid) for room, sid in pairs]

    def forget(self, node: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(self._space.key("node", node, "members"))
        pipe.srem(nodes_key(self._space), node)
        self._space.call(pipe.execute)

    def leave(self) -> None:
        """This node is going away on purpose: it stops counting as alive."""
        self._space.call(
            self._redis.delete, self._space.key("node", self.node_id, "alive")
        )
        self.forget(self.node_id)
