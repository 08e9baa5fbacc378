"""The figures RESULTS.md's CPU and fan-out targets use: our servers and their Node
peer measured in interleaved rounds within one run.

    python bench/paired.py [--rounds 3] [--group plain redis fanout] [--quick]

Why: scenarios A and C measure each server once, minutes apart from its Node peer,
and one measurement of the same server moves by about ±10 % on this shared machine
(ab.py's docstring). Here each round measures every server of a group once on a
fresh server, the order turning round each round (ours then Node's, then Node's
then ours), so a machine getting busier weighs on both sides alike. Groups: CPU per
delivery at the fixed 20k deliveries/s after a warm-up, on the plain path and in
Redis mode (records of scenario P), and scenario C's p99 latency in a room of 500
(scenario PC). Each round gives a ratio of ours to Node's measured moments apart;
the record keeps every round, and a target is read from the median of the rounds'
ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # noqa: E402


@dataclass(frozen=True)
class Group:
    """Ours (as bench.py names variants) and the like-for-like Node peer, the figure
    compared (`key`, of what `measure` returns) and the scenario its records get."""

    ours: list[str]
    peer: str
    key: str
    scenario: str
    unit: str
    measure: Callable[[bench.Variant, bool], dict[str, Any]]


def cpu_round(variant: bench.Variant, quick: bool) -> dict[str, Any]:
    """20k deliveries/s for 5 s (quick: 2k/s for 1 s), on a fresh server."""
    if quick:
        return bench.cpu_of_fresh_server(variant, rate=10, seconds=1)
    return bench.cpu_of_fresh_server(variant)


GROUPS = {
    "plain": Group(
        ["gevent:plain", "eventlet:plain"],
        "node",
        "cpu_us_per_delivery",
        "P",
        "µs per delivery",
        cpu_round,
    ),
    "redis": Group(
        ["gevent:redis", "eventlet:redis"],
        "node:redis",
        "cpu_us_per_delivery",
        "P",
        "µs per delivery",
        cpu_round,
    ),
    # Scenario C (one room of 500) against Node's: the fan-out's p99 latency.
    "fanout": Group(
        ["gevent", "eventlet"], "node", "p99_ms", "PC", "ms p99", bench.scenario_c
    ),
}


def round_order(servers: list[str], round_number: int) -> list[str]:
    """Every other round the other way round: drift within a round falls on each
    server first as often as last."""
    return servers if round_number % 2 == 0 else servers[::-1]


def summarize(
    rounds: list[dict[str, Any]], key: str, peer_rounds: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """A server's figures over the rounds: each round's, the median of each figure
    and, against its peer's `key` of the same round, each round's ratio and their
    median."""
    figures: dict[str, Any] = {"rounds": rounds}
    for name in rounds[0]:
        values = [r[name] for r in rounds]
        if all(isinstance(v, (int, float)) for v in values):
            figures[name] = statistics.median(values)
    if peer_rounds is not None:
        ratios = [
            ours[key] / peer[key]
            for ours, peer in zip(rounds, peer_rounds, strict=True)
        ]
        figures["ratios_to_peer"] = ratios
        figures["ratio_to_peer"] = statistics.median(ratios)
    return figures


def run_group(name: str, rounds: int, quick: bool) -> None:
    group = GROUPS[name]
    servers = [*group.ours, group.peer]
    measured: dict[str, list[dict[str, Any]]] = {server: [] for server in servers}
    for round_number in range(rounds):
        for server in round_order(servers, round_number):
            figures = group.measure(bench.Variant.parse(server), quick)
            measured[server].append(figures)
            print(
                f"round {round_number + 1} {server}: "
                f"{figures[group.key]:.2f} {group.unit}",
                flush=True,
            )
    for server in servers:
        peer_rounds = None if server == group.peer else measured[group.peer]
        figures = summarize(measured[server], group.key, peer_rounds)
        bench.save_record(bench.Variant.parse(server), group.scenario, False, figures)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--group", nargs="*", choices=list(GROUPS), default=list(GROUPS)
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short check that it runs"
    )
    args = parser.parse_args(argv)
    for name in args.group:
        run_group(name, args.rounds, args.quick)


if __name__ == "__main__":
    main()
