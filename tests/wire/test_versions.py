"""The wire patches meet the libraries they were written for, or stand aside."""

from __future__ import annotations

import importlib
import inspect
import warnings
from pathlib import Path
from typing import Any

import pytest

from support import RecordingClient, StartServer, fake_library_version
from wire import versions


def resolve(module_name: str, qualified: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eventlet warns that it is deprecated
        target: Any = importlib.import_module(module_name)
    for part in qualified.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize(
    ("module_name", "qualified", "signature"),
    versions.PRIVATE_SURFACE,
    ids=[f"{module}.{name}" for module, name, _ in versions.PRIVATE_SURFACE],
)
def test_every_private_attribute_the_patches_touch_is_there(
    module_name: str, qualified: str, signature: str | None
) -> None:
    """An upgrade that renames or reshapes one fails here, in CI, loudly.

    A method this process already patched is checked through `__wrapped__`, the
    library's own function it replaced.
    """
    target = resolve(module_name, qualified)
    if signature is not None:
        stock = inspect.unwrap(target)
        assert str(inspect.signature(stock, follow_wrapped=False)) == signature


def test_the_installed_libraries_are_the_ones_the_patches_were_written_for() -> None:
    assert versions.mismatches(tuple(versions.WRITTEN_FOR)) == {}
    for mode in ("eventlet", "gevent", "threading"):
        assert versions.patches_to_skip(mode) == {}


def test_a_different_version_skips_exactly_the_patches_that_touch_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = versions.installed
    monkeypatch.setattr(
        versions,
        "installed",
        lambda package: "9.9.9" if package == "gevent-websocket" else real(package),
    )
    skipped = versions.patches_to_skip("gevent")
    assert set(skipped) == {
        "framed_broadcast",
        "gevent_handover",
        "websocket_limits",
        "websocket_speedups",
    }
    assert (
        "installed 9.9.9, written for 0.10.1"
        in skipped["framed_broadcast"]["gevent-websocket"]
    )
    assert versions.patches_to_skip("eventlet") == {}


@pytest.mark.integration
@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_with_an_unknown_library_version_the_server_warns_and_chats_on_the_stock_path(
    start_server: StartServer, tmp_path: Path, async_mode: str
) -> None:
    fake = fake_library_version(tmp_path / "fake", "python-engineio", "4.99.0")
    server = start_server(async_mode, PYTHONPATH=fake)
    server.wait_for_log("running the stock library path for")
    log = server.log()
    assert "python-engineio installed 4.99.0, written for 4.15.1" in log
    alice, bob = RecordingClient(server.url), RecordingClient(server.url)
    for client, name in ((alice, "alice"), (bob, "bob")):
        assert client.call("join", {"room": "stock", "username": name})["ok"]
    ack = alice.call("message", {"room": "stock", "message": "plain old path"})
    assert bob.wait_for("message", lambda m: m["id"] == ack["id"])
    # No pre-framed direct writes: Engine.IO's own queues carried everything.
    assert "chat_socket_writes_total" not in server.metrics()
    alice.close()
    bob.close()
