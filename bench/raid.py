"""Raid simulation (issue #14): a room's members keep chatting while raiders pour in.

One node with the default limits (the per-address ones included), on one core; in
the room, MEMBERS people with identity keys, each from an address of their own,
each sending a message a second; member 0 measures every member message's round
trip. RAIDERS raw-websocket clients, all from ONE address, try to connect (and try
again when refused), join the room (solving the proof of work asked, in Python,
as a raid script would) and post links as fast as the server takes them. Every
client names its address through X-Forwarded-For, the server trusting 127.0.0.1.

Reported: the members' delivery (n/n) and round trip (p50, p99, max), before and
during the raid; when raid mode started; how many raiders got a connection, into
the room, and how many of their messages were accepted or refused, by code.

  .venv/bin/python bench/raid.py [--mode gevent] [--raiders 200] [--seconds 30]

The members join in a calm of --calm-seconds first, longer than REGULAR_AFTER_MINUTES
(set low for the bench), so they are regulars when the raid starts; the raid lasts
no longer than that, so no raider becomes one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import websockets
from bench import (
    PYTHON,
    REPO,
    RESULTS,
    SERVER_CORE,
    free_port,
    pinned,
    stop,
    wait_for_port,
)

sys.path.insert(0, str(REPO / "server"))
from guards.proof_of_work import solve  # noqa: E402  (the server's own rule)

ROOM = "commons"
MEMBERS = 5
RAIDER_ADDRESS = "203.0.113.66"
REGULAR_AFTER_MINUTES = 0.5


def start_server(mode: str, port: int, pow_bits: int) -> Any:
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "ASYNC_MODE": mode,
        "SECRET_KEY": "raid",
        "TRIP_SECRET": "raid-trip",
        "LOG_LEVEL": "WARNING",
        "TRUSTED_PROXIES": "127.0.0.1",
        "POW_BITS": str(pow_bits),
        # The members joined in the calm before: regulars by the time raiders come,
        # while no raider becomes one before the raid is over.
        "REGULAR_AFTER_MINUTES": str(REGULAR_AFTER_MINUTES),
    }
    process = subprocess.Popen(
        pinned(SERVER_CORE, [str(PYTHON), "app.py"]),
        cwd=REPO / "server",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    return process


class Connection:
    """A raw Socket.IO client over one websocket: events, and acks by id."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_ack = 0
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, port: int, address: str, auth: Any = None) -> Connection:
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        socket = await websockets.connect(
            url,
            additional_headers={"X-Forwarded-For": address},
            open_timeout=10,
            ping_interval=None,
        )
        opening = await asyncio.wait_for(socket.recv(), 10)
        if not str(opening).startswith("0{"):
            raise ConnectionError("no Engine.IO open")
        await socket.send("40" + (json.dumps(auth) if auth else ""))
        reply = str(await asyncio.wait_for(socket.recv(), 10))
        if not reply.startswith("40"):
            await socket.close()
            raise ConnectionError(reply)
        return cls(socket)

    async def call(self, event: str, payload: Any, timeout: float = 10) -> Any:
        ack = self.next_ack
        self.next_ack += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[ack] = future
        await self.socket.send(f"42{ack}" + json.dumps([event, payload]))
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        self.reader.cancel()
        await self.socket.close()

    async def _read(self) -> None:
        async for frame in self.socket:
            text = str(frame)
            if text == "2":
                await self.socket.send("3")
            elif text.startswith("43"):
                digits = len(text) - len(text[2:].lstrip("0123456789"))
                ack_id = int(text[2:digits])
                future = self.acks.pop(ack_id, None)
                if future is not None and not future.done():
                    future.set_result(json.loads(text[digits:])[0])
            elif text.startswith("42"):
                event, *args = json.loads(text[2:])
                await self.events.put((event, args[0] if args else None))


