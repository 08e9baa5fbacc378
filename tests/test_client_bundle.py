"""The web client's first load stays within its budget (README, "First load")."""

from __future__ import annotations

import gzip
import os

import pytest

from support import REPO_ROOT

DIST = REPO_ROOT / "client" / "dist"
# First-load JavaScript, gzipped: the figure the README promises.
BUDGET_GZIP_BYTES = 125 * 1024


def built_scripts() -> list[str]:
    if not (DIST / "index.html").is_file():
        message = "client/dist is not built (cd client && npm run build)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    index = (DIST / "index.html").read_text()
    return [
        part.split('"', 1)[0]
        for part in index.split('src="')[1:]
        if part.split('"', 1)[0].endswith(".js")
    ]


def test_the_first_load_fits_the_budget_and_ships_precompressed() -> None:
    scripts = built_scripts()
    assert scripts, "index.html loads no script"
    total = 0
    for script in scripts:
        path = DIST / script.lstrip("/")
        assert (path.parent / (path.name + ".br")).is_file(), f"{script}.br missing"
        zipped = path.parent / (path.name + ".gz")
        assert gzip.decompress(zipped.read_bytes()) == path.read_bytes()
        total += zipped.stat().st_size
    print(f"first-load JavaScript: {total / 1024:.1f} KiB gzipped")
    assert total <= BUDGET_GZIP_BYTES
