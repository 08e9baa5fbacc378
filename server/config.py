"""Server configuration: every environment variable is parsed and validated here.

`Config.from_env()` is the only place that reads the environment, so a bad value
stops start-up with one clear message instead of failing later in a handler.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

DEFAULT_SECRET_KEY = "secret-dev-key-change-in-production"
ASYNC_MODES = ("eventlet", "gevent", "threading")
DEV_CLIENT_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")
REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the fix."""


@dataclasses.dataclass(frozen=True)
class Config:
    """Validated settings; defaults are what `python app.py` uses with no .env."""

    secret_key: str = DEFAULT_SECRET_KEY
    host: str = "127.0.0.1"
    port: int = 5000
    debug: bool = False
    async_mode: str = "eventlet"
    # "*" means any origin; otherwise the page's own origin plus these.
    cors_origins: tuple[str, ...] = DEV_CLIENT_ORIGINS
    history_size: int = 100
    max_message_length: int = 2000
    room_ttl_seconds: float = 600.0
    log_level: str = "INFO"
    client_dist: Path = REPO_ROOT / "client" / "dist"

    @property
    def allows_any_origin(self) -> bool:
        return "*" in self.cors_origins

    @property
    def uses_default_secret(self) -> bool:
        return self.secret_key == DEFAULT_SECRET_KEY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build a Config from `environ` (default: os.environ), raising ConfigError."""
        env = os.environ if environ is None else environ
        defaults = cls()

        def read(name: str, parse: Callable[[str, str], T], default: T) -> T:
            raw = env.get(name)
            return default if raw is None else parse(name, raw.strip())

        return cls(
            secret_key=read("SECRET_KEY", _parse_secret, defaults.secret_key),
            host=read("HOST", _parse_host, defaults.host),
            port=read("PORT", _int_between(1, 65535), defaults.port),
            debug=read("DEBUG", _parse_bool, defaults.debug),
            async_mode=read("ASYNC_MODE", parse_async_mode, defaults.async_mode),
            cors_origins=read("CORS_ORIGINS", _parse_origins, defaults.cors_origins),
            history_size=read(
                "HISTORY_SIZE", _int_between(1, 10_000), defaults.history_size
            ),
            max_message_length=read(
                "MAX_MESSAGE_LENGTH",
                _int_between(1, 100_000),
                defaults.max_message_length,
            ),
            room_ttl_seconds=read(
                "ROOM_TTL_SECONDS",
                _float_between(0, 30 * 86400),
                defaults.room_ttl_seconds,
            ),
            log_level=read("LOG_LEVEL", _parse_log_level, defaults.log_level),
        )


def parse_async_mode(name: str, raw: str) -> str:
    mode = raw.lower()
    if mode not in ASYNC_MODES:
        raise ConfigError(
            f"{name}={raw!r} is not supported; use one of: {', '.join(ASYNC_MODES)}"
        )
    return mode


def _parse_secret(name: str, raw: str) -> str:
    if not raw:
        raise ConfigError(f"{name} must not be empty")
    return raw


def _parse_host(name: str, raw: str) -> str:
    if not raw or any(c.isspace() for c in raw):
        raise ConfigError(f"{name}={raw!r} is not a host name or address")
    return raw


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def _parse_log_level(name: str, raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"{name}={raw!r}: use DEBUG, INFO, WARNING or ERROR")
    return level


def _parse_origins(name: str, raw: str) -> tuple[str, ...]:
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    if not origins:
        raise ConfigError(
            f"{name} is empty; list origins like http://localhost:8080 "
            "(the page's own origin is always allowed), or * for any origin"
        )
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(
                f"{name}: {origin!r} is not an origin like https://chat.example.com"
            )
    return origins


def _int_between(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}={value} must be between {low} and {high}")
        return value

    return parse


def _float_between(low: float, high: float) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}={value} must be between {low} and {high}")
        return value

    return parse
