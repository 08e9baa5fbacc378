"""Room state and where it lives: the store protocol, memory, Redis, the cluster."""
