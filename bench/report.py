"""bench/RESULTS.md from the latest full (not --quick) result of each server/scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SERVERS = ["eventlet", "gevent", "threading", "node"]
LABELS = {
    "eventlet": "ours, eventlet",
    "gevent": "ours, gevent",
    "threading": "ours, threading",
    "node": "stock Node socket.io 4.8",
}


def figure(results: dict[tuple[str, str], dict[str, Any]], server: str, scenario: str,
           key: str) -> float | None:
    record = results.get((server, scenario))
    value = record["figures"].get(key) if record else None
    return float(value) if isinstance(value, (int, float)) else None


def cell(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}{unit}"


def ratio(ours: float | None, node: float | None) -> str:
    if ours is None or not node:
        return "–"
    return f"{ours / node:.2f}×"


def write_results(results: dict[tuple[str, str], dict[str, Any]], path: Path) -> None:
    any_record = next(iter(results.values()), None)
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/compare.sh` (`python bench/bench.py report`). Each server is",
        "pinned to core 0 and the load generator (2 Node processes, raw websockets) to",
        "core 1. Compare ratios within this table only: absolute figures depend on the",
        "machine and on what else it was doing.",
        "",
    ]
    if any_record:
        lines += [f"Machine: {any_record['machine']}. Date: {any_record['date']}.", ""]
    lines += [
        "| server | A: max deliveries/s (p99 < 100 ms, no loss) | server CPU µs per delivery at 30k/s | B: RSS KiB per idle connection (5,000) | C: 500-member room p50 / p99 / max ms |",
        "|---|---|---|---|---|",
    ]
    for server in SERVERS:
        a = figure(results, server, "A", "max_deliveries_per_second")
        cpu = figure(results, server, "A", "cpu_us_per_delivery_at_30k")
        b = figure(results, server, "B", "rss_kib_per_connection")
        p50 = figure(results, server, "C", "p50_ms")
        p99 = figure(results, server, "C", "p99_ms")
        top = figure(results, server, "C", "max_ms")
        lines.append(
            f"| {LABELS[server]} | {cell(a)} | {cell(cpu, digits=1)} | {cell(b, digits=1)} "
            f"| {cell(p50, digits=1)} / {cell(p99, digits=1)} / {cell(top, digits=1)} |"
        )
    lines += ["", "Ratios against stock Node socket.io (targets: A ≥ 1.0×, CPU ≤ 1.0×, B ≤ 1.0×, C p99 ≤ 1.0×):", ""]
    lines += ["| server | A | CPU per delivery | B | C p99 |", "|---|---|---|---|---|"]
    node = {k: figure(results, "node", s, k) for s, k in [
        ("A", "max_deliveries_per_second"), ("A", "cpu_us_per_delivery_at_30k"),
        ("B", "rss_kib_per_connection"), ("C", "p99_ms")]}
    for server in SERVERS[:3]:
        lines.append(
            f"| {LABELS[server]} "
            f"| {ratio(figure(results, server, 'A', 'max_deliveries_per_second'), node['max_deliveries_per_second'])} "
            f"| {ratio(figure(results, server, 'A', 'cpu_us_per_delivery_at_30k'), node['cpu_us_per_delivery_at_30k'])} "
            f"| {ratio(figure(results, server, 'B', 'rss_kib_per_connection'), node['rss_kib_per_connection'])} "
            f"| {ratio(figure(results, server, 'C', 'p99_ms'), node['p99_ms'])} |"
        )
    d = {s: figure(results, s, "D", "max_deliveries_per_second") for s in SERVERS[:3]}
    if any(v is not None for v in d.values()):
        lines += ["", "D, scenario A against two of our nodes on Redis (same two cores):", ""]
        lines += [f"- {LABELS[s]}: {cell(v)} deliveries/s" for s, v in d.items() if v is not None]
    path.write_text("\n".join(lines) + "\n")
