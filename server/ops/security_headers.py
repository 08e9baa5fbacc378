"""Security headers on every HTTP response: pages, /metrics and the socket's own.

The page's Content-Security-Policy is set by http_routes (it depends on the host);
everything else (health checks, /metrics, Engine.IO's long-polling and handshake
responses, which never pass through Flask) gets a policy that allows nothing, and
the same no-sniff, no-referrer and no-framing headers as the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]

ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
NOTHING_ALLOWED = "default-src 'none'; frame-ancestors 'none'"


def with_security_headers(wsgi_app: WSGIApp) -> WSGIApp:
    """`wsgi_app` with the headers above added to responses that lack them."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [(n, v) for n, v in ALWAYS if n.lower() not in present]
            if "content-security-policy" not in present:
                extra.append(("Content-Security-Policy", NOTHING_ALLOWED))
            return start_response(status, headers + extra, *exc)

        return wsgi_app(environ, start)

    return app
