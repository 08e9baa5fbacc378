"""One lever at a time: server CPU per delivery of two trees, or two settings of one,
at one fixed rate, with the runs interleaved.

    python bench/ab.py [--a PATH] [--b PATH] [--a-env K=V ...] [--b-env K=V ...]
                       [--server gevent] [--rate 500] [--seconds 8] [--rounds 4]

PATH is a checkout (e.g. `git worktree add /tmp/before HEAD~1`); both default to
this one, so `--b-env DIRECT_WRITES=false` alone compares a setting. Each side's
server runs from its PATH with this checkout's .venv, bench settings and generator.

Why: on this shared machine one run of the same server moves by about ±10 %
(2026-11-27: 5.3 to 6.9 µs per delivery at 96k deliveries/s within half an hour),
so one A/B pair cannot show a change smaller than that. Runs alternate A B, B A, ...,
so drift hits both sides alike; the medians, their ratio and each side's range are
printed, and a difference is called only when the ranges do not overlap.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # noqa: E402


@dataclass
class Side:
    """One side of the comparison and what it measured."""

    label: str
    repo: Path
    env: dict[str, str]
    cpu_us_per_delivery: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.cpu_us_per_delivery)


def measure(side: Side, variant: bench.Variant, rate: int, seconds: int) -> float:
    """CPU µs per delivery of one fresh server, after a short warm-up step."""
    figures = bench.cpu_of_fresh_server(variant, side.repo, side.env, rate, seconds)
    if figures["fixed_rate_lost"]:
        lost = figures["fixed_rate_lost"]
        raise SystemExit(f"{side.label}: {lost} deliveries lost at this rate")
    return float(figures["cpu_us_per_delivery"])


def verdict(a: Side, b: Side) -> str:
    a_low, a_high = min(a.cpu_us_per_delivery), max(a.cpu_us_per_delivery)
    b_low, b_high = min(b.cpu_us_per_delivery), max(b.cpu_us_per_delivery)
    if b_high < a_low:
        return "B costs less than A in every round"
    if a_high < b_low:
        return "B costs more than A in every round"
    return "the ranges overlap: no difference shown"


def report(a: Side, b: Side) -> str:
    lines = [
        f"{side.label}: median {side.median:.2f} µs per delivery, range "
        f"{min(side.cpu_us_per_delivery):.2f}-{max(side.cpu_us_per_delivery):.2f} "
        f"({', '.join(f'{v:.2f}' for v in side.cpu_us_per_delivery)})"
        for side in (a, b)
    ]
    lines.append(f"B / A medians: {b.median / a.median:.3f}; {verdict(a, b)}")
    return "\n".join(lines)


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def make_side(name: str, repo: Path, env: list[str]) -> Side:
    return Side(" ".join([name, str(repo), *env]), repo, parse_env(env))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, default=bench.REPO)
    parser.add_argument("--b", type=Path, default=bench.REPO)
    parser.add_argument("--a-env", nargs="*", default=[])
    parser.add_argument("--b-env", nargs="*", default=[])
    parser.add_argument("--server", default="gevent", help="SERVER[:VARIANT]")
    parser.add_argument("--rate", type=int, default=500, help="messages/s per sender")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    variant = bench.Variant.parse(args.server)
    if variant.mode == "node":
        raise SystemExit("ab.py compares our server's trees or settings")
    a = make_side("A", args.a, args.a_env)
    b = make_side("B", args.b, args.b_env)
    for round_number in range(args.rounds):
        # A B, then B A: a machine slowly getting busier weighs on both alike.
        for side in (a, b) if round_number % 2 == 0 else (b, a):
            value = measure(side, variant, args.rate, args.seconds)
            side.cpu_us_per_delivery.append(value)
            print(f"round {round_number + 1} {side.label}: {value:.2f}", flush=True)
    print(report(a, b))


if __name__ == "__main__":
    main()
