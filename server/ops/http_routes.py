"""Plain HTTP routes: the health check and the built React client.

When `client/dist/index.html` exists, this process serves the whole product: the
page, its assets, and (through Flask-SocketIO) the socket it talks to.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    request,
    send_from_directory,
)

bp = Blueprint("http_routes", __name__)

CLIENT_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chat server</title></head>
<body><h1>The chat server is running</h1>
<p>The web client has not been built yet. Run <code>./run_server.sh</code> from the
repository root (it builds the client), or <code>./run_client.sh</code> for the
development client on port 8080.</p></body></html>
"""


def content_security_policy(host: str) -> str:
    """No inline script or style, no plugins, no framing; sockets to this host only."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' ws://{host} wss://{host}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.after_request
def page_security_policy(response: Response) -> Response:
    """The page's policy: its own scripts and styles, a socket to this host only.
    (ops/security_headers.py adds the rest to every response.)"""
    response.headers["Content-Security-Policy"] = content_security_policy(request.host)
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers HTTP."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: 503 while the shared store or the message queue is unreachable."""
    ready = current_app.extensions["chat_ready"]()
    return jsonify(status="ready" if ready else "unavailable"), 200 if ready else 503


# Built files other than index.html and the hashed assets (the favicon...).
STATIC_MAX_AGE = 86_400
ASSET_MAX_AGE = 31_536_000
# Precompressed copies written by the client's build, best first.
PRECOMPRESSED = (("br", ".br"), ("gzip", ".gz"))


@bp.get("/")
@bp.get("/<path:path>")
def client(path: str = "") -> Response | tuple[str, int, dict[str, str]]:
    """A built file when one matches; index.html for any other page path (the client
    routes by #hash); 404 for a missing file, so a browser caches nothing wrong."""
    dist: Path = current_app.config["CLIENT_DIST"]
    if not (dist / "index.html").is_file():
        return CLIENT_NOT_BUILT, 200, {"Content-Type": "text/html; charset=utf-8"}
    if path and (dist / path).is_file() and path != "index.html":
        return built_file(dist, path)
    if "." in path.rsplit("/", 1)[-1]:
        return "Not found", 404, {"Content-Type": "text/plain; charset=utf-8"}
    response = send_from_directory(dist, "index.html", max_age=0)
    response.cache_control.no_cache = True
    response.cache_control.max_age = None
    return response


def built_file(dist: Path, path: str) -> Response:
    """A file of the build, precompressed when the browser takes that, cached long:
    Vite puts a content hash in every asset's name, so those never change."""
    max_age = ASSET_MAX_AGE if path.startswith("assets/") else STATIC_MAX_AGE
    mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    for encoding, suffix in PRECOMPRESSED:
        if request.accept_encodings[encoding] and (dist / (path + suffix)).is_file():
            response = send_from_directory(
                dist, path + suffix, mimetype=mimetype, max_age=max_age
            )
            response.headers["Content-Encoding"] = encoding
            break
    else:
        response = send_from_directory(dist, path, max_age=max_age)
    response.vary.add("Accept-Encoding")
    if path.startswith("assets/"):
        response.cache_control.immutable = True
    return response
