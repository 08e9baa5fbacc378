"""Many short rounds on fresh servers, with delivery accounted per room.

Each round starts a fresh server, connects 200 raw-websocket clients from the Node
load generator (2 processes, 20 rooms of 10, one sender per room), sends at a fixed
rate for a few seconds, and compares what each room's members received with what
its sender sent. A whole room going silent, once seen in about 1 run in 20 under
gevent, shows up as one room with all of its share lost.

  .venv/bin/python bench/stress_rooms.py --mode gevent --rounds 40
  .venv/bin/python bench/stress_rooms.py --mode eventlet --rounds 40 --batches

Prints one line per round and a summary; exits 1 if any round lost a delivery.
tests/test_delivery_stress.py runs a few rounds of it in CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench import loadgen, start_server, stop


def one_round(
    port: int, pid: int, batches: bool, rate: int, seconds: int
) -> dict[str, Any]:
    result = loadgen(
        {
            "urls": [f"ws://127.0.0.1:{port}"],
            "clients": 200,
            "rooms": 20,
            "senders": 20,
            "workers": 2,
            "serverPid": pid,
            "steps": [{"rate": rate, "seconds": seconds}],
            "batches": batches,
        },
        timeout=120,
    )
    return dict(result["steps"][0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="gevent")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=20, help="messages/s per sender")
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--batches", action="store_true")
    parser.add_argument(
        "--rounds-per-server",
        type=int,
        default=1,
        help="rounds on one server before a fresh one (the benchmark runs several)",
    )
    args = parser.parse_args()
    rounds_with_loss = 0
    process = None
    for index in range(args.rounds):
        if index % args.rounds_per_server == 0:
            if process is not None:
                stop(process)
            process, port = start_server(args.mode)
        step = one_round(port, process.pid, args.batches, args.rate, args.seconds)
        lost = int(step["lost"])
        rounds_with_loss += lost != 0
        print(
            json.dumps(
                {
                    "round": index + 1,
                    "mode": args.mode,
                    "batches": args.batches,
                    "expected": step["expected"],
                    "lost": lost,
                    "duplicates": step["duplicates"],
                    "refused": step["refused"],
                    "roomLoss": step["roomLoss"],
                }
            ),
            flush=True,
        )
    if process is not None:
        stop(process)
    print(f"{rounds_with_loss} of {args.rounds} rounds lost deliveries")
    return 1 if rounds_with_loss else 0


if __name__ == "__main__":
    sys.exit(main())
