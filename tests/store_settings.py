"""The sizes the room store tests build their stores with (tests/state/conftest.py)."""

HISTORY = 5  # messages kept per room
TTL = 2  # seconds an empty room is kept
LEASE = 1.0  # seconds a name waits for its trip
