"""bench/RESULTS.md from bench/results/: the last two full runs of bench/compare.sh.

One table per run (every row measured in that run, with its date and run id), then
the ratios against the like-for-like Node row of the same run, side by side for the
two runs: a target counts as met only when it holds in both.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

Record = dict[str, Any]
Run = dict[tuple[str, str], Record]  # (server variant, scenario) -> record

# Table rows, in order: (variant as bench.py names it, label, its Node peer).
ROWS = [
    ("eventlet", "ours, eventlet, batches", "node"),
    ("eventlet:plain", "ours, eventlet, plain", "node"),
    ("eventlet:redis", "ours, eventlet, batches, Redis (1 node)", "node:redis"),
    ("gevent", "ours, gevent, batches", "node"),
    ("gevent:plain", "ours, gevent, plain", "node"),
    ("gevent:redis", "ours, gevent, batches, Redis (1 node)", "node:redis"),
    ("threading", "ours, threading, batches", "node"),
    ("node", "stock Node socket.io 4.8", None),
    ("node:redis", "stock Node socket.io 4.8 + @socket.io/redis-adapter", None),
]
LABELS = {variant: label for variant, label, _ in ROWS}
PEERS = {variant: peer for variant, _, peer in ROWS}

INTRO = """# Benchmark results

