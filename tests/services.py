"""Private service instances for tests: Redis (and nginx) on free loopback ports.

Each test run starts its own, in its own directory, so no one's data is touched.
A missing binary fails the test under CI=true and skips it elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from support import REPO_ROOT, free_port, port_accepts

# deploy/nginx_config.py renders deploy/nginx.conf for a set of nodes.
sys.path.insert(0, str(REPO_ROOT / "deploy"))
import nginx_config  # noqa: E402


def require_binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path:
        return path
    message = f"{name} is not installed (apt-get install {name})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class RedisProcess:
    """redis-server on a free port. By default with an append-only file fsynced on
    every write, so that stopping and starting it loses nothing; `persistent=False`
    keeps nothing across a restart (as a cache-style Redis does)."""

    def __init__(self, directory: Path, persistent: bool = True) -> None:
        self.binary = require_binary("redis-server")
        self.port = free_port()
        self.directory = directory
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes" if self.persistent else "no",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--protected-mode",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)


class NginxProcess:
    """nginx running deploy/nginx.conf, re-pointed at the test's nodes and port."""

    def __init__(self, directory: Path, node_ports: list[int]) -> None:
        self.binary = require_binary("nginx")
        self.port = free_port()
        self.directory = directory
        self.node_ports = node_ports
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NginxProcess:
        conf = nginx_config.write(
            self.node_ports, f"127.0.0.1:{self.port}", self.directory, workers="1"
        )
        command = [self.binary, "-c", str(conf), "-p", str(self.directory)]
        with open(self.directory / "stderr.log", "wb") as stderr:
            self.process = subprocess.Popen(
                [*command, "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + 10
        while not port_accepts(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.directory / "stderr.log").read_text())
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
