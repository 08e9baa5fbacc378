"""One machine, every core: a Redis, N chat nodes and nginx in front, started together.

    deploy/run_cluster.sh [--nodes N] [--port 8000] [--host 127.0.0.1] [--dir DIR]

One Python process runs the chat on one core. This starts one node per core (or
--nodes), each with REDIS_URL pointing at a Redis of its own (append-only, fsynced on
every write, kept in DIR between runs), and nginx with deploy/nginx.conf in front of
them on --host:--port. It prints the URL once every node is ready, stops everything
when any part dies or on Ctrl-C / SIGTERM, and leaves nothing running. Nodes read
.env like ./run_server.sh (SECRET_KEY, TRIP_SECRET, ASYNC_MODE, limits); the
addresses here override it. Logs: DIR/node-N.log, DIR/redis/redis.log,
DIR/nginx/error.log.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nginx_config

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 10


class Part:
    """One process of the cluster, with the name it is reported by."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], port: int) -> None:
        self.name = name
        self.process = process
        self.port = port

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise SystemExit(f"{name} is not installed: sudo apt-get install {name}")
    return found


def wait_until_ready(part: Part, path: str | None = None) -> None:
    """The part's port accepts (and `path` answers 200), or SystemExit."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if part.process.poll() is not None:
            raise SystemExit(f"{part.name} exited while starting")
        try:
            if path is None:
                socket.create_connection(("127.0.0.1", part.port), timeout=1).close()
                return
            url = f"http://127.0.0.1:{part.port}{path}"
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{part.name} was not ready within {START_TIMEOUT_SECONDS} s")


def start_redis(directory: Path) -> Part:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        binary("redis-server"),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ]
    with open(directory / "redis.log", "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    return Part("redis", process, port)


def start_node(number: int, redis_port: int, directory: Path) -> Part:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        # nginx's address as the nodes see it: limits count the real client.
        "TRUSTED_PROXIES": "127.0.0.1",
    }
    with open(directory / f"node-{number}.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=REPO / "server",
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Part(f"node {number}", process, port)


def start_nginx(node_ports: list[int], host: str, port: int, directory: Path) -> Part:
    conf = nginx_config.write(node_ports, f"{host}:{port}", directory)
    command = [binary("nginx"), "-c", str(conf), "-p", str(directory)]
    with open(directory / "stderr.log", "ab") as log:
        process = subprocess.Popen(
            [*command, "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT
        )
    return Part("nginx", process, port)


def run(nodes: int, host: str, port: int, directory: Path) -> int:
    parts: list[Part] = []

    def stop_all(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_all)
    try:
        redis = start_redis(directory / "redis")
        parts.append(redis)
        wait_until_ready(redis)
        chat_nodes = [start_node(n, redis.port, directory) for n in range(1, nodes + 1)]
        parts += chat_nodes
        for node in chat_nodes:
            wait_until_ready(node, "/readyz")
        proxy = start_nginx(
            [n.port for n in chat_nodes], host, port, directory / "nginx"
        )
        parts.append(proxy)
        wait_until_ready(proxy, "/healthz")
        for node in chat_nodes:
            print(f"{node.name}: http://127.0.0.1:{node.port} (pid {node.process.pid})")
        print(f"redis: redis://127.0.0.1:{redis.port}/0, data in {directory / 'redis'}")
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"Chat running on {nodes} nodes at http://{shown}:{port}/", flush=True)
        while True:
            for part in parts:
                if part.process.poll() is not None:
                    print(f"{part.name} exited; stopping the cluster", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # nginx first (no new clients), the nodes (they drain presence), Redis last.
        for part in reversed(parts):
            part.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--dir", type=Path, default=REPO / "deploy" / "cluster-state", dest="directory"
    )
    args = parser.parse_args()
    if args.nodes < 1:
        raise SystemExit("--nodes must be at least 1")
    args.directory.mkdir(parents=True, exist_ok=True)
    sys.exit(run(args.nodes, args.host, args.port, args.directory.resolve()))


if __name__ == "__main__":
    main()
