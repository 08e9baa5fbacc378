"""CPU per delivery of our servers and their Node peer at the fixed rate, measured in
interleaved rounds within one run: the figures the CPU targets of RESULTS.md use.

    python bench/paired.py [--rounds 3] [--group plain|redis ...]
                           [--rate 100] [--seconds 5]

Why: scenario A measures each server's CPU once, minutes apart from its Node peer's,
and one measurement of the same server moves by about ±10 % on this shared machine
(ab.py's docstring). Here each round measures every server of a group once, on a
fresh server after a short warm-up, the order turning round each round (ours then
Node's, then Node's then ours), so a machine getting busier weighs on both sides
alike. Each round gives a ratio of ours to Node's measured moments apart; the record
keeps every round, and the target is read from the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # noqa: E402

# Each group: ours (as bench.py names variants) and the like-for-like Node peer.
GROUPS: dict[str, tuple[list[str], str]] = {
    "plain": (["gevent:plain", "eventlet:plain"], "node"),
    "redis": (["gevent:redis", "eventlet:redis"], "node:redis"),
}
SCENARIO = "P"


def round_order(servers: list[str], round_number: int) -> list[str]:
    """Every other round the other way round: drift within a round falls on each
    server first as often as last."""
    return servers if round_number % 2 == 0 else servers[::-1]


def summarize(
    rounds: list[dict[str, Any]], peer_rounds: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """A server's figures over the rounds: each round's, their medians and, against
    its peer's figure of the same round, each round's ratio and their median."""
    cpu = [r["cpu_us_per_delivery"] for r in rounds]
    kernel = [r["system_cpu_us_per_delivery"] for r in rounds]
    redis = [r["redis_cpu_us_per_delivery"] for r in rounds]
    figures: dict[str, Any] = {
        "rounds": rounds,
        "cpu_us_per_delivery": statistics.median(cpu),
        "system_cpu_us_per_delivery": statistics.median(kernel),
        "redis_cpu_us_per_delivery": (
            statistics.median(redis) if all(v is not None for v in redis) else None
        ),
        "lost": sum(r["fixed_rate_lost"] for r in rounds),
    }
    if peer_rounds is not None:
        ratios = [
            ours["cpu_us_per_delivery"] / peer["cpu_us_per_delivery"]
            for ours, peer in zip(rounds, peer_rounds, strict=True)
        ]
        figures["cpu_ratios_to_peer"] = ratios
        figures["cpu_ratio_to_peer"] = statistics.median(ratios)
    return figures


def run_group(name: str, rounds: int, rate: int, seconds: int) -> None:
    ours, peer = GROUPS[name]
    servers = [*ours, peer]
    measured: dict[str, list[dict[str, Any]]] = {server: [] for server in servers}
    for round_number in range(rounds):
        for server in round_order(servers, round_number):
            variant = bench.Variant.parse(server)
            figures = bench.cpu_of_fresh_server(variant, rate=rate, seconds=seconds)
            measured[server].append(figures)
            print(
                f"round {round_number + 1} {server}: "
                f"{figures['cpu_us_per_delivery']:.2f} µs per delivery",
                flush=True,
            )
    for server in servers:
        peer_rounds = None if server == peer else measured[peer]
        figures = summarize(measured[server], peer_rounds)
        bench.save_record(bench.Variant.parse(server), SCENARIO, False, figures)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--group", nargs="*", choices=sorted(GROUPS), default=sorted(GROUPS)
    )
    parser.add_argument(
        "--rate", type=int, default=bench.FIXED_RATE, help="messages/s per sender"
    )
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args(argv)
    for name in args.group:
        run_group(name, args.rounds, args.rate, args.seconds)


if __name__ == "__main__":
    main()
