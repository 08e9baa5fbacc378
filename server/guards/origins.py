"""Which web pages may open a socket here (cross-site WebSocket hijacking defence).

Engine.IO checks the `Origin` header of every handshake, polling and websocket
alike, against what this returns. The page's own origin is always allowed, so an
explicit list can never lock out the client this server serves; `*` turns the
check off and is only ever taken from an explicit CORS_ORIGINS=*. A proxy's
X-Forwarded-Host/-Proto count only when the request comes from TRUSTED_PROXIES:
anyone else could name any host there and be let in (and, over long-polling, be
answered with its own origin in Access-Control-Allow-Origin).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config import Config
from guards.client_address import Network, is_trusted

OriginCheck = Callable[[str | None, dict[str, Any]], bool]


def own_origins(environ: dict[str, Any], trusted: tuple[Network, ...] = ()) -> set[str]:
    """The origin(s) of the page this request came from, as a trusted proxy may
    report them."""
    host = environ.get("HTTP_HOST")
    if not host:
        return set()
    scheme = environ.get("wsgi.url_scheme", "http")
    origins = {f"{scheme}://{host}"}
    if not is_trusted(str(environ.get("REMOTE_ADDR") or ""), trusted):
        return origins
    forwarded_proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip()
    forwarded_host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()
    if forwarded_proto or forwarded_host:
        origins.add(f"{forwarded_proto or scheme}://{forwarded_host or host}")
    return origins


def origin_checker(config: Config) -> str | OriginCheck:
    """The `cors_allowed_origins` value for Engine.IO."""
    if config.allows_any_origin:
        return "*"
    allowed = frozenset(config.cors_origins)
    trusted = config.trusted_proxies

    def is_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
        return (
            origin is None
            or origin in allowed
            or origin in own_origins(environ, trusted)
        )

    return is_allowed