Written by `bench/compare.sh` (`python bench/bench.py report`) from its last two
runs. Each server is pinned to core 0 and the load generator (Node processes, raw
websockets: two, one in C) to core 1; with Redis, one node and its Redis (on the
generator's core).
*batches*: our clients announce `messages` batches, as the React client does;
*plain*: they take one `message` event per message, as any socket.io client does and
as the Node peer always sends. Plain against Node is like for like; batches against
Node compares our client's path with Node's only path. How to read the figures:
[README.md](README.md).
"""


def figure(run: Run, variant: str, scenario: str, key: str) -> float | None:
    record = run.get((variant, scenario))
    value = record["figures"].get(key) if record else None
    return float(value) if isinstance(value, (int, float)) else None


def cell(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def ratio(ours: float | None, peer: float | None) -> float | None:
    return None if ours is None or not peer else ours / peer


def rss(run: Run, variant: str, clients: str) -> float | None:
    record = run.get((variant, "B"))
    runs = record["figures"].get("runs", {}) if record else {}
    value = runs.get(clients, {}).get("rss_kib_per_connection")
    return float(value) if isinstance(value, (int, float)) else None


def cpu_with_kernel(run: Run, variant: str) -> str:
    """CPU per delivery at the fixed rate, and in brackets its kernel part (absent
    from records written before it was measured)."""
    total = cell(figure(run, variant, "A", "cpu_us_per_delivery"), 1)
    kernel = figure(run, variant, "A", "system_cpu_us_per_delivery")
    return total if kernel is None else f"{total} ({cell(kernel, 1)})"


def run_table(run_id: str, run: Run) -> list[str]:
    lines = [
        f"### Run {run_id}",
        "",
        "| server | A: max deliveries/s (p99 < 100 ms, no loss) "
        "| server CPU µs per delivery at 20k/s (of it in the kernel) "
        "| Redis CPU µs per delivery "
        "| B: RSS KiB per idle connection, 1,000 / 5,000 "
        "| C: 500-member room p50 / p99 / max ms | measured |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant, label, _ in ROWS:
        records = [r for (v, _), r in run.items() if v == variant]
        if not records:
            continue

        def a(key: str, digits: int = 0, variant: str = variant) -> str:
            return cell(figure(run, variant, "A", key), digits)

        c = " / ".join(
            cell(figure(run, variant, "C", key), 1)
            for key in ("p50_ms", "p99_ms", "max_ms")
        )
        b = " / ".join(cell(rss(run, variant, n), 1) for n in ("1000", "5000"))
        dates = sorted(r["date"] for r in records)
        lines.append(
            f"| {label} | {a('max_deliveries_per_second')} "
            f"| {cpu_with_kernel(run, variant)} "
            f"| {a('redis_cpu_us_per_delivery', 1)} "
            f"| {b} | {c} | {dates[0][:16]}–{dates[-1][11:16]} |"
        )
    return lines


# (name, servers, how to get the ratio from a run, target, better when lower)
Target = tuple[str, list[str], Callable[[Run, str], float | None], float, bool]


def _versus_peer(scenario: str, key: str) -> Callable[[Run, str], float | None]:
    def compute(run: Run, variant: str) -> float | None:
        peer = PEERS.get(variant)
        if peer is None:
            return None
        return ratio(
            figure(run, variant, scenario, key), figure(run, peer, scenario, key)
        )

    return compute


def _paired_versus_peer(
    paired: str, scenario: str, key: str
) -> Callable[[Run, str], float | None]:
    """Against the Node peer: the median of the interleaved rounds' ratios (paired.py,
    scenario `paired`) when the run has them, else `scenario`'s one measurement of
    each, minutes apart."""
    single = _versus_peer(scenario, key)

    def compute(run: Run, variant: str) -> float | None:
        ratio_of_rounds = figure(run, variant, paired, "ratio_to_peer")
        return ratio_of_rounds if ratio_of_rounds is not None else single(run, variant)

    return compute


_cpu_versus_peer = _paired_versus_peer("P", "A", "cpu_us_per_delivery")


def _rss_versus_node(clients: str) -> Callable[[Run, str], float | None]:
    def compute(run: Run, variant: str) -> float | None:
        return ratio(rss(run, variant, clients), rss(run, "node", clients))

    return compute


def _efficiency(run: Run, variant: str) -> float | None:
    """Scale-out: one in-memory node's CPU per delivery against two nodes and their
    Redis (scenario D), all on one core: what a busy core delivers in a cluster."""
    mode = variant.split(":")[0]
    return ratio(
        figure(run, mode, "A", "cpu_us_per_delivery"),
        figure(run, mode, "D", "cluster_cpu_us_per_delivery"),
    )


TARGETS: list[Target] = [
    (
        "CPU per delivery, Redis mode vs Node + redis-adapter",
        ["eventlet:redis", "gevent:redis"],
        _cpu_versus_peer,
        1.0,
        True,
    ),
    (
        # Node's row is the reference: two Node nodes with the redis-adapter.
        "scale-out efficiency (D), ≥ 0.8",
        ["eventlet", "gevent", "node:redis"],
        _efficiency,
        0.8,
        False,
    ),
    (
        "RSS per idle connection at 1,000 vs Node",
        ["eventlet", "gevent"],
        _rss_versus_node("1000"),
        1.0,
        True,
    ),
    (
        "RSS per idle connection at 5,000 vs Node",
        ["eventlet", "gevent"],
        _rss_versus_node("5000"),
        1.0,
        True,
    ),
    (
        # Issue #16: at most Node's on the recommended mode, gevent...
        "plain path CPU per delivery vs Node (like for like), ≤ 1.0",
        ["gevent:plain"],
        _cpu_versus_peer,
        1.0,
        True,
    ),
    (
        # ...and eventlet (deprecated upstream) within 1.2×.
        "plain path CPU per delivery vs Node (like for like), eventlet ≤ 1.2",
        ["eventlet:plain"],
        _cpu_versus_peer,
        1.2,
        True,
    ),
    (
        "plain path A max vs Node (like for like)",
        ["gevent:plain", "eventlet:plain"],
        _versus_peer("A", "max_deliveries_per_second"),
        1.0,
        False,
    ),
    (
        "batches A max vs Node",
        ["eventlet", "gevent"],
        _versus_peer("A", "max_deliveries_per_second"),
        1.0,
        False,
    ),
    (
        "batches C p99 vs Node",
        ["eventlet", "gevent"],
        _paired_versus_peer("PC", "C", "p99_ms"),
        1.0,
        True,
    ),
]


def ratio_table(runs: list[tuple[str, Run]]) -> list[str]:
    ids = [run_id for run_id, _ in runs]
    lines = [
        "| target | server | "
        + " | ".join(f"run {i}" for i in ids)
        + " | met in every run? |",
        "|---|---|" + "---|" * len(ids) + "---|",
    ]
    for name, variants, compute, target, lower in TARGETS:
        for variant in variants:
            values = [compute(run, variant) for _, run in runs]
            if all(v is None for v in values):
                continue
            met = all(
                v is not None and (v <= target if lower else v >= target)
                for v in values
            )
            shown = " | ".join("–" if v is None else f"{v:.2f}" for v in values)
            lines.append(
                f"| {name} | {LABELS[variant]} | {shown} | {'yes' if met else 'no'} |"
            )
    return lines


def node_spread(runs: list[tuple[str, Run]]) -> list[str]:
    """Node's own figures in each run: how far apart two runs of the same server are."""
    lines = []
    for key, what in (
        ("max_deliveries_per_second", "A max deliveries/s"),
        ("cpu_us_per_delivery", "CPU µs per delivery at 20k/s"),
    ):
        for variant in ("node", "node:redis"):
            values = [figure(run, variant, "A", key) for _, run in runs]
            known = [v for v in values if v]
            if len(known) < 2:
                continue
            spread = (max(known) - min(known)) / min(known)
            shown = ", ".join(cell(v, 1) for v in known)
            lines.append(f"- {LABELS[variant]}, {what}: {shown} ({spread:.0%} apart)")
    return lines


