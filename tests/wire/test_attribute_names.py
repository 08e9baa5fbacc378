"""wire/attribute_names.py: the names our patches set on library objects are in
their class's shared table before the first connection, so a burst of connections
does not give every Engine.IO socket and eventlet websocket a dict of its own."""

from __future__ import annotations

import ast
import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO_ROOT
from wire import attribute_names, engine_socket, writer_on_demand

# Past this many instances CPython 3.11 and 3.12 no longer add names to the table.
BURST = 100


def has_own_dict(instance: object) -> bool:
    """True when `instance` keeps its attributes in a dict (read without making one:
    `instance.__dict__` would)."""
    return any(type(ref) is dict for ref in gc.get_referents(instance))


def set_late(instances: list[object], names: tuple[str, ...]) -> None:
    for instance in instances:
        for name in names:
            setattr(instance, name, 1)


LATE_NAMES = ("_late_one", "_late_two", "_late_three")


def test_names_reserved_before_a_burst_keep_every_instance_compact() -> None:
    class Reserved:
        def __init__(self) -> None:
            self.early = 0

    attribute_names.reserve(Reserved, LATE_NAMES)
    instances: list[object] = [Reserved() for _ in range(BURST)]
    set_late(instances, LATE_NAMES)
    assert not any(map(has_own_dict, instances))
    assert [vars(instances[0])[name] for name in LATE_NAMES] == [1, 1, 1]


def test_without_reserving_late_names_give_each_instance_a_dict() -> None:
    """What attribute_names.py is about, on the Pythons whose layout it describes."""

    class Unreserved:
        def __init__(self) -> None:
            self.early = 0

    instances: list[object] = [Unreserved() for _ in range(BURST)]
    set_late(instances, LATE_NAMES)
    if sys.version_info[:2] in ((3, 11), (3, 12)):
        assert all(map(has_own_dict, instances))


def chat_names_set_on_engine_sockets(module: object) -> set[str]:
    """Every `engine_socket._chat_*` or `self._chat_*` assignment in `module`, whose
    `self` is always an Engine.IO socket there."""
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("engine_socket", "self")
            and node.attr.startswith("_chat_")
        ):
            names.add(node.attr)
    return names


def test_every_name_set_on_an_engine_socket_is_reserved() -> None:
    reserved = set(engine_socket.SOCKET_ATTRIBUTES) | set(
        writer_on_demand.SOCKET_ATTRIBUTES
    )
    for module in (engine_socket, writer_on_demand):
        assert chat_names_set_on_engine_sockets(module) <= reserved


# Run in a fresh interpreter, as the server runs: patched, then create_app, then a
# burst of objects that get our names late.
PROBE = """
import gc, json, os, sys
sys.path.insert(0, {server!r})
os.environ["ASYNC_MODE"] = {mode!r}
from wire import async_bootstrap
async_bootstrap.patch_from_environment()
from app import create_app
from config import Config
from engineio.socket import Socket
from wire import engine_socket, writer_on_demand

app = create_app(Config.from_env())
eio = app.extensions["socketio"].server.eio
checks = {{"Socket": (Socket, engine_socket.SOCKET_ATTRIBUTES
                      + writer_on_demand.SOCKET_ATTRIBUTES)}}
if {mode!r} == "eventlet":
    from eventlet.greenio import GreenSocket
    from eventlet.websocket import RFC6455WebSocket
    checks["RFC6455WebSocket"] = (RFC6455WebSocket, ("send", "_send_closing_frame"))
    checks["GreenSocket"] = (GreenSocket, ("_chat_handed_over",))
else:
    checks["websocket wrapper"] = (eio._async["websocket"], ("send",))
result = {{}}
for label, (cls, names) in checks.items():
    burst = [cls.__new__(cls) for _ in range({burst})]
    for instance in burst:
        for name in names:
            object.__setattr__(instance, name, 1)
    result[label] = sum(
        any(type(ref) is dict for ref in gc.get_referents(instance))
        for instance in burst
    )
print(json.dumps(result))
"""


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_after_create_app_a_burst_of_connections_stays_compact(mode: str) -> None:
    code = PROBE.format(server=str(REPO_ROOT / "server"), mode=mode, burst=BURST)
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO_ROOT / "server",
    )
    with_own_dict = json.loads(done.stdout.splitlines()[-1])
    assert len(with_own_dict) == (3 if mode == "eventlet" else 2)
    assert set(with_own_dict.values()) == {0}, with_own_dict
