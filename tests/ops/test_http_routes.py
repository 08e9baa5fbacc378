from __future__ import annotations

import gzip
from pathlib import Path

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from support import make_config


def test_healthz_answers_ok_json() -> None:
    response = create_app(make_config()).test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_without_a_build_the_root_says_how_to_build(tmp_path: Path) -> None:
    app = create_app(make_config(client_dist=tmp_path / "missing"))
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert b"./run_server.sh" in response.data


def fetch(http: FlaskClient, path: str) -> TestResponse:
    """GET `path` and close the response, so no file handle outlives the test."""
    with http.get(path) as response:
        response.get_data()
        return response


def built_client(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>chat</title>")
    (root / "assets" / "app-1234.js").write_text("console.log('x')")
    (root / "favicon.svg").write_text("<svg/>")
    return root


def test_built_client_is_served_with_spa_fallback(tmp_path: Path) -> None:
    app = create_app(make_config(client_dist=built_client(tmp_path / "dist")))
    http = app.test_client()
    index = fetch(http, "/")
    assert index.status_code == 200 and b"<title>chat</title>" in index.data
    assert index.headers["Cache-Control"] == "no-cache"
    asset = fetch(http, "/assets/app-1234.js")
    assert asset.status_code == 200 and b"console.log" in asset.data
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    icon = fetch(http, "/favicon.svg")
    assert icon.headers["Cache-Control"] == "public, max-age=86400"
    fallback = fetch(http, "/some/client/route")
    assert fallback.status_code == 200 and b"<title>chat</title>" in fallback.data
    # A missing file is missing: no page served in its place (and cached as an icon).
    assert fetch(http, "/favicon.ico").status_code == 404


def test_assets_go_out_precompressed_when_the_browser_takes_it(tmp_path: Path) -> None:
    dist = built_client(tmp_path / "dist")
    source = (dist / "assets" / "app-1234.js").read_bytes()
    (dist / "assets" / "app-1234.js.gz").write_bytes(gzip.compress(source))
    (dist / "assets" / "app-1234.js.br").write_bytes(b"brotli bytes, as built")
    http = create_app(make_config(client_dist=dist)).test_client()

    def get(accept: str) -> TestResponse:
        with http.get(
            "/assets/app-1234.js", headers={"Accept-Encoding": accept}
        ) as got:
            got.get_data()
            return got

    best = get("gzip, deflate, br")
    assert best.headers["Content-Encoding"] == "br"
    assert best.data == b"brotli bytes, as built"
    assert best.headers["Content-Type"].startswith("text/javascript")
    assert "Accept-Encoding" in best.headers["Vary"]
    zipped = get("gzip")
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == source
    plain = get("identity")
    assert "Content-Encoding" not in plain.headers and plain.data == source
    assert "Accept-Encoding" in plain.headers["Vary"]


def test_paths_outside_the_build_are_not_served(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("private")
    app = create_app(make_config(client_dist=built_client(tmp_path / "dist")))
    response = fetch(app.test_client(), "/../secret.txt")
    assert b"private" not in response.data


def test_client_is_served_with_security_headers(tmp_path: Path) -> None:
    app = create_app(make_config(client_dist=built_client(tmp_path / "dist")))
    for path in ("/", "/assets/app-1234.js"):
        response = fetch(app.test_client(), path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy
        assert "connect-src 'self' ws://localhost wss://localhost" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_every_response_carries_the_security_headers(tmp_path: Path) -> None:
    """/metrics and the socket's own responses too, not only the page (issue #10)."""
    app = create_app(make_config(client_dist=built_client(tmp_path / "dist")))
    http = app.test_client()
    for path in ("/", "/healthz", "/metrics", "/socket.io/?EIO=4&transport=polling"):
        response = fetch(http, path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "no-referrer", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in fetch(http, "/").headers["Content-Security-Policy"]
    metrics_policy = fetch(http, "/metrics").headers["Content-Security-Policy"]
    assert metrics_policy.startswith("default-src 'none'")