PAIRED = [
    ("P", "cpu_us_per_delivery", "µs per delivery at 20k/s"),
    ("PC", "p99_ms", "ms p99 in C"),
]


def paired_lines(runs: list[tuple[str, Run]]) -> list[str]:
    """Each run's interleaved rounds (paired.py): every server's figure round by
    round, and ours against Node's of the same round."""
    lines = []
    for run_id, run in runs:
        for scenario, key, unit in PAIRED:
            for variant, label, peer in ROWS:
                record = run.get((variant, scenario))
                if record is None:
                    continue
                figures = record["figures"]
                shown = ", ".join(cell(r[key], 1) for r in figures["rounds"])
                line = f"- run {run_id}, {label}: {shown} {unit}"
                ratios = figures.get("ratios_to_peer")
                if ratios and peer:
                    line += (
                        f"; against {LABELS[peer]} round by round "
                        + ", ".join(f"{r:.2f}" for r in ratios)
                        + f" (median {figures['ratio_to_peer']:.2f})"
                    )
                lines.append(line)
    return lines


def kernel_and_own(run: Run, variant: str) -> tuple[float, float] | None:
    """CPU per delivery at 20k/s in the kernel and in the server's own code: the
    medians over the interleaved rounds (paired.py) when the run has them, else
    scenario A's one measurement."""
    record = run.get((variant, "P"))
    if record is not None:
        rounds = record["figures"]["rounds"]
        kernel = [r["system_cpu_us_per_delivery"] for r in rounds]
        own = [
            r["cpu_us_per_delivery"] - r["system_cpu_us_per_delivery"] for r in rounds
        ]
        return statistics.median(kernel), statistics.median(own)
    total = figure(run, variant, "A", "cpu_us_per_delivery")
    kernel_a = figure(run, variant, "A", "system_cpu_us_per_delivery")
    if total is None or kernel_a is None:
        return None
    return kernel_a, total - kernel_a


def kernel_split_lines(runs: list[tuple[str, Run]]) -> list[str]:
    """The plain path's CPU per delivery at 20k/s cut in two: the kernel's part
    (system calls, much the same for every server) and the server's own code."""
    lines = []
    for run_id, run in runs:
        parts = []
        node_own = None
        for variant in ("node", "gevent:plain", "eventlet:plain"):
            split = kernel_and_own(run, variant)
            if split is None:
                continue
            kernel, own = split
            if variant == "node":
                node_own = own
            versus = ratio(own, node_own) if variant != "node" else None
            parts.append(
                f"{LABELS[variant]}: kernel {cell(kernel, 1)}, own code "
                f"{cell(own, 1)}" + ("" if versus is None else f" ({versus:.2f}×)")
            )
        if parts:
            lines.append(f"- run {run_id}: " + "; ".join(parts))
    return lines


def fanout_rounds(run: Run, variant: str) -> list[dict[str, Any]]:
    """`variant`'s measurements of C: the interleaved rounds where the run has
    them, else its one scenario C."""
    paired = run.get((variant, "PC"))
    if paired is not None:
        return list(paired["figures"]["rounds"])
    single = run.get((variant, "C"))
    return [single["figures"]] if single is not None else []


def fanout_lines(runs: list[tuple[str, Run]]) -> list[str]:
    """C's CPU per delivery on each side of the socket: the generator reads a
    message's copies one after another, so members x its CPU per receipt is about
    when the last is read, whatever the server (records before 2026-11-29T10:00
    lack the figures)."""
    lines = []
    for run_id, run in runs:
        parts = []
        for variant, label, _ in ROWS:
            rounds = fanout_rounds(run, variant)
            if not rounds or any(
                r.get("generator_cpu_us_per_receipt") is None for r in rounds
            ):
                continue
            server = statistics.median(r["cpu_us_per_delivery"] for r in rounds)
            reader = statistics.median(
                r["generator_cpu_us_per_receipt"] for r in rounds
            )
            members = rounds[0]["members"]
            parts.append(
                f"{label}: server {cell(server, 1)}, generator {cell(reader, 1)} "
                f"({members} copies read in {cell(members * reader / 1000, 1)} ms)"
            )
        if parts:
            lines.append(f"- run {run_id}: " + "; ".join(parts))
    return lines


