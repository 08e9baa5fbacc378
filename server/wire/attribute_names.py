"""The attribute names our patches give library objects are registered with their
class before the first connection, so those objects keep CPython's compact storage.

CPython 3.11 and 3.12 keep one table of attribute names per class, shared by all its
instances, which then store only values. The table takes new names freely while the
class has few instances, and ever fewer as more are made: once a few dozen exist,
an instance that gets a name the table lacks moves its attributes into a dict of its
own. Our `_chat_*` names are set when a websocket starts (writer_on_demand.py) or
its first frame goes out, so with a burst of connections every Engine.IO socket and
every eventlet websocket paid 0.8 KiB for that dict (bench/ scenario B, 1,000
clients, eventlet and gevent; checked with `gc.get_referents`). Setting the names
once on a throwaway instance at install time puts them in the table while it still
has room. Harmless where a Python lays objects out differently.
"""

from __future__ import annotations

from collections.abc import Iterable


def reserve(cls: type[object], names: Iterable[str]) -> None:
    """Put `names` in the shared attribute table of `cls`'s instances."""
    probe = object.__new__(cls)
    for name in names:
        object.__setattr__(probe, name, None)
