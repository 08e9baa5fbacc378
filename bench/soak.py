"""Soak test: a long run with the faults of real life, then an account of every message.

Two nodes on one Redis, 500 raw-websocket clients in 50 rooms (half take `messages`
batches), one resilient sender per room (client_id retries across reconnects),
5 % of clients going silent for a while (no reads, no pongs: dropped at their ping
deadline, then back with `since`), 5 % reading slowly, a flooder that keeps coming
back, and a canary in a room of its own measuring its round trip. A third of the
way in one node is killed (kill -9) and restarted; two thirds in, Redis restarts.

At the end it reports acknowledged messages missing from history, messages stored
twice, seq gaps in history and in what clients saw, the canary's p99 and worst
round trip, and each node's RSS over time. Not run in CI (it takes minutes):

  .venv/bin/python bench/soak.py --minutes 10 [--mode gevent]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from bench import PYTHON, REPO, free_port, stop, wait_for_port

ROOMS = 50
PER_ROOM = 10
SEND_INTERVAL = 1.0
PING_INTERVAL, PING_TIMEOUT = "5", "5"


# -- processes ----------------------------------------------------------------------


def start_redis(directory: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir",
         str(directory), "--appendonly", "yes", "--appendfsync", "always",
         "--save", "", "--protected-mode", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port, process)
    return process


def start_node(mode: str, port: int, redis_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "ASYNC_MODE": mode,
        "SECRET_KEY": "soak",
        "TRIP_SECRET": "soak-trip",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "NODE_TIMEOUT_SECONDS": "6",
        "HISTORY_SIZE": "10000",
        "PING_INTERVAL_SECONDS": PING_INTERVAL,
        "PING_TIMEOUT_SECONDS": PING_TIMEOUT,
        # Default rate limits and budgets: the flooder must meet them. Only the
        # per-address caps are lifted (every client comes from 127.0.0.1).
        "MAX_CONNECTIONS_PER_IP": "100000",
        "RATE_LIMIT_CONNECTIONS": "100000 per second",
        # 500 clients in 50 rooms reconnecting at once are no raid: out of reach.
        "RAID_JOINS_PER_MINUTE": "1000000",
        "RAID_MESSAGES_PER_MINUTE": "10000000",
        "CONNECTION_FLOOD_PER_MINUTE": "10000000",
        # Each client names its own address (X-Forwarded-For), as if behind a proxy:
        # the flooder's score must not fall on the others.
        "TRUSTED_PROXIES": "127.0.0.1",
    }
    process = subprocess.Popen(
        [str(PYTHON), "app.py"], cwd=REPO / "server", env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port, process)
    return process


def rss_kib(process: subprocess.Popen[bytes]) -> int | None:
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# -- clients ------------------------------------------------------------------------


class Gone(Exception):
    """The connection closed."""


CONNECTION_TROUBLE = (
    TimeoutError,
    Gone,
    OSError,
    AssertionError,
    websockets.WebSocketException,
)


@dataclass
class Stats:
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # by client_id
    canary_ms: list[float] = field(default_factory=list)
    flooder_cutoffs: int = 0
    reconnects: int = 0
    dropped_silent: int = 0


class Client:
    """One raw Engine.IO/Socket.IO client; reconnects to any node and catches up."""

    def __init__(self, name: str, room: str, ports: list[int], batches: bool):
        self.name, self.room, self.ports, self.batches = name, room, ports, batches
        number = random.getrandbits(24)
        self.address = f"10.{number >> 16}.{(number >> 8) & 255}.{number & 255}"
        self.session = f"soak-session-{name}-{random.getrandbits(64):x}"
        self.identity = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        self.seen: set[int] = set()
        self.duplicates = 0
        self.epoch: str | None = None
        self.last_seq = 0
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.ws: Any = None
        self.slow = False
        self.asleep = asyncio.Event()
        self.connected = asyncio.Event()
        self.on_message: Any = None

    async def connect(self) -> None:
        port = random.choice(self.ports)
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        self.ws = await websockets.connect(
            url,
            open_timeout=5,
            max_size=None,
            additional_headers={"X-Forwarded-For": self.address},
        )
        assert (await self.ws.recv()).startswith("0")
        # Each client is a person with an identity: after its node dies it
        # reconnects elsewhere and gets its name back, as the web client does.
        auth: dict[str, Any] = {"session": self.session, "identity": self.identity}
        if self.batches:
            auth["features"] = ["messages"]
        await self.ws.send("40" + json.dumps(auth))
        assert (await self.ws.recv()).startswith("40")
        assert (await self.ws.recv()).startswith('42["connected"')

    async def emit(self, event: str, payload: Any, timeout: float = 5) -> Any:
        self.next_id += 1
        ack_id = self.next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        try:
            await self.ws.send(f"42{ack_id}" + json.dumps([event, payload]))
            return await asyncio.wait_for(future, timeout)
        finally:
            self.acks.pop(ack_id, None)

    def record(self, message: dict[str, Any]) -> None:
        seq = int(message["seq"])
        if seq in self.seen:
            self.duplicates += 1
        self.seen.add(seq)
        self.last_seq = max(self.last_seq, seq)
        if self.on_message is not None:
            self.on_message(message)

    def take(self, messages: list[dict[str, Any]], epoch: str) -> None:
        if epoch != self.epoch:
            self.seen.clear()
            self.epoch = epoch
            self.last_seq = 0
        for message in messages:
            self.record(message)

    async def read(self) -> None:
        while True:
            if self.asleep.is_set():
                await asyncio.sleep(0.2)  # not reading, not answering pings
                continue
            try:
                frame = await self.ws.recv()
            except websockets.ConnectionClosed:
                raise Gone from None
            if self.slow:
                await asyncio.sleep(0.03)
            if frame == "2":
                await self.ws.send("3")
            elif frame.startswith("43"):
                digits = len(frame) - len(frame[2:].lstrip("0123456789")) - 2
                future = self.acks.get(int(frame[2 : 2 + digits]))
                if future is not None and not future.done():
                    future.set_result(json.loads(frame[2 + digits :])[0])
            elif frame.startswith('42["message"'):
                self.record(json.loads(frame[2:])[1])
            elif frame.startswith('42["messages"'):
                for message in json.loads(frame[2:])[1]:
                    self.record(message)
            elif frame.startswith('42["room_seq"'):
                notice = json.loads(frame[2:])[1]
                if notice["last_seq"] > self.last_seq:
                    asyncio.get_running_loop().create_task(self.catch_up())

    async def catch_up(self) -> None:
        try:
            reply = await self.emit(
                "history",
                {"room": self.room, "epoch": self.epoch, "since": self.last_seq},
            )
            if reply.get("ok"):
                self.take(reply["messages"], reply["epoch"])
        except (TimeoutError, websockets.ConnectionClosed):
            pass

    async def session_loop(self, stats: Stats, until: float) -> None:
        """Connect, join (catching up), read until gone; again until the end."""
        while time.monotonic() < until:
            self.connected.clear()
            reader: asyncio.Task[None] | None = None
            try:
                await self.connect()
                reader = asyncio.get_running_loop().create_task(self.read())
                join = {"room": self.room, "username": self.name}
                if self.epoch:
                    join.update(epoch=self.epoch, since=self.last_seq)
                reply = await self.emit("join", join)
                if reply.get("ok"):
                    self.take(reply["messages"], reply["epoch"])
                    self.connected.set()
                await reader
            except CONNECTION_TROUBLE:
                pass
            finally:
                if reader is not None:
                    reader.cancel()  # one reader per connection, never two
                if self.ws is not None:
                    await self.ws.close()
            self.connected.clear()
            stats.reconnects += 1
            await asyncio.sleep(0.3 + random.random() * 0.5)


async def send_forever(client: Client, stats: Stats, until: float) -> None:
    """One message a second, each retried with its client_id until acknowledged."""
    count = 0
    while time.monotonic() < until:
        client_id = f"{client.name}-{count}"
        payload = {"room": client.room, "message": client_id, "client_id": client_id}
        while time.monotonic() < until + 10:
            await client.connected.wait()
            try:
                reply = await client.emit("message", payload)
            except (TimeoutError, websockets.WebSocketException, OSError):
                await asyncio.sleep(0.2)
                continue
            if reply.get("ok"):
                stats.acked[client_id] = {"room": client.room, "id": reply["id"]}
                break
            await asyncio.sleep(0.5)
        count += 1
        await asyncio.sleep(SEND_INTERVAL)


async def go_silent_now_and_then(client: Client, stats: Stats, until: float) -> None:
    """Sleep like a phone: stop reading long enough to be dropped, then wake."""
    await asyncio.sleep(random.uniform(10, 60))
    while time.monotonic() < until - 40:
        client.asleep.set()
        await asyncio.sleep(float(PING_INTERVAL) + float(PING_TIMEOUT) + 10)
        client.asleep.clear()
        stats.dropped_silent += 1
        await asyncio.sleep(random.uniform(30, 90))


async def canary(client: Client, stats: Stats, until: float) -> None:
    sent: dict[str, float] = {}

    def arrived(message: dict[str, Any]) -> None:
        started = sent.pop(message["message"], None)
        if started is not None:
            stats.canary_ms.append((time.perf_counter() - started) * 1000)

    client.on_message = arrived
    count = 0
    while time.monotonic() < until:
        await client.connected.wait()
        text = f"canary-{count}"
        sent[text] = time.perf_counter()
        try:
            await client.ws.send(
                "42" + json.dumps(["message", {"room": client.room, "message": text}])
            )
        except websockets.WebSocketException:
            pass
        count += 1
        await asyncio.sleep(1.0)  # within the default rate limit


async def flood(ports: list[int], until: float) -> int:
    """As fast as it can, reconnecting whenever it is cut off; how often it was."""
    flooder = Client("flooder", "flood", ports, batches=False)
    frame = "42" + json.dumps(["message", {"room": "flood", "message": "x" * 200}])
    cutoffs = 0
    while time.monotonic() < until:
        try:
            await flooder.connect()
            await flooder.ws.send('42["join",{"room":"flood"}]')
            while time.monotonic() < until:
                await flooder.ws.send(frame)
                await asyncio.sleep(0)
        except (websockets.WebSocketException, OSError, AssertionError):
            cutoffs += 1
            await asyncio.sleep(1)
    return cutoffs


def flood_process(ports: list[int], seconds: float, result: Any) -> None:
    """The flooder in a process of its own, so it cannot slow the other clients."""
    until = time.monotonic() + seconds
    result.value = asyncio.run(flood(ports, until))


# -- the run ------------------------------------------------------------------------


async def run(minutes: float, mode: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    redis_port = free_port()
    ports = [free_port(), free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        return await soak(minutes, mode, work, redis_port, ports, processes)
    finally:
        for process in processes:
            stop(process)


async def soak(
    minutes: float,
    mode: str,
    work: Path,
    redis_port: int,
    ports: list[int],
    processes: list[subprocess.Popen[bytes]],
) -> dict[str, Any]:
    redis = start_redis(work, redis_port)
    processes.append(redis)
    nodes = [start_node(mode, port, redis_port) for port in ports]
    processes.extend(nodes)
    started = time.monotonic()
    until = started + minutes * 60
    stats = Stats()
    clients = [
        Client(f"r{room}c{i}", f"soak-{room}", ports, batches=i % 2 == 0)
        for room in range(ROOMS)
        for i in range(PER_ROOM)
    ]
    random.shuffle(clients)
    silent = clients[: len(clients) // 20]
    for client in clients[len(clients) // 20 : len(clients) // 10]:
        client.slow = True
    senders = {}
    for client in clients:
        if client not in silent and client.room not in senders:
            senders[client.room] = client
    watcher = Client("canary", "canary", ports, batches=True)
    tasks = [asyncio.create_task(c.session_loop(stats, until)) for c in clients]
    tasks.append(asyncio.create_task(watcher.session_loop(stats, until)))
    tasks += [
        asyncio.create_task(send_forever(c, stats, until)) for c in senders.values()
    ]
    tasks += [
        asyncio.create_task(go_silent_now_and_then(c, stats, until)) for c in silent
    ]
    tasks.append(asyncio.create_task(canary(watcher, stats, until)))
    cutoffs = multiprocessing.Value("i", 0)
    flooder = multiprocessing.Process(
        target=flood_process, args=(ports, minutes * 60, cutoffs), daemon=True
    )
    flooder.start()
    rss: list[dict[str, Any]] = []
    killed = restarted_redis = False
    while time.monotonic() < until:
        await asyncio.sleep(10)
        elapsed = time.monotonic() - started
        rss.append({"t": round(elapsed), "rss_kib": [rss_kib(n) for n in nodes]})
        if not killed and elapsed > minutes * 20:
            killed = True
            nodes[0].send_signal(signal.SIGKILL)
            nodes[0].wait()
            await asyncio.sleep(8)
            nodes[0] = start_node(mode, ports[0], redis_port)
            processes.append(nodes[0])
        if not restarted_redis and elapsed > minutes * 40:
            restarted_redis = True
            redis.terminate()
            redis.wait()
            redis = start_redis(work, redis_port)
            processes.append(redis)
    await asyncio.sleep(25)  # last retries (10 s), then delivery and catch-up
    flooder.join(timeout=10)
    stats.flooder_cutoffs = cutoffs.value
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    report = account(redis_port, stats, clients, senders)
    report.update(
        minutes=minutes,
        mode=mode,
        rss=rss,
        canary=percentiles(stats.canary_ms),
        flooder_cutoffs=stats.flooder_cutoffs,
        silent_drops=stats.dropped_silent,
        reconnects=stats.reconnects,
    )
    return report


def account(
    redis_port: int, stats: Stats, clients: list[Client], senders: dict[str, Client]
) -> dict[str, Any]:
    """History (read from Redis itself, the source of truth) against the
    acknowledgements, and what each client saw against history."""
    import redis

    store = redis.Redis(port=redis_port)
    lost = duplicates = history_gaps = client_gaps = 0
    for room in senders:
        raw = store.lrange(f"chat:room:{room}:history", 0, -1)
        history = [json.loads(entry) for entry in raw]
        seqs = [int(m["seq"]) for m in history]
        history_gaps += sum(b - a - 1 for a, b in zip(seqs, seqs[1:], strict=False))
        ids = [m.get("client_id") for m in history]
        acked = [cid for cid, info in stats.acked.items() if info["room"] == room]
        lost += sum(1 for cid in acked if cid not in ids)
        duplicates += sum(ids.count(cid) - 1 for cid in acked if ids.count(cid) > 1)
        last = seqs[-1] if seqs else 0
        for client in clients:
            if client.room == room and client.seen:
                client_gaps += len(set(range(min(client.seen), last + 1)) - client.seen)
    store.close()
    return {
        "acked": len(stats.acked),
        "acked_but_lost": lost,
        "stored_twice": duplicates,
        "history_gaps": history_gaps,
        "client_gaps_after_catch_up": client_gaps,
        "client_duplicates_seen": sum(c.duplicates for c in clients),
    }


def percentiles(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"count": 0}
    ordered = sorted(samples)
    return {
        "count": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2], 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--mode", default="gevent")
    args = parser.parse_args()
    report = asyncio.run(run(args.minutes, args.mode))
    print(json.dumps(report, indent=1))
    bad = report["acked_but_lost"] or report["stored_twice"] or report["history_gaps"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
