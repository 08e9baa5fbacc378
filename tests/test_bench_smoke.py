"""The load generator still works against a real server: delivery accounting only."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from support import REPO_ROOT, ServerProcess

pytestmark = pytest.mark.integration

BENCH = REPO_ROOT / "bench"


@pytest.mark.parametrize("batches", [False, True])
def test_generator_delivers_every_message_once_in_order(
    tmp_path: Path, batches: bool
) -> None:
    if not (BENCH / "node_modules" / "ws").is_dir():
        message = "bench/node_modules is missing (cd bench && npm ci)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
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
    assert step["sent"] > 0
    assert step["received"] == step["expected"] == step["sent"] * 6
    assert step["lost"] == 0 and step["duplicates"] == 0 and step["outOfOrder"] == 0
