"""Helpers for tests that talk to a real server process over a real websocket."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
import websocket
from flask_socketio import SocketIOTestClient

from config import Config
from guards.proof_of_work import leading_zero_bits

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_DIR = REPO_ROOT / "server"


TEST_TRIP_SECRET = "test-trip-secret"


def make_config(**overrides: Any) -> Config:
    """Defaults, in threading mode: in-process tests never monkey-patch."""
    settings: dict[str, Any] = {
        "async_mode": "threading",
        "secret_key": "test-secret",
        "trip_secret": TEST_TRIP_SECRET,
        **overrides,
    }
    return dataclasses.replace(Config(), **settings)


class ManualClock:
    """A clock that moves only when a test sets `now`."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def wrong_solution(challenge: dict[str, Any]) -> str:
    """A solution that certainly does too little work for `challenge` (a fixed
    guess would pass by chance once in 2**bits runs)."""
    nonce, bits = challenge["nonce"], int(challenge["bits"])
    return next(
        solution
        for solution in (f"lazy{n}" for n in range(10_000))
        if leading_zero_bits(hashlib.sha256(f"{nonce}:{solution}".encode()).digest())
        < bits
    )


def new_identity() -> str:
    """A fresh identity key as the web client makes one: 32 random bytes, base64url."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


ASYNC_MODES = ("eventlet", "gevent", "threading")
# Starts a real server with settings of a test's own (the `start_server` fixture).
StartServer = Callable[..., "ServerProcess"]
GREEN_MODES = ("eventlet", "gevent")

# Tests connect many clients from one loopback address and send quickly: unless a
# test is about limits, it lifts them (explicitly, as the limits' docs ask).
GENEROUS_LIMITS = {
    "MAX_CONNECTIONS_PER_IP": "50000",
    "RATE_LIMIT_CONNECTIONS": "100000 per second",
    "RATE_LIMIT_THRESHOLD": "1000000",
    "RATE_LIMIT_DISCONNECT_SCORE": "2000000",
    "FRAMES_PER_SECOND": "1000000",
    "FRAME_BURST": "1000000",
    # Raid mode and connection-flood proofs: tests of them set these themselves.
    "RAID_JOINS_PER_MINUTE": "0",
    "RAID_MESSAGES_PER_MINUTE": "0",
    "CONNECTION_FLOOD_PER_MINUTE": "0",
}
ENGINE_IO_PATH = "/socket.io/?EIO=4&transport=websocket"


def wait_until(
    condition: Callable[[], Any], timeout: float = 10, what: str = "condition"
) -> Any:
    """Poll `condition` until it returns something true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.02)


class ServerProcess:
    """`cd server && python app.py` on a free port, stopped by its own PID."""

    def __init__(self, async_mode: str, log_dir: Path, **env: str) -> None:
        self.async_mode = async_mode
        self.port = free_port()
        self.log_path = log_dir / f"server-{async_mode}-{self.port}.log"
        self.env = {
            **os.environ,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "ASYNC_MODE": async_mode,
            "SECRET_KEY": "integration-test-secret",
            "TRIP_SECRET": "integration-test-trip-secret",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            # A developer's .env must not leak into tests (it never overrides these).
            "REDIS_URL": "",
            "LOG_FORMAT": "text",
            **GENEROUS_LIMITS,
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "app.py"],
                cwd=SERVER_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            if port_accepts(self.port):
                with requests.get(f"{self.url}/healthz", timeout=5) as health:
                    health.raise_for_status()
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not open its port:\n{self.log()}")

    def wait_until_ready(self, timeout: float = 30.0) -> ServerProcess:
        """Until /readyz says so: on Redis, once the node listens to the message
        queue (a message published before that never reaches this node live)."""

        def ready() -> bool:
            with requests.get(f"{self.url}/readyz", timeout=5) as response:
                return response.status_code == 200

        wait_until(ready, timeout, "/readyz answering 200")
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 10) -> None:
        wait_until(lambda: text in self.log(), timeout, f"log line {text!r}")

    def metrics(self) -> str:
        with requests.get(f"{self.url}/metrics", timeout=5) as response:
            response.raise_for_status()
            return response.text

    def metric(self, name: str) -> float:
        """One unlabelled sample of /metrics (counters: name with _total)."""
        for line in self.metrics().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in /metrics")


def message_listener(
    url: str, transports: list[str]
) -> tuple[socketio.Client, list[dict[str, Any]]]:
    """A python-socketio client on `transports`, and the `message` events it hears."""
    client = socketio.Client(reconnection=False)
    heard: list[dict[str, Any]] = []
    client.on("message", heard.append)
    client.connect(url, transports=transports, wait_timeout=10)
    return client, heard


