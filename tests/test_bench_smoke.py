"""The load generator still works against a real server: delivery accounting only."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import requests

from services import require_binary
from support import REPO_ROOT, ServerProcess, require_bench_generator

pytestmark = pytest.mark.integration

BENCH = REPO_ROOT / "bench"


def load_bench_script(name: str) -> ModuleType:
    """bench/NAME.py as a module (bench/ is not a package; its scripts import each
    other by name, as they do when run)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("batches", [False, True])
def test_generator_delivers_every_message_once_in_order(
    tmp_path: Path, batches: bool
) -> None:
    require_bench_generator()
    server = ServerProcess("eventlet", tmp_path).start()
    try:
        spec = {
            "urls": [server.url.replace("http", "ws")],
            "clients": 30,
            "rooms": 5,
            "senders": 5,
            "workers": 2,
            "serverPid": server.process.pid if server.process else None,
            "steps": [{"rate": 20, "seconds": 1}],
            "batches": batches,
        }
        done = subprocess.run(
            ["node", "loadgen.js", json.dumps(spec)],
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        metrics = requests.get(f"{server.url}/metrics", timeout=5).text
    finally:
        server.stop()
    # The batched run really took `messages` batches; the plain one none.
    assert ("chat_message_batches_total 0.0" not in metrics) == batches
    step = json.loads(done.stdout.strip().splitlines()[-1])["steps"][0]
    # The rate asked for, whole: 20 messages/s from each of 5 senders for 1 s
    # (counting timer ticks, which fire late, sent about 0.87 of it).
    assert step["sent"] == 20 * 5
    assert step["received"] == step["expected"] == step["sent"] * 6
    assert step["lost"] == 0 and step["duplicates"] == 0 and step["outOfOrder"] == 0
    # The server's CPU and its kernel part, read from /proc for the same interval.
    kernel = step["serverSystemCpuMicrosPerDelivery"]
    assert 0 <= kernel <= step["serverCpuMicrosPerDelivery"]


def test_report_splits_plain_cpu_into_kernel_and_own_code() -> None:
    report = load_bench_script("report")

    def record(total: float, kernel: float) -> dict[str, object]:
        figures = {"cpu_us_per_delivery": total, "system_cpu_us_per_delivery": kernel}
        return {"figures": figures, "date": "2026-11-27T14:00:00"}

    run = {
        ("node", "A"): record(26.0, 11.0),
        ("gevent:plain", "A"): record(34.0, 11.5),
        ("eventlet:plain", "A"): record(35.0, 9.5),
    }
    (line,) = report.kernel_split_lines([("T1", run)])
    assert "stock Node socket.io 4.8: kernel 11.0, own code 15.0;" in line
    assert "ours, gevent, plain: kernel 11.5, own code 22.5 (1.50×)" in line
    assert "ours, eventlet, plain: kernel 9.5, own code 25.5 (1.70×)" in line
    # The run table shows the kernel part in brackets, and older records without it.
    assert report.cpu_with_kernel(run, "node") == "26.0 (11.0)"
    del run[("node", "A")]["figures"]["system_cpu_us_per_delivery"]
    assert report.cpu_with_kernel(run, "node") == "26.0"


@pytest.mark.parametrize(
    ("a", "b", "verdict"),
    [
        ([5.0, 5.2], [4.1, 4.9], "B costs less than A in every round"),
        ([5.0, 5.2], [5.3, 6.0], "B costs more than A in every round"),
        ([5.0, 5.4], [5.3, 6.0], "the ranges overlap: no difference shown"),
    ],
)
def test_ab_calls_a_difference_only_when_the_ranges_do_not_overlap(
    a: list[float], b: list[float], verdict: str
) -> None:
    ab = load_bench_script("ab")
    side_a = ab.Side("A", REPO_ROOT, {}, a)
    side_b = ab.Side("B", REPO_ROOT, {}, b)
    assert ab.verdict(side_a, side_b) == verdict
    assert f"B / A medians: {side_b.median / side_a.median:.3f}; {verdict}" in (
        ab.report(side_a, side_b)
    )


def test_ab_interleaves_rounds_of_two_settings() -> None:
    require_bench_generator()
    done = subprocess.run(
        [sys.executable, "bench/ab.py", "--rounds", "2", "--seconds", "1"]
        + ["--rate", "20", "--b-env", "DIRECT_WRITES=false"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rounds = [line for line in done.stdout.splitlines() if line.startswith("round")]
    sides = [line.split(":")[0] for line in rounds]
    assert sides == [
        f"round 1 A {REPO_ROOT}",
        f"round 1 B {REPO_ROOT} DIRECT_WRITES=false",
        f"round 2 B {REPO_ROOT} DIRECT_WRITES=false",
        f"round 2 A {REPO_ROOT}",
    ]
    assert "B / A medians:" in done.stdout


def test_report_reads_cpu_and_fanout_targets_from_the_paired_rounds() -> None:
    report = load_bench_script("report")
    paired = load_bench_script("paired")

    def measured(cpu: float, kernel: float = 10.0) -> dict[str, object]:
        return {
            "cpu_us_per_delivery": cpu,
            "system_cpu_us_per_delivery": kernel,
            "redis_cpu_us_per_delivery": None,
            "fixed_rate_lost": 0,
        }

    key = "cpu_us_per_delivery"
    node = [measured(30.0), measured(40.0), measured(32.0)]
    ours = [measured(27.0), measured(44.0), measured(35.2)]
    figures = paired.summarize(ours, key, node)
    # Each round against Node's of the same round: 0.9, 1.1, 1.1; their median.
    assert figures["ratios_to_peer"] == pytest.approx([0.9, 1.1, 1.1])
    assert figures["ratio_to_peer"] == pytest.approx(1.1)
    assert figures[key] == 35.2 and figures["fixed_rate_lost"] == 0
    assert "redis_cpu_us_per_delivery" not in figures  # not a number in every round
    assert "ratio_to_peer" not in paired.summarize(node, key, None)

    def record(scenario_figures: dict[str, object]) -> dict[str, object]:
        return {"figures": scenario_figures, "date": "2026-11-29T07:00:00"}

    run = {
        ("node", "A"): record({key: 30.0}),
        ("gevent:plain", "A"): record({key: 27.0}),
        ("node", "C"): record({"p99_ms": 20.0}),
        ("gevent", "C"): record({"p99_ms": 25.0}),
    }
    # Without paired rounds, scenario A's (C's) one figure of each; with them, theirs.
    assert report._cpu_versus_peer(run, "gevent:plain") == pytest.approx(0.9)
    fanout = report._paired_versus_peer("PC", "C", "p99_ms")
    assert fanout(run, "gevent") == pytest.approx(1.25)
    run[("gevent:plain", "P")] = record(figures)
    run[("node", "P")] = record(paired.summarize(node, key, None))
    assert report._cpu_versus_peer(run, "gevent:plain") == pytest.approx(1.1)
    # The kernel/own-code split from the rounds too: medians of each round's parts.
    (split,) = report.kernel_split_lines([("T1", run)])
    assert "stock Node socket.io 4.8: kernel 10.0, own code 22.0;" in split
    assert "ours, gevent, plain: kernel 10.0, own code 25.2 (1.15×)" in split
    latencies = [{"p99_ms": 21.0}, {"p99_ms": 19.0}, {"p99_ms": 24.0}]
    node_latencies = [{"p99_ms": 21.0}, {"p99_ms": 20.0}, {"p99_ms": 20.0}]
    run[("gevent", "PC")] = record(
        paired.summarize(latencies, "p99_ms", node_latencies)
    )
    assert fanout(run, "gevent") == pytest.approx(1.0)
    lines = report.paired_lines([("T1", run)])
    (cpu_line,) = [line for line in lines if "gevent, plain" in line]
    assert "27.0, 44.0, 35.2 µs per delivery at 20k/s" in cpu_line
    assert "round by round 0.90, 1.10, 1.10 (median 1.10)" in cpu_line
    (fanout_line,) = [line for line in lines if "gevent, batches" in line]
    assert "21.0, 19.0, 24.0 ms p99 in C" in fanout_line
    assert "round by round 1.00, 0.95, 1.20 (median 1.00)" in fanout_line
    assert paired.round_order(["a", "b", "node"], 1) == ["node", "b", "a"]
    # C's two sides of the socket, medians of the rounds; a record without the
    # generator's figure (written before it was measured) is left out.
    assert report.fanout_lines([("T1", run)]) == []
    sides = [(17.0, 38.0), (18.0, 41.0), (16.0, 40.0)]
    run[("gevent", "PC")]["figures"]["rounds"] = [
        {
            **r,
            "members": 500,
            "cpu_us_per_delivery": s,
            "generator_cpu_us_per_receipt": g,
        }
        for r, (s, g) in zip(latencies, sides, strict=True)
    ]
    (side_line,) = report.fanout_lines([("T1", run)])
    assert side_line == (
        "- run T1: ours, gevent, batches: server 17.0, generator 40.0 "
        "(500 copies read in 20.0 ms)"
    )


def test_paired_measures_each_server_in_interleaved_rounds(tmp_path: Path) -> None:
    require_bench_generator()

    def run_paired(*arguments: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "bench/paired.py", "--quick", *arguments],
            cwd=REPO_ROOT,
            env={**os.environ, "BENCH_RESULTS": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return [line.split(":")[0] for line in done.stdout.splitlines()]

    assert run_paired("--rounds", "2", "--group", "plain") == [
        "round 1 gevent",
        "round 1 eventlet",
        "round 1 node",
        "round 2 node",
        "round 2 eventlet",
        "round 2 gevent",
    ]
    assert run_paired("--rounds", "1", "--group", "fanout") == [
        "round 1 gevent",
        "round 1 eventlet",
        "round 1 node",
    ]
    records = {
        (r["server"], r["scenario"]): r
        for r in (json.loads(p.read_text()) for p in tmp_path.glob("*.json"))
    }
    assert set(records) == {
        ("gevent:plain", "P"),
        ("eventlet:plain", "P"),
        ("node", "P"),
        ("gevent", "PC"),
        ("eventlet", "PC"),
        ("node", "PC"),
    }
    for scenario, key, servers in (
        ("P", "cpu_us_per_delivery", ("gevent:plain", "eventlet:plain")),
        ("PC", "p99_ms", ("gevent", "eventlet")),
    ):
        node_rounds = records[("node", scenario)]["figures"]["rounds"]
        for server in servers:
            figures = records[(server, scenario)]["figures"]
            assert all(
                r.get("fixed_rate_lost", r.get("lost")) == 0 for r in figures["rounds"]
            )
            if scenario == "PC":
                assert all(
                    r["members"] == 100 and r["generator_cpu_us_per_receipt"] > 0
                    for r in figures["rounds"]
                )
            assert figures["ratios_to_peer"] == pytest.approx(
                [
                    ours[key] / node[key]
                    for ours, node in zip(figures["rounds"], node_rounds, strict=True)
                ]
            )


def test_instructions_per_delivery_is_the_difference_of_two_runs(
    tmp_path: Path,
) -> None:
    instructions = load_bench_script("instructions")
    out = tmp_path / "cachegrind.out"
    out.write_text("events: Ir\nfl=x.c\nfn=f\n1 5\nsummary: 123456\n")
    assert instructions.cachegrind_total(out) == 123456
    short = instructions.Count(instructions=1_000_000, deliveries=100)
    long = instructions.Count(instructions=4_000_000, deliveries=400)
    assert instructions.per_delivery(short, long) == (10_000, 0)
    # In Redis mode, Redis's own count is differenced the same way.
    short = instructions.Count(1_000_000, 100, redis_instructions=500_000)
    long = instructions.Count(4_000_000, 400, redis_instructions=2_000_000)
    assert instructions.per_delivery(short, long) == (10_000, 5_000)
    with pytest.raises(ValueError):
        instructions.per_delivery(long, short)


def test_instructions_counts_a_real_server_under_valgrind() -> None:
    require_bench_generator()
    require_binary("valgrind")
    done = subprocess.run(
        [sys.executable, "bench/instructions.py", "--short", "1", "--long", "3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("A "))
    figure = int(line.split(": ")[1].split(" instructions")[0].replace(",", ""))
    # A delivery is tens of thousands of instructions (2026-11: ~40k under gevent);
    # the bounds only catch a broken difference (start-up counted, or nothing).
    assert 1_000 < figure < 1_000_000
