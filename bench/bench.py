"""Benchmark scenarios: start a server pinned to one core, drive it from the other.

    python bench/bench.py SERVER[:VARIANT] SCENARIO [--quick]
    python bench/bench.py report          # bench/RESULTS.md from bench/results/

SERVER: eventlet | gevent | threading (ours) | node (stock socket.io 4.8 peer)
VARIANT: plain (our clients take one `message` event per message, no batches) |
         redis (one node with REDIS_URL: ours with its Redis store and queue, Node's
         with @socket.io/redis-adapter; Redis runs on the generator's core)
SCENARIO: A (throughput ramp), B (idle memory), C (500-member fan-out),
          D (A against two nodes on Redis, ours or Node's with the adapter)

Each run prints one result line and writes JSON to bench/results/. Figures are only
comparable within one run on one machine: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# Where records go; BENCH_RESULTS elsewhere keeps a test's records out of them.
RESULTS = Path(os.environ.get("BENCH_RESULTS") or BENCH / "results")
PYTHON = REPO / ".venv" / "bin" / "python"
SERVER_CORE, GENERATOR_CORE = "0", "1"

# Bench-appropriate limits: the limiter stays in the measured path, but a load
# generator on one address must not be refused.
BENCH_ENV = {
    "SECRET_KEY": "bench-secret",
    "TRIP_SECRET": "bench-trip-secret",
    "LOG_LEVEL": "WARNING",
    "MAX_CONNECTIONS_PER_IP": "100000",
    "RATE_LIMIT_CONNECTIONS": "1000000 per second",
    "RATE_LIMIT_THRESHOLD": "100000000",
    "RATE_LIMIT_DISCONNECT_SCORE": "200000000",
    "FRAMES_PER_SECOND": "100000000",
    "FRAME_BURST": "100000000",
    "HISTORY_SIZE": "100",
    # A load generator is a flood by design: raid mode and connection-flood proofs
    # would throttle it. Thresholds out of reach keep their counting in the path.
    "RAID_JOINS_PER_MINUTE": "1000000",
    "RAID_MESSAGES_PER_MINUTE": "10000000",
    "CONNECTION_FLOOD_PER_MINUTE": "10000000",
}

# Messages/s per sender; x 20 senders x 10 members = deliveries/s (50 -> 10k); finer
# steps from 30k to 80k, where Redis mode and two nodes on one core top out (150:
# on the 2-core EPYC machine they did between 20k and 40k).
RAMP = [
    50,
    100,
    150,
    200,
    250,
    300,
    350,
    400,
    500,
    600,
    700,
    850,
    1000,
    1250,
    1500,
    2000,
    3000,
]
# The fixed rate at which CPU per delivery is measured: 20 senders x 100/s x 10.
FIXED_RATE = 100
# Our clients announce `messages` batches, as the React client does; the Node peer
# has no such feature. BENCH_BATCHES=0 (or the `plain` variant) measures our plain
# `message` path instead.
OUR_CLIENTS_BATCH = os.environ.get("BENCH_BATCHES", "1") != "0"
# Groups the records of one bench/compare.sh run (set by it; else one per record).
RUN_ID = os.environ.get("BENCH_RUN_ID", "")


@dataclass(frozen=True)
class Variant:
    """One server as measured: its runtime, how our clients take messages, and
    whether it runs with Redis."""

    name: str
    mode: str
    batches: bool
    redis: bool

    @classmethod
    def parse(cls, name: str) -> Variant:
        mode, _, options = name.partition(":")
        flags = set(filter(None, options.split("+")))
        if unknown := flags - {"plain", "redis"}:
            raise SystemExit(f"unknown variant {sorted(unknown)} in {name}")
        batches = mode != "node" and OUR_CLIENTS_BATCH and "plain" not in flags
        if mode != "node" and not batches and "plain" not in flags:
            name = f"{name}{'+' if options else ':'}plain"
        return cls(name, mode, batches, "redis" in flags)


STEP_SECONDS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def pinned(core: str, command: list[str]) -> list[str]:
    """`command` on `core` when this process may use it (a one-core machine runs
    everything unpinned: figures from it compare nothing, but the tests still run)."""
    if shutil.which("taskset") and int(core) in os.sched_getaffinity(0):
        return ["taskset", "-c", core, *command]
    return command


@contextmanager
def private_redis(
    core: str, prefix: tuple[str, ...] = (), stop_seconds: float = 10
) -> Iterator[tuple[int, int]]:
    """A throwaway Redis on a free loopback port: (port, pid). `prefix` runs it
    under another command (instructions.py: Valgrind)."""
    redis_dir = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    redis_port = free_port()
    redis = subprocess.Popen(
        pinned(
            core,
            [
                *prefix,
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(redis_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        ),
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(redis_port, redis)
        yield redis_port, redis.pid
    finally:
        stop(redis, stop_seconds)
        shutil.rmtree(redis_dir, ignore_errors=True)


def redis_url(port: int) -> dict[str, str]:
    return {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}


def start_server(
    kind: str,
    extra_env: dict[str, str] | None = None,
    repo: Path = REPO,
    prefix: tuple[str, ...] = (),
    start_timeout: float = 30,
) -> tuple[Any, int]:
    """`kind`'s server pinned to its core; ours from `repo`'s server/ (another
    checkout runs with this one's .venv, so both sides have the same libraries).
    `prefix`: a command to run ours under (bench/instructions.py's Valgrind)."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", **BENCH_ENV}
    env.update(extra_env or {})
    if kind == "node":
        command = ["node", str(BENCH / "peers" / "node-socketio" / "server.js")]
        cwd = BENCH
    else:
        env["ASYNC_MODE"] = kind
        command = [*prefix, str(PYTHON), "app.py"]
        cwd = repo / "server"
    process = subprocess.Popen(
        pinned(SERVER_CORE, command),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process, start_timeout)
    return process, port


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def loadgen(spec: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    command = pinned(
        GENERATOR_CORE, ["node", str(BENCH / "loadgen.js"), json.dumps(spec)]
    )
    done = subprocess.run(
        command, cwd=BENCH, capture_output=True, text=True, timeout=timeout, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def ramp_spec(
    variant: Variant, urls: list[str], pid: int, quick: bool
) -> dict[str, Any]:
    rates = RAMP[:3] if quick else RAMP
    steps = [{"rate": r, "seconds": 1 if quick else STEP_SECONDS} for r in rates]
    return {
        "urls": urls,
        "clients": 200,
        "rooms": 20,
        "senders": 20,
        "workers": 2,
        "serverPid": pid,
        "steps": steps,
        "stopWhen": {"p99": 100},
        "batches": variant.batches,
    }


def summarize_ramp(result: dict[str, Any]) -> dict[str, Any]:
    passing = [s for s in result["steps"] if s["lost"] <= 0 and (s["p99"] or 0) <= 100]
    best = max(passing, key=lambda s: s["deliveriesPerSecond"], default=None)
    return {
        "max_deliveries_per_second": best["deliveriesPerSecond"] if best else 0,
        "p99_at_max_ms": best["p99"] if best else None,
        "generator_cpu_share_at_max": best["generatorCpuShare"] if best else None,
    }


def cpu_at_fixed_rate(
    variant: Variant,
    urls: list[str],
    pid: int,
    quick: bool,
    redis_pid: int | None,
    all_pids: list[int] | None = None,
    *,
    rate: int = FIXED_RATE,
    seconds: int | None = None,
    warm_up: bool = False,
) -> dict[str, Any]:
    """Server CPU per delivery at 20,000 deliveries/s (20 senders x 100/s x 10), or
    at `rate` messages/s per sender, of every node in `all_pids` when given;
    `warm_up`: after 2 s at the default rate, for a server fresh from start-up."""
    spec = ramp_spec(variant, urls, pid, quick)
    measured = {"rate": rate, "seconds": seconds or (2 if quick else 5)}
    warm = [{"rate": FIXED_RATE, "seconds": 2}] if warm_up else []
    spec["steps"] = [*warm, measured]
    spec["redisPid"] = redis_pid
    if all_pids:
        spec["serverPids"] = all_pids
    spec.pop("stopWhen")
    result = loadgen(spec)
    step = result["steps"][-1]
    redis_cpu = step.get("redisCpuSeconds")
    return {
        "fixed_rate_deliveries_per_second": step["deliveriesPerSecond"],
        "cpu_us_per_delivery": step["serverCpuMicrosPerDelivery"],
        # The part spent in the kernel (system calls; on loopback a send also runs
        # the receiving side of TCP): what is left is the server's own code.
        "system_cpu_us_per_delivery": step.get("serverSystemCpuMicrosPerDelivery"),
        "redis_cpu_us_per_delivery": (
            redis_cpu * 1e6 / step["received"]
            if redis_cpu and step["received"]
            else None
        ),
        "fixed_rate_p99_ms": step["p99"],
        "fixed_rate_lost": step["lost"],
        "fixed_rate_generator_cpu_share": step["generatorCpuShare"],
        # Joins refused (and retried) while the server still drained the ramp's
        # last, overloaded step: `unavailable` with Redis, as it should be.
        "fixed_rate_refused_joins": result.get("refusedJoins", 0),
    }


@contextmanager
def server_for(
    variant: Variant, repo: Path = REPO, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[Any, int, int | None]]:
    """The variant's server, with its private Redis if it has one: (process, port,
    Redis pid). Redis runs on the generator's core so the server's is its own."""
    if not variant.redis:
        process, port = start_server(variant.mode, extra_env, repo)
        try:
            yield process, port, None
        finally:
            stop(process)
        return
    with private_redis(GENERATOR_CORE) as (redis_port, redis_pid):
        env = {**redis_url(redis_port), **(extra_env or {})}
        process, port = start_server(variant.mode, env, repo)
        try:
            yield process, port, redis_pid
        finally:
            stop(process)


def cpu_of_fresh_server(
    variant: Variant,
    repo: Path = REPO,
    extra_env: dict[str, str] | None = None,
    rate: int = FIXED_RATE,
    seconds: int | None = None,
) -> dict[str, Any]:
    """CPU per delivery of one fresh server at a fixed rate, after a short warm-up
    (ab.py and paired.py: rounds of fresh servers)."""
    with server_for(variant, repo, extra_env) as (process, port, redis_pid):
        return cpu_at_fixed_rate(
            variant,
            [f"ws://127.0.0.1:{port}"],
            process.pid,
            False,
            redis_pid,
            rate=rate,
            seconds=seconds,
            warm_up=True,
        )


def scenario_a(variant: Variant, quick: bool) -> dict[str, Any]:
    with server_for(variant) as (process, port, redis_pid):
        urls = [f"ws://127.0.0.1:{port}"]
        ramp = loadgen(ramp_spec(variant, urls, process.pid, quick))
        return {
            **summarize_ramp(ramp),
            **cpu_at_fixed_rate(variant, urls, process.pid, quick, redis_pid),
            "ramp": ramp,
        }


def scenario_b(variant: Variant, quick: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    kind = variant.mode
    for count in (200,) if quick else (1000, 5000):
        process, port = start_server(kind)
        try:
            spec = {
                "urls": [f"ws://127.0.0.1:{port}"],
                "clients": count,
                "rooms": max(1, count // 10),
                "senders": 0,
                "workers": 2,
                "serverPid": process.pid,
                "steps": [],
                "batches": variant.batches,
            }
            try:
                result = loadgen(spec, timeout=300)
            except subprocess.TimeoutExpired:
                figures[str(count)] = {"timed_out_after_seconds": 300}
                break
            before = result["server"]["before"]["rssKiB"]
            after = result["server"]["afterConnect"]["rssKiB"]
            figures[str(count)] = {
                "connect_seconds": result["connectSeconds"],
                "rss_kib_per_connection": (after - before) / count,
                "rss_before_kib": before,
                "rss_after_kib": after,
            }
        finally:
            stop(process)
    finished = [
        count for count, run in figures.items() if "rss_kib_per_connection" in run
    ]
    if not finished:
        return {"runs": figures}
    largest = max(finished, key=int)
    return {
        "rss_kib_per_connection": figures[largest]["rss_kib_per_connection"],
        "largest_idle_clients": int(largest),
        "runs": figures,
    }


def scenario_c(variant: Variant, quick: bool) -> dict[str, Any]:
    """One message at a time to a room of 500. The generator reads every member's
    copy, at about twice the CPU the server spends writing it: the last copy of a
    message is read ~members x its CPU per receipt after the first, which is most
    of the p99, so both are recorded. One worker: on the generator's one core a
    second only adds switches (its CPU per receipt 46-48 -> 37-39 us, 2026-11-29).
    A first step of 2 s is not counted: the generator's JIT warms up in it (the
    slowest messages of a run were its 3rd, 4th and 10th, for every server)."""
    with server_for(variant) as (process, port, _):
        spec = {
            "urls": [f"ws://127.0.0.1:{port}"],
            "clients": 100 if quick else 500,
            "rooms": 1,
            "senders": 1,
            "workers": 1,
            "serverPid": process.pid,
            "steps": [
                {"rate": 10, "seconds": 1 if quick else 2},
                {"rate": 10, "seconds": 2 if quick else 10},
            ],
            "batches": variant.batches,
        }
        result = loadgen(spec)
        warm_up, step = result["steps"]
        received = max(1, step["received"])
        return {
            "p50_ms": step["p50"],
            "p99_ms": step["p99"],
            "max_ms": step["max"],
            "lost": step["lost"] + warm_up["lost"],
            "join_seconds": result["connectSeconds"],
            "members": spec["clients"],
            "cpu_us_per_delivery": step["serverCpuMicrosPerDelivery"],
            "generator_cpu_us_per_receipt": step["generatorCpuSeconds"]
            * 1e6
            / received,
        }


def scenario_d(variant: Variant, quick: bool) -> dict[str, Any]:
    """Scenario A against two nodes sharing a Redis, all on the server's core (ours,
    or Node's with the redis-adapter, the like-for-like reference). CPU per delivery
    counts both nodes and Redis: against one in-memory node's (scenario A), it is the
    scale-out efficiency, what a fully busy core delivers in a cluster relative to
    one node alone (report.py)."""
    with private_redis(SERVER_CORE) as (redis_port, redis_pid):
        nodes = [start_server(variant.mode, redis_url(redis_port)) for _ in range(2)]
        try:
            urls = [f"ws://127.0.0.1:{port}" for _, port in nodes]
            pids = [process.pid for process, _ in nodes]
            spec = ramp_spec(variant, urls, pids[0], quick)
            spec["serverPids"] = pids
            ramp = loadgen(spec)
            fixed = cpu_at_fixed_rate(variant, urls, pids[0], quick, redis_pid, pids)
            nodes_cpu = fixed["cpu_us_per_delivery"]
            redis_cpu = fixed["redis_cpu_us_per_delivery"]
            return {
                **summarize_ramp(ramp),
                **fixed,
                "cluster_cpu_us_per_delivery": (
                    nodes_cpu + redis_cpu if nodes_cpu and redis_cpu else None
                ),
                "ramp": ramp,
            }
        finally:
            for process, _ in nodes:
                stop(process)


SCENARIOS = {"A": scenario_a, "B": scenario_b, "C": scenario_c, "D": scenario_d}


def near_generator_limit(figures: dict[str, Any]) -> bool:
    shares = [
        figures.get("generator_cpu_share_at_max"),
        figures.get("fixed_rate_generator_cpu_share"),
    ]
    return any(isinstance(share, float) and share > 0.9 for share in shares)


def one_line(kind: str, name: str, figures: dict[str, Any]) -> str:
    shown = {k: v for k, v in figures.items() if not isinstance(v, (dict, list))}
    parts = [
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()
    ]
    return f"{name} {kind}: " + " ".join(parts)


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    node = subprocess.run(
        ["node", "--version"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, Node {node}"
    )


def save_record(
    variant: Variant, scenario: str, quick: bool, figures: dict[str, Any]
) -> dict[str, Any]:
    """Writes one scenario's figures to bench/results/, under this run's id."""
    date = datetime.now(UTC)
    record = {
        "server": variant.name,
        "scenario": scenario,
        "quick": quick,
        "batches": variant.batches,
        "redis": variant.redis,
        "run_id": RUN_ID or date.strftime("%Y%m%dT%H%M%S"),
        "date": date.isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": figures,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = date.strftime("%Y%m%dT%H%M%S")
    file_name = f"{stamp}-{variant.name.replace(':', '-')}-{scenario}.json"
    (RESULTS / file_name).write_text(json.dumps(record, indent=2))
    return record


def run(kind: str, name: str, quick: bool) -> dict[str, Any]:
    variant = Variant.parse(kind)
    figures = SCENARIOS[name](variant, quick)
    record = save_record(variant, name, quick, figures)
    print(one_line(variant.name, name, figures), flush=True)
    if near_generator_limit(figures):
        print(
            "warning: the load generator used over 90 % of its core: "
            "these figures may be the generator's, not the server's",
            file=sys.stderr,
        )
    return record


def recent_runs(count: int = 2) -> list[tuple[str, dict[tuple[str, str], Any]]]:
    """The last `count` runs of compare.sh (records sharing a run id), oldest first."""
    runs: dict[str, dict[tuple[str, str], Any]] = {}
    for path in sorted(RESULTS.glob("*.json")):
        record = json.loads(path.read_text())
        run_id = record.get("run_id")
        if record.get("quick") or not run_id or record["server"] == "client":
            continue
        runs.setdefault(run_id, {})[(record["server"], record["scenario"])] = record
    # A run of compare.sh covers several servers; single bench.py runs do not count.
    full = [(run_id, run) for run_id, run in runs.items() if len(run) >= 4]
    full.sort(key=lambda item: min(record["date"] for record in item[1].values()))
    return full[-count:]


def latest_client_record() -> dict[str, Any] | None:
    records = [
        json.loads(p.read_text()) for p in sorted(RESULTS.glob("*-client-*.json"))
    ]
    return records[-1] if records else None


def report() -> None:
    from report import write_results

    write_results(recent_runs(), latest_client_record(), BENCH / "RESULTS.md")


if __name__ == "__main__":
    if sys.argv[1:2] == ["report"]:
        report()
    else:
        kind, name = sys.argv[1], sys.argv[2].upper()
        run(kind, name, quick="--quick" in sys.argv)