class RecordingClient:
    """A real python-socketio client that records every event it receives."""

    def __init__(self, url: str, auth: Any = None, **headers: str) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._changed = threading.Condition()
        self.sio.on("*", self._record)
        self.sio.connect(
            url, transports=["websocket"], headers=headers, auth=auth, wait_timeout=10
        )

    def _record(self, event: str, data: Any = None) -> None:
        with self._changed:
            self.events.append((event, data))
            self._changed.notify_all()

    def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        return self.sio.call(event, data, timeout=timeout)

    def received(self, event: str) -> list[Any]:
        with self._changed:
            return [data for name, data in self.events if name == event]

    def history(self) -> list[tuple[str, Any]]:
        """Every event received so far, in order: (name, payload)."""
        with self._changed:
            return list(self.events)

    def wait_for(
        self,
        event: str,
        match: Callable[[Any], bool] = lambda _: True,
        timeout: float = 10,
    ) -> Any:
        """The first `event` payload satisfying `match`, waiting for it if needed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for name, data in self.events:
                    if name == event and match(data):
                        return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no {event!r} within {timeout}s: {self.events}"
                    )
                self._changed.wait(remaining)

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


# -- Raw Engine.IO websockets: what a browser's socket.io-client does, frame by frame.


def open_raw(
    server: ServerProcess, auth: dict[str, Any] | None = None, timeout: float = 10
) -> tuple[websocket.WebSocket, dict[str, Any]]:
    """A raw websocket connected to the namespace, and its `connected` payload."""
    connection = websocket.create_connection(
        server.url.replace("http", "ws") + ENGINE_IO_PATH, timeout=timeout
    )
    assert connection.recv().startswith("0{")
    connection.send("40" + (json.dumps(auth) if auth else ""))
    assert connection.recv().startswith("40")
    connected = connection.recv()
    assert connected.startswith('42["connected"')
    return connection, json.loads(connected[2:])[1]


def raw_socket(
    server: ServerProcess, auth: dict[str, Any] | None = None, timeout: float = 10
) -> websocket.WebSocket:
    """A raw websocket connected to the namespace, `connected` consumed."""
    return open_raw(server, auth, timeout)[0]


def join_raw(connection: websocket.WebSocket, room: str, **fields: Any) -> Any:
    """Join `room` over a raw socket; returns the join ack (pings answered)."""
    payload = json.dumps({"room": room, **fields})
    connection.send(f'4299["join",{payload}]')
    while True:
        frame = connection.recv()
        if frame == "2":
            connection.send("3")
        elif frame.startswith("4399"):
            return json.loads(frame[4:])[0]


def answers_list_rooms(connection: websocket.WebSocket) -> bool:
    """The connection still works: list_rooms gets its `rooms` reply."""
    try:
        connection.send('42["list_rooms",{}]')
        while True:
            frame = connection.recv()
            if frame.startswith('42["rooms"'):
                return True
            if frame == "2":
                connection.send("3")
    except (websocket.WebSocketException, OSError):
        return False


def is_closed(connection: websocket.WebSocket, timeout: float = 10) -> bool:
    """True once the server closed the websocket (pings are not answered)."""
    connection.settimeout(timeout)
    try:
        while True:
            frame = connection.recv()
            if frame in ("", None) or (isinstance(frame, str) and frame == "1"):
                return True
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        return True
    except websocket.WebSocketTimeoutException:
        return False


def connections_held(server: ServerProcess, clients: list[websocket.WebSocket]) -> int:
    """How many of `clients`' TCP connections the server process still holds a
    descriptor for (from /proc: its sockets' inodes against its TCP table)."""
    assert server.process is not None
    proc = Path("/proc") / str(server.process.pid)
    client_ports = {client.sock.getsockname()[1] for client in clients if client.sock}
    inodes = set()
    for line in (proc / "net" / "tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if local_port == server.port and remote_port in client_ports:
            inodes.add(f"socket:[{fields[9]}]")
    held = 0
    for descriptor in (proc / "fd").iterdir():
        try:
            held += os.readlink(descriptor) in inodes
        except OSError:  # closed while we looked
            continue
    return held


def received(client: SocketIOTestClient, event: str) -> list[Any]:
    """Payloads of `event` a Flask-SocketIO test client received since the last
    call (consumes its queue)."""
    payloads = []
    for item in client.get_received():
        if item["name"] == event:
            # The test client unwraps the `message` event's argument list itself.
            payloads.append(item["args"] if event == "message" else item["args"][0])
    return payloads


class RawClient:
    """A raw Engine.IO websocket read by a thread of its own: it answers pings,
    records every event (batches unpacked into `message` records) and acks, and can
    be told to stop reading and answering, like a phone put to sleep."""

    def __init__(self, server: ServerProcess, auth: dict[str, Any] | None = None):
        self.connection, connected = open_raw(server, auth)
        self.sid: str = connected["sid"]
        self.connection.settimeout(None)
        self.events: list[tuple[str, Any]] = []
        self.acks: dict[int, Any] = {}
        self.closed = threading.Event()
        self._awake = threading.Event()
        self._awake.set()
        self._changed = threading.Condition()
        self._next_id = 100
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def emit(self, event: str, payload: Any) -> int:
        """Send an event with an ack id; returns the id (see `ack`)."""
        with self._changed:
            self._next_id += 1
            ack_id = self._next_id
        self.connection.send(f"42{ack_id}" + json.dumps([event, payload]))
        return ack_id

    def call(self, event: str, payload: Any, timeout: float = 10) -> Any:
        return self.ack(self.emit(event, payload), timeout)

    def ack(self, ack_id: int, timeout: float = 10) -> Any:
        return self._wait(lambda: self.acks.get(ack_id), timeout, f"ack {ack_id}")

    def sleep(self, keep_writing: bool = False) -> None:
        """Stop reading (and so answering pings), as a sleeping phone does.

        `keep_writing`: still send an Engine.IO noop twice a second, as a client
        whose replies are lost on the way (a one-way network failure) does.
        """
        self._awake.clear()
        if keep_writing:
            threading.Thread(target=self._write_noops, daemon=True).start()

    def _write_noops(self) -> None:
        try:
            while not self._awake.wait(0.5):
                self.connection.send("6")
        except (websocket.WebSocketException, OSError):
            pass

    def received(self, event: str) -> list[Any]:
        with self._changed:
            return [data for name, data in self.events if name == event]

    def wait_for(
        self, event: str, match: Callable[[Any], bool] = lambda _: True, timeout=10.0
    ) -> Any:
        def found() -> Any:
            for name, data in self.events:
                if name == event and match(data):
                    return data or True
            return None

        return self._wait(found, timeout, f"{event!r}")

    def close(self) -> None:
        self._awake.set()
        try:
            self.connection.close()
        except OSError:
            pass

    def _wait(self, found: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = found()
                if result is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed.is_set():
                    raise AssertionError(f"no {what} within {timeout}s")
                self._changed.wait(min(remaining, 0.2))

    def _read(self) -> None:
        try:
            while True:
                self._awake.wait()
                frame = self.connection.recv()
                if not self._awake.is_set():
                    continue  # went to sleep while waiting: this frame is unread
                if frame == "2":
                    self.connection.send("3")
                elif isinstance(frame, str) and frame.startswith("43"):
                    digits = len(frame[2:]) - len(frame[2:].lstrip("0123456789"))
                    with self._changed:
                        self.acks[int(frame[2 : 2 + digits])] = json.loads(
                            frame[2 + digits :]
                        )[0]
                        self._changed.notify_all()
                elif isinstance(frame, str) and frame.startswith("42"):
                    name, *args = json.loads(frame[2:])
                    data = args[0] if args else None
                    with self._changed:
                        if name == "messages":
                            self.events.extend(("message", m) for m in data)
                        else:
                            self.events.append((name, data))
                        self._changed.notify_all()
                elif not frame:
                    break
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.closed.set()
            with self._changed:
                self._changed.notify_all()


def websocket_from(port: int, source: str) -> websocket.WebSocket:
    """A raw Engine.IO websocket to 127.0.0.1:`port` (e.g. nginx) from the loopback
    address `source` (so a proxy hashing client addresses spreads them), namespace
    joined."""
    sock = socket.create_connection(("127.0.0.1", port), source_address=(source, 0))
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    connection = websocket.create_connection(url, socket=sock, timeout=10)
    assert connection.recv().startswith("0{")
    connection.send("40")
    assert connection.recv().startswith("40")
    assert connection.recv().startswith('42["connected"')
    return connection


def receive_event(connection: websocket.WebSocket, name: str) -> Any:
    """The payload of the next `name` event on a raw websocket (pings answered)."""
    while True:
        frame = connection.recv()
        if frame == "2":
            connection.send("3")
        elif frame.startswith(f'42["{name}"'):
            return json.loads(frame[2:])[1]


FAKE_VERSION_SITECUSTOMIZE = '''
"""Test only: make {package} report a version the wire patches do not know."""
import importlib.metadata as metadata

_real = metadata.version


def version(name):
    if name.lower() == "{package}":
        return "{version}"
    return _real(name)


metadata.version = version
'''


def fake_library_version(directory: Path, package: str, version: str) -> str:
    """A PYTHONPATH under which a server process sees `package` at `version`
    (a sitecustomize that wraps importlib.metadata.version)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(
        FAKE_VERSION_SITECUSTOMIZE.format(package=package, version=version)
    )
    return str(directory)


def require_bench_generator() -> None:
    """The Node load generator's packages (bench/node_modules): a failure under CI,
    a skip elsewhere."""
    if not (REPO_ROOT / "bench" / "node_modules" / "ws").is_dir():
        message = "bench/node_modules is missing (cd bench && npm ci)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
