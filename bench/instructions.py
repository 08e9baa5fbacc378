"""Instructions per delivery, counted by Valgrind: a figure the machine's load does
not move, for levers too small for CPU time to show.

    python bench/instructions.py [--a PATH] [--b PATH] [--a-env K=V ...]
                                 [--b-env K=V ...] [--server gevent] [--rate 5]
                                 [--short 6] [--long 18] [--rooms 20]

Why: CPU time per delivery moves by about ±10 % between runs of the same server on
this shared machine (bench/ab.py), so a lever worth 2 to 5 % cannot be seen in it.
Valgrind's cachegrind counts the instructions the server executes, whatever else the
machine is doing. Each side's server runs twice under it with the same clients, once
for `--short` and once for `--long` seconds of load at `--rate` messages/s per
sender; the difference of the two counts over the difference of the deliveries is
what one more delivery costs, start-up, connections and shutdown cancelling out.

What it does not say: time. An instruction in the kernel's send() is not counted,
a cache miss costs more than a hit, and under Valgrind the server runs about 40x
slower, so the load is kept low (each message has the loop to itself, as at low
load natively). Use it to decide whether a change does less work on the same path;
report speed from bench.py and ab.py.

With `--server gevent:redis` the server runs on a private Redis, itself under
cachegrind: the figure per delivery is given for each. A one-node server stores every
message in Redis but publishes none (it relays only to other nodes).

`--rooms 5` puts the same 200 clients in rooms of 40 instead of 10: from the figures
at two room sizes, a message's own cost and each recipient's can be told apart
(per delivery = per recipient + per message / room size).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # noqa: E402
from ab import make_side  # noqa: E402

# Start-up and a clean exit (cachegrind writes its counts at exit) take ~40x longer.
VALGRIND_START_SECONDS = 120
VALGRIND_STOP_SECONDS = 60


@dataclass(frozen=True)
class Count:
    instructions: int
    deliveries: int
    redis_instructions: int = 0  # the variant's Redis, when it has one


def cachegrind_total(path: Path) -> int:
    """The `summary:` line of a cachegrind output file: instructions executed."""
    for line in path.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise ValueError(f"no summary in {path}")


def under_cachegrind(out: Path) -> tuple[str, ...]:
    """The command prefix that counts a process's instructions into `out`."""
    return (
        "valgrind",
        "--quiet",
        "--tool=cachegrind",
        "--cache-sim=no",
        f"--cachegrind-out-file={out}",
    )


def count(
    repo: Path,
    env: dict[str, str],
    variant: bench.Variant,
    rate: int,
    seconds: int,
    rooms: int,
) -> Count:
    """Instructions the whole server process (and its Redis, in Redis mode)
    executed for `seconds` of load."""
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        out = Path(scratch) / "cachegrind.out"
        redis_out = Path(scratch) / "redis-cachegrind.out"
        if variant.redis:
            redis_port, _ = stack.enter_context(
                bench.private_redis(
                    bench.GENERATOR_CORE,
                    under_cachegrind(redis_out),
                    VALGRIND_STOP_SECONDS,
                )
            )
            env = {**bench.redis_url(redis_port), **env}
        process, port = bench.start_server(
            variant.mode, env, repo, under_cachegrind(out), VALGRIND_START_SECONDS
        )
        try:
            url = f"ws://127.0.0.1:{port}"
            spec = bench.ramp_spec(variant, [url], process.pid, False)
            spec["steps"] = [{"rate": rate, "seconds": seconds}]
            spec["rooms"] = rooms
            spec.pop("stopWhen")
            result = bench.loadgen(spec)
        finally:
            bench.stop(process, VALGRIND_STOP_SECONDS)
        stack.close()  # Redis writes its counts as it exits
        lost = sum(step["lost"] for step in result["steps"])
        if lost:
            raise SystemExit(f"{lost} deliveries lost: lower --rate")
        deliveries = sum(step["received"] for step in result["steps"])
        redis_total = cachegrind_total(redis_out) if variant.redis else 0
        return Count(cachegrind_total(out), deliveries, redis_total)


def per_delivery(short: Count, long: Count) -> tuple[float, float]:
    """What one more delivery costs, in the server and in Redis: the difference
    of two runs."""
    extra = long.deliveries - short.deliveries
    if extra <= 0:
        raise ValueError("the long run delivered no more than the short one")
    return (
        (long.instructions - short.instructions) / extra,
        (long.redis_instructions - short.redis_instructions) / extra,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, default=bench.REPO)
    parser.add_argument("--b", type=Path, default=None)
    parser.add_argument("--a-env", nargs="*", default=[])
    parser.add_argument("--b-env", nargs="*", default=[])
    parser.add_argument("--server", default="gevent", help="SERVER[:plain|:redis]")
    parser.add_argument("--rate", type=int, default=5, help="messages/s per sender")
    parser.add_argument("--short", type=int, default=6, help="seconds of load")
    parser.add_argument("--long", type=int, default=18, help="seconds of load")
    parser.add_argument("--rooms", type=int, default=20, help="rooms of the 200")
    args = parser.parse_args(argv)
    if not shutil.which("valgrind"):
        raise SystemExit("needs valgrind (Debian package valgrind)")
    variant = bench.Variant.parse(args.server)
    if variant.mode == "node":
        raise SystemExit("instructions.py counts our server")
    sides = [make_side("A", args.a, args.a_env)]
    if args.b is not None or args.b_env:
        sides.append(make_side("B", args.b or bench.REPO, args.b_env))
    figures = []
    for side in sides:
        short = count(side.repo, side.env, variant, args.rate, args.short, args.rooms)
        long = count(side.repo, side.env, variant, args.rate, args.long, args.rooms)
        figure, in_redis = per_delivery(short, long)
        figures.append((figure, in_redis))
        redis_part = f", {in_redis:,.0f} in Redis" if variant.redis else ""
        print(
            f"{side.label}: {figure:,.0f} instructions per delivery{redis_part} "
            f"({short.deliveries} and {long.deliveries} deliveries)",
            flush=True,
        )
    if len(figures) == 2:
        (a, a_redis), (b, b_redis) = figures
        redis_part = f", in Redis {b_redis / a_redis:.3f}" if variant.redis else ""
        print(f"B / A: {b / a:.3f}{redis_part}")


if __name__ == "__main__":
    main()
