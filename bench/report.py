"""bench/RESULTS.md from the latest full result of each server and scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Results = dict[tuple[str, str], dict[str, Any]]

SERVERS = ["eventlet", "gevent", "threading", "node"]
OURS = SERVERS[:3]
LABELS = {
    "eventlet": "ours, eventlet",
    "gevent": "ours, gevent",
    "threading": "ours, threading",
    "node": "stock Node socket.io 4.8",
}
# (scenario, figure) pairs compared against Node, with the direction that is better.
COMPARED = [
    ("A", "max_deliveries_per_second", "A: deliveries/s (≥ 1.0× is the target)"),
    ("A", "cpu_us_per_delivery_at_30k", "CPU per delivery (≤ 1.0×)"),
    ("B", "rss_kib_per_connection", "B: RSS per connection (≤ 1.0×)"),
    ("C", "p99_ms", "C: p99 (≤ 1.0×)"),
]
HEADER = (
    "| server | A: max deliveries/s (p99 < 100 ms, no loss) "
    "| server CPU µs per delivery at 30k/s "
    "| B: RSS KiB per idle connection (5,000) "
    "| C: 500-member room p50 / p99 / max ms |"
)
INTRO = """# Benchmark results

Written by `bench/compare.sh` (`python bench/bench.py report`). Each server is pinned
to core 0 and the load generator (2 Node processes, raw websockets) to core 1. Our
servers' clients take `messages` batches, as the React client does; the Node peer
sends one `message` per message (see README.md).
Compare ratios within this table only: absolute figures depend on the machine and on
what else it was doing. How to read them: [README.md](README.md).
"""


def figure(results: Results, server: str, scenario: str, key: str) -> float | None:
    record = results.get((server, scenario))
    value = record["figures"].get(key) if record else None
    return float(value) if isinstance(value, (int, float)) else None


def cell(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def ratio(ours: float | None, node: float | None) -> str:
    return "–" if ours is None or not node else f"{ours / node:.2f}×"


def server_row(results: Results, server: str) -> str:
    b = figure(results, server, "B", "rss_kib_per_connection")
    largest = figure(results, server, "B", "largest_idle_clients")
    timed_out = largest is not None and largest < 5000
    b_text = cell(b, 1) + (
        f" (at {largest:,.0f}; 5,000 timed out)" if timed_out else ""
    )
    c = " / ".join(
        cell(figure(results, server, "C", key), 1)
        for key in ("p50_ms", "p99_ms", "max_ms")
    )
    a = cell(figure(results, server, "A", "max_deliveries_per_second"))
    cpu = cell(figure(results, server, "A", "cpu_us_per_delivery_at_30k"), 1)
    return f"| {LABELS[server]} | {a} | {cpu} | {b_text} | {c} |"


def ratio_row(results: Results, server: str) -> str:
    cells = [
        ratio(figure(results, server, s, k), figure(results, "node", s, k))
        for s, k, _ in COMPARED
    ]
    return f"| {LABELS[server]} | " + " | ".join(cells) + " |"


def write_results(results: Results, path: Path) -> None:
    lines = [INTRO]
    sample = next(iter(results.values()), None)
    if sample:
        lines += [f"Machine: {sample['machine']}. Date: {sample['date']}.", ""]
    lines += [HEADER, "|---|---|---|---|---|"]
    lines += [server_row(results, server) for server in SERVERS]
    lines += ["", "Ratios against stock Node socket.io in the same run:", ""]
    lines += ["| server | " + " | ".join(label for *_, label in COMPARED) + " |"]
    lines += ["|---|---|---|---|---|"]
    lines += [ratio_row(results, server) for server in OURS]
    cluster = {s: figure(results, s, "D", "max_deliveries_per_second") for s in OURS}
    if any(value is not None for value in cluster.values()):
        lines += ["", "D, scenario A against two of our nodes on one Redis:", ""]
        lines += [
            f"- {LABELS[s]}: {cell(v)} deliveries/s"
            + (" (already over 100 ms p99 at the first step, 10k/s)" if v == 0 else "")
            for s, v in cluster.items()
            if v is not None
        ]
    lines += client_section(results)
    analysis = path.parent / "analysis.md"
    if analysis.exists():
        lines += ["", analysis.read_text().rstrip()]
    path.write_text("\n".join(lines) + "\n")


def client_section(results: Results) -> list[str]:
    """The web client in Chromium (bench/client/bench_client.py), if it was run."""
    record = results.get(("client", "CLIENT"))
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
