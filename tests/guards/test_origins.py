from __future__ import annotations

from typing import Any

import pytest

from config import Config
from guards.client_address import parse_networks
from guards.origins import origin_checker

ENVIRON: dict[str, Any] = {"HTTP_HOST": "chat.local:5000", "wsgi.url_scheme": "http"}


def check(
    config: Config, origin: str | None, environ: dict[str, Any] = ENVIRON
) -> bool:
    checker = origin_checker(config)
    assert callable(checker)
    return checker(origin, environ)


@pytest.mark.parametrize(
    "origin", ["http://chat.local:5000", "http://localhost:8080", None]
)
def test_default_allows_own_origin_dev_client_and_non_browsers(
    origin: str | None,
) -> None:
    assert check(Config(), origin)


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "https://chat.local:5000", "null"]
)
def test_default_refuses_other_origins(origin: str) -> None:
    assert not check(Config(), origin)


def test_explicit_list_still_allows_the_page_own_origin() -> None:
    config = Config(cors_origins=("https://chat.example.com",))
    assert check(config, "https://chat.example.com")
    assert check(config, "http://chat.local:5000")
    assert not check(config, "http://localhost:8080")


PROXY = Config(trusted_proxies=parse_networks(["10.0.0.1"]))


def test_origin_behind_a_trusted_tls_proxy_counts_as_own() -> None:
    environ = {**ENVIRON, "REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_PROTO": "https"}
    assert check(PROXY, "https://chat.local:5000", environ)


@pytest.mark.parametrize("peer", ["203.0.113.7", "10.0.0.2"])
def test_forwarded_headers_from_anyone_else_are_ignored(peer: str) -> None:
    """A forged X-Forwarded-Host must not turn evil.example into our own origin."""
    environ = {
        **ENVIRON,
        "REMOTE_ADDR": peer,
        "HTTP_X_FORWARDED_HOST": "evil.example",
        "HTTP_X_FORWARDED_PROTO": "https",
    }
    assert not check(PROXY, "https://evil.example", environ)
    assert not check(Config(), "https://evil.example", environ)


def test_star_disables_the_check() -> None:
    assert origin_checker(Config(cors_origins=("*",))) == "*"