def identity() -> dict[str, str]:
    return {"identity": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")}


# -- the members (a process of their own, so raiders cannot slow their clock) ------


async def members_main(port: int, seconds: float, raid_at: float) -> dict[str, Any]:
    members = [
        await Connection.open(port, f"198.51.100.{n + 1}", identity())
        for n in range(MEMBERS)
    ]
    for n, member in enumerate(members):
        state = await member.call("join", {"room": ROOM, "username": f"member{n}"})
        assert state["ok"], state
    watcher = members[0]
    sent_at: dict[str, float] = {}
    latencies: dict[str, list[float]] = {"before": [], "during": []}
    raid_started: list[float] = []
    start = time.monotonic()

    async def watch() -> None:
        while True:
            event, payload = await watcher.events.get()
            if event == "message" and payload["message"] in sent_at:
                phase = (
                    "before"
                    if sent_at[payload["message"]] < start + raid_at
                    else "during"
                )
                latencies[phase].append(
                    (time.monotonic() - sent_at.pop(payload["message"])) * 1000
                )
            elif event == "moderation" and payload.get("action") == "raid":
                raid_started.append(time.monotonic() - start)

    async def talk(n: int, member: Connection) -> int:
        sent = 0
        while time.monotonic() - start < seconds:
            text = f"member{n} says {sent}"
            sent_at[text] = time.monotonic()
            ack = await member.call("message", {"room": ROOM, "message": text})
            assert ack["ok"], ack
            sent += 1
            await asyncio.sleep(1.0)
        return sent

    watching = asyncio.create_task(watch())
    counts = await asyncio.gather(*(talk(n, m) for n, m in enumerate(members)))
    await asyncio.sleep(2)  # the last ones arrive
    watching.cancel()
    for member in members:
        await member.close()
    delivered = sum(len(v) for v in latencies.values())
    return {
        "sent": sum(counts),
        "delivered": delivered,
        "latency_ms": {phase: percentiles(v) for phase, v in latencies.items()},
        "raid_mode_started_s": round(raid_started[0], 1) if raid_started else None,
    }


def members_process(port: int, seconds: float, raid_at: float, out: Any) -> None:
    out.put(asyncio.run(members_main(port, seconds, raid_at)))


# -- the raiders ----------------------------------------------------------------------


async def raider(port: int, deadline: float, stats: Counter[str]) -> None:
    """Connect (again and again when refused), join, solve what is asked, spam."""
    while time.monotonic() < deadline:
        try:
            connection = await Connection.open(port, RAIDER_ADDRESS, identity())
        except (ConnectionError, OSError, websockets.WebSocketException, TimeoutError):
            stats["connect_refused"] += 1
            await asyncio.sleep(2)
            continue
        stats["connected"] += 1
        try:
            await raid(connection, deadline, stats)
        except (OSError, websockets.WebSocketException, TimeoutError):
            stats["cut_off"] += 1
        finally:
            await connection.close()


async def raid(connection: Connection, deadline: float, stats: Counter[str]) -> None:
    join: dict[str, Any] = {"room": ROOM}
    while time.monotonic() < deadline:
        reply = await connection.call("join", join)
        if reply["ok"]:
            stats["joined"] += 1
            break
        code = reply["error"]["code"]
        stats[f"join_{code}"] += 1
        if code not in ("challenge_required", "challenge_failed"):
            await asyncio.sleep(1)
            continue
        challenge = reply["error"]["challenge"]
        started = time.monotonic()
        solution = solve(challenge)  # blocks this process, as a script's CPU would
        stats["solve_ms_total"] += int((time.monotonic() - started) * 1000)
        stats["solved"] += 1
        join = {
            "room": ROOM,
            "proof": {"nonce": challenge["nonce"], "solution": solution},
        }
    else:
        return
    n = 0
    links = True  # until refused for them; then plain spam, as fast as allowed
    while time.monotonic() < deadline:
        n += 1
        text = f"buy now at spam{n}.example.com" if links else f"BUY NOW {n}"
        reply = await connection.call("message", {"room": ROOM, "message": text})
        if reply["ok"]:
            stats["spam_accepted"] += 1
        else:
            code = reply["error"]["code"]
            stats[f"spam_{code}"] += 1
            if code == "on_probation":
                links = False
                continue
            wait = reply["error"].get("retry_after_ms", 500) / 1000
            await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())))


async def raiders_main(port: int, count: int, seconds: float) -> dict[str, int]:
    stats: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(raider(port, deadline, stats) for _ in range(count)))
    return dict(stats)


def percentiles(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

    return {
        "n": len(ordered),
        "p50": at(0.5),
        "p99": at(0.99),
        "max": round(ordered[-1], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="gevent")
    parser.add_argument("--raiders", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--calm-seconds", type=float, default=35)
    parser.add_argument("--pow-bits", type=int, default=18)
    args = parser.parse_args()
    port = free_port()
    server = start_server(args.mode, port, args.pow_bits)
    try:
        results: Any = multiprocessing.Queue()
        total = args.calm_seconds + args.seconds
        members = multiprocessing.Process(
            target=members_process, args=(port, total, args.calm_seconds, results)
        )
        members.start()
        time.sleep(args.calm_seconds)
        raiders = asyncio.run(raiders_main(port, args.raiders, args.seconds))
        members.join(timeout=total + 30)
        member_figures = results.get(timeout=30)
    finally:
        stop(server)
    result = {
        "scenario": "raid",
        "mode": args.mode,
        "raiders": args.raiders,
        "seconds": args.seconds,
        "pow_bits": args.pow_bits,
        "members": member_figures,
        "raiders_stats": raiders,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"raid-{args.mode}-{stamp}.json").write_text(
        json.dumps(result, indent=2)
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
