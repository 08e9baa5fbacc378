"""deploy/cluster.py, the one-machine recipe: Redis, N nodes and nginx from one
command, chatting through nginx, stopped by one signal with nothing left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from services import require_binary
from support import (
    REPO_ROOT,
    free_port,
    port_accepts,
    receive_event,
    wait_until,
    websocket_from,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("cluster")]

CLUSTER = REPO_ROOT / "deploy" / "cluster.py"
READY_LINE = re.compile(r"Chat running on (\d+) nodes at (http://\S+)/")
NODE_LINE = re.compile(r"node \d+: (http://127\.0\.0\.1:(\d+)) \(pid (\d+)\)")
REDIS_LINE = re.compile(r"redis: redis://127\.0\.0\.1:(\d+)/0")


@dataclass
class Recipe:
    process: subprocess.Popen[str]
    url: str
    port: int
    nodes: list[tuple[str, int, int]]  # (url, port, pid)
    redis_port: int
    output: list[str]
    reader: threading.Thread

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def close(self) -> None:
        """Stopped, its output read to the end and its pipe closed."""
        if self.process.poll() is None:
            self.stop()
        self.reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_recipe(directory: Path, async_mode: str, nodes: int = 2) -> Recipe:
    require_binary("redis-server")
    require_binary("nginx")
    port = free_port()
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "SECRET_KEY": "recipe-test-secret-key-0123456789abcdef",
        "TRIP_SECRET": "recipe-test-trip-secret-0123456789abcdef",
        "ASYNC_MODE": async_mode,
        "LOG_LEVEL": "INFO",
    }
    command = [sys.executable, str(CLUSTER), "--nodes", str(nodes)]
    command += ["--port", str(port), "--dir", str(directory)]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            if READY_LINE.search(line):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not ready.wait(60):
        process.kill()
        process.wait()
        reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
        raise AssertionError("the recipe did not start:\n" + "\n".join(output))
    text = "\n".join(output)
    found = READY_LINE.search(text)
    redis_found = REDIS_LINE.search(text)
    assert found and redis_found, text
    assert int(found.group(1)) == nodes
    return Recipe(
        process,
        found.group(2),
        port,
        [(url, int(p), int(pid)) for url, p, pid in NODE_LINE.findall(text)],
        int(redis_found.group(1)),
        output,
        reader,
    )


@pytest.fixture
def recipes() -> Iterator[list[Recipe]]:
    started: list[Recipe] = []
    yield started
    for recipe in started:
        recipe.close()


def connected_clients(node_url: str) -> float:
    text = requests.get(f"{node_url}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("chat_connected_clients "):
            return float(line.split()[1])
    raise AssertionError("chat_connected_clients not in /metrics")


def process_alive(pid: int) -> bool:
    return (
        Path(f"/proc/{pid}").exists()
        and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    )


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_one_command_runs_nodes_behind_nginx_and_one_signal_stops_them(
    tmp_path: Path, recipes: list[Recipe], async_mode: str
) -> None:
    recipe = start_recipe(tmp_path / "state", async_mode)
    recipes.append(recipe)
    assert len(recipe.nodes) == 2
    # Each node was ready (Redis and its queue listener up) before anyone connected.
    for url, _, _ in recipe.nodes:
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
    assert requests.get(f"{recipe.url}/healthz", timeout=5).json()["status"] == "ok"
    # run_tests.sh builds the client first; elsewhere it may not be built yet.
    built = (REPO_ROOT / "client" / "dist" / "index.html").exists()
    if built or os.environ.get("CI") == "true":
        page = requests.get(f"{recipe.url}/", timeout=5)
        assert page.status_code == 200 and "<div id=" in page.text

    sources = [f"127.0.0.{n}" for n in range(2, 14)]
    sockets = [websocket_from(recipe.port, source) for source in sources]
    try:
        for n, connection in enumerate(sockets):
            connection.send(f'42["join",{{"room":"recipe","username":"u{n}"}}]')
            receive_event(connection, "room_state")
        spread = [connected_clients(url) for url, _, _ in recipe.nodes]
        assert sum(spread) == len(sources) and min(spread) > 0, spread
        sockets[0].send('42["message",{"room":"recipe","message":"through nginx"}]')
        for connection in sockets:
            assert receive_event(connection, "message")["message"] == "through nginx"
    finally:
        for connection in sockets:
            connection.close()

    assert recipe.stop() == 0
    for port in (recipe.port, recipe.redis_port, *(p for _, p, _ in recipe.nodes)):
        assert not port_accepts(port), f"port {port} still open after the recipe ended"
    for _, _, pid in recipe.nodes:
        assert not process_alive(pid)

    # The history lives in the recipe's Redis (append-only file): a second start on
    # the same directory still has the message.
    again = start_recipe(tmp_path / "state", async_mode, nodes=1)
    recipes.append(again)
    connection = websocket_from(again.port, "127.0.0.2")
    try:
        connection.send('42["join",{"room":"recipe","username":"back"}]')
        state = receive_event(connection, "room_state")
        assert [m["message"] for m in state["messages"]] == ["through nginx"]
    finally:
        connection.close()
    assert again.stop() == 0


def test_the_recipe_stops_everything_when_a_node_dies(
    tmp_path: Path, recipes: list[Recipe]
) -> None:
    recipe = start_recipe(tmp_path / "state", "gevent")
    recipes.append(recipe)
    _, _, pid = recipe.nodes[0]
    subprocess.run(["kill", "-KILL", str(pid)], check=True)
    assert recipe.process.wait(timeout=30) == 1
    wait_until(
        lambda: not port_accepts(recipe.port) and not port_accepts(recipe.redis_port),
        10,
        "nginx and Redis stopped",
    )
    wait_until(
        lambda: any("node 1 exited" in line for line in recipe.output),
        5,
        "the recipe saying which part died",
    )