def cluster_lines(runs: list[tuple[str, Run]]) -> list[str]:
    lines = []
    for run_id, run in runs:
        for mode in ("eventlet", "gevent", "node"):
            top = figure(run, mode, "D", "max_deliveries_per_second")
            nodes = figure(run, mode, "D", "cpu_us_per_delivery")
            redis = figure(run, mode, "D", "redis_cpu_us_per_delivery")
            if top is None:
                continue
            label = LABELS["node:redis" if mode == "node" else mode]
            lines.append(
                f"- run {run_id}, {label}: highest passing {cell(top)} "
                "deliveries/s; "
                f"at 20k/s the two nodes {cell(nodes, 1)} + Redis {cell(redis, 1)} "
                f"µs per delivery, one in-memory node "
                f"{cell(figure(run, mode, 'A', 'cpu_us_per_delivery'), 1)}"
            )
    return lines


def write_results(
    runs: list[tuple[str, Run]], client: Record | None, path: Path
) -> None:
    lines = [INTRO]
    sample = next((r for _, run in runs for r in run.values()), None)
    if sample:
        lines += [f"Machine: {sample['machine']}.", ""]
    lines += ["## Ratios against the like-for-like Node row, run by run", ""]
    lines += ratio_table(runs)
    spread = node_spread(runs)
    if spread:
        lines += ["", "Node's own spread between the runs:", "", *spread]
    paired = paired_lines(runs)
    if paired:
        lines += [
            "",
            "Interleaved rounds (bench/paired.py: each round a fresh server of "
            "each, the order turned round every round): CPU per delivery at 20k/s "
            "and C's p99; the CPU and C p99 targets above are the median of the "
            "rounds' ratios:",
            "",
            *paired,
        ]
    split = kernel_split_lines(runs)
    if split:
        lines += [
            "",
            "Plain path, CPU µs per delivery at 20k/s in the kernel and in the "
            "server's own code (user time; against Node's in brackets; medians of "
            "the interleaved rounds where the run has them):",
            "",
            *split,
        ]
    fanout = fanout_lines(runs)
    if fanout:
        lines += [
            "",
            "C, CPU µs per delivery in the server and per receipt in the load "
            "generator (medians of the interleaved rounds where the run has them). "
            "The generator reads a message's copies one after another, so the last "
            "is read about members × its figure after the first: that, more than "
            "the server, is C's p99 for every server:",
            "",
            *fanout,
        ]
    cluster = cluster_lines(runs)
    if cluster:
        lines += [
            "",
            "D, scenario A against two nodes on one Redis, nodes and Redis on one "
            "core (ours, and Node's with the redis-adapter for reference; efficiency "
            "above: the in-memory node's CPU per delivery over the cluster's, nodes "
            "and Redis together):",
            "",
            *cluster,
        ]
    for run_id, run in runs:
        lines += ["", *run_table(run_id, run)]
    lines += client_section(client)
    analysis = path.parent / "analysis.md"
    if analysis.exists():
        lines += ["", analysis.read_text().rstrip()]
    path.write_text("\n".join(lines) + "\n")


def client_section(record: Record | None) -> list[str]:
    """The web client in Chromium (bench/client/bench_client.py), if it was run."""
    if not record:
        return []
    rows = [
        f"| {c['messages']:,} | {c['keystroke_median_ms']} | {c['keystroke_p95_ms']} "
        f"| {c['load_earlier_s']} | {c['heap_mb']} |"
        for c in record["figures"]["checkpoints"]
    ]
    floor = record["figures"].get("empty_page")
    floor_line = (
        [
            "",
            f"For scale, a page with nothing but a text box: median "
            f"{floor['keystroke_median_ms']} ms, p95 {floor['keystroke_p95_ms']} ms.",
        ]
        if floor
        else []
    )
    return [
        "",
        "## The web client (bench/client/bench_client.py)",
        "",
        "Headless Chromium, 1280×800, a room receiving 50 messages/s "
        f"({record['date']}). Keystroke to paint: from keydown to the frame after it, "
        "frames not held for vsync. Targets: keystroke p95 < 16 ms and heap < 50 MB "
        "at 10,000 messages.",
        "",
        "| messages in the room | keystroke to paint, median ms | p95 ms "
        "| loading earlier messages, s | JS heap MB |",
        "|---|---|---|---|---|",
        *rows,
        *floor_line,
    ]
