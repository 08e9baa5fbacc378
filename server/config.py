"""Server configuration: every environment variable is parsed and validated here.

`Config.from_env()` is the only place that reads the environment, so a bad value
stops start-up with one clear message instead of failing later in a handler.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from limits import parse as parse_rate_limit

from guards.client_address import Network, parse_networks
from guards.rate_limit import RatePolicy
from wire.limits import ConnectionLimits

DEFAULT_SECRET_KEY = "secret-dev-key-change-in-production"
DEFAULT_TRIP_SECRET = "trip-dev-secret-change-in-production"
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
    # Engine.IO heartbeat: a silent client is dropped after interval + timeout.
    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    # Broadcasts framed once and written straight to idle websockets (eventlet and
    # gevent); off routes every packet through Engine.IO's queues as stock does.
    direct_writes: bool = True
    log_level: str = "INFO"
    # One log line per HTTP request.
    access_log: bool = False
    # A client gets this long to send a request's head (eventlet, gevent): without
    # it, half-open requests (21,000 once) held every file descriptor.
    header_timeout_seconds: float = 10.0
    client_dist: Path = REPO_ROOT / "client" / "dist"
    allow_insecure_secret: bool = False
    # Turns identity keys into trips; every node of a cluster needs the same one.
    trip_secret: str = DEFAULT_TRIP_SECRET
    # How long a name stays its trip's while they are away (0: not at all).
    nick_lease_seconds: float = 300.0
    # How long after sending a message its author may still edit it.
    edit_window_seconds: float = 600.0
    # Rooms appear in the lobby's list only when their owner lists them, unless
    # this is True (LIST_ROOMS_DEFAULT=listed).
    list_rooms_by_default: bool = False
    # A room's owner keeps it while they come back at least this often.
    room_owner_ttl_days: float = 7.0
    # Trips that moderate every room.
    mod_trips: frozenset[str] = frozenset()
    # How long someone kicked out of a room must wait to rejoin it.
    kick_seconds: float = 300.0
    # Raid mode starts in a room past this many newcomer joins, or messages, in a
    # minute (0: never by itself), and lasts this long.
    raid_joins_per_minute: int = 20
    raid_messages_per_minute: int = 600
    raid_minutes: float = 10.0
    # Newcomers let in during a raid: no links or mentions, slowed, for this long.
    probation_minutes: float = 10.0
    # A trip counts as a regular of a room this long after it first joined it.
    regular_after_minutes: float = 10.0
    # Proof-of-work difficulty (leading zero bits of SHA-256): 18 is ~1 s on a phone.
    pow_bits: int = 18
    # Past this many new connections a minute on a node, each proves work first.
    connection_flood_per_minute: int = 600
    trusted_proxies: tuple[Network, ...] = ()
    max_connections_per_ip: int = 100
    connection_rate_limit: str = "30 per 10 seconds"
    max_rooms_per_connection: int = 20
    rate_policy: RatePolicy = RatePolicy()
    # Below the rate limit: bytes waiting to be sent to one client (a client that
    # stops reading is dropped past this) and frames one client may send.
    max_queued_bytes: int = 4 * 1024 * 1024
    frames_per_second: float = 40.0
    frame_burst: float = 200.0
    # Several nodes: shared state and the message queue on Redis when set.
    redis_url: str | None = None
    redis_prefix: str = "chat:"
    node_timeout_seconds: float = 15.0
    log_format: str = "text"

    @property
    def connection_limits(self) -> ConnectionLimits:
        return ConnectionLimits(
            self.max_queued_bytes, self.frames_per_second, self.frame_burst
        )

    @property
    def allows_any_origin(self) -> bool:
        return "*" in self.cors_origins

    @property
    def uses_default_secret(self) -> bool:
        return self.secret_key == DEFAULT_SECRET_KEY

    @property
    def default_secrets(self) -> list[str]:
        """The secrets still at their public defaults."""
        defaults = []
        if self.uses_default_secret:
            defaults.append("SECRET_KEY")
        if self.trip_secret == DEFAULT_TRIP_SECRET:
            defaults.append("TRIP_SECRET")
        return defaults

    def startup_problem(self) -> str | None:
        """Why this configuration must not serve, if it must not.

        A public TRIP_SECRET would let anyone compute trips offline, and so mine
        a key whose trip passes for someone else's.
        """
        names = self.default_secrets
        if names and not self.debug and not self.allow_insecure_secret:
            return (
                f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} the "
                "public default. Put secrets of your own in .env, e.g. the output "
                "of: python -c 'import secrets; print(secrets.token_hex(32))'; or "
                "set ALLOW_INSECURE_SECRET=1 for a throwaway local server."
            )
        return None

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
            access_log=read("ACCESS_LOG", _parse_bool, defaults.access_log),
            header_timeout_seconds=read(
                "HTTP_HEADER_TIMEOUT_SECONDS",
                _float_between(0.5, 3600),
                defaults.header_timeout_seconds,
            ),
            ping_interval=read(
                "PING_INTERVAL_SECONDS", _float_between(1, 3600), defaults.ping_interval
            ),
            ping_timeout=read(
                "PING_TIMEOUT_SECONDS", _float_between(1, 3600), defaults.ping_timeout
            ),
            direct_writes=read("DIRECT_WRITES", _parse_bool, defaults.direct_writes),
            allow_insecure_secret=read(
                "ALLOW_INSECURE_SECRET", _parse_bool, defaults.allow_insecure_secret
            ),
            trip_secret=read("TRIP_SECRET", _parse_secret, defaults.trip_secret),
            nick_lease_seconds=read(
                "NICK_LEASE_SECONDS",
                _float_between(0, 30 * 86400),
                defaults.nick_lease_seconds,
            ),
            edit_window_seconds=read(
                "EDIT_WINDOW_SECONDS",
                _float_between(0, 30 * 86400),
                defaults.edit_window_seconds,
            ),
            list_rooms_by_default=read(
                "LIST_ROOMS_DEFAULT", _parse_listing, defaults.list_rooms_by_default
            ),
            room_owner_ttl_days=read(
                "ROOM_OWNER_TTL_DAYS",
                _float_between(0.001, 3650),
                defaults.room_owner_ttl_days,
            ),
            mod_trips=read("MOD_TRIPS", _parse_trips, defaults.mod_trips),
            kick_seconds=read(
                "KICK_SECONDS", _float_between(0, 30 * 86400), defaults.kick_seconds
            ),
            raid_joins_per_minute=read(
                "RAID_JOINS_PER_MINUTE",
                _int_between(0, 1_000_000),
                defaults.raid_joins_per_minute,
            ),
            raid_messages_per_minute=read(
                "RAID_MESSAGES_PER_MINUTE",
                _int_between(0, 10_000_000),
                defaults.raid_messages_per_minute,
            ),
            raid_minutes=read(
                "RAID_MINUTES", _float_between(0.1, 7 * 1440), defaults.raid_minutes
            ),
            probation_minutes=read(
                "PROBATION_MINUTES",
                _float_between(0, 7 * 1440),
                defaults.probation_minutes,
            ),
            regular_after_minutes=read(
                "REGULAR_AFTER_MINUTES",
                _float_between(0, 7 * 1440),
                defaults.regular_after_minutes,
            ),
            pow_bits=read("POW_BITS", _int_between(1, 32), defaults.pow_bits),
            connection_flood_per_minute=read(
                "CONNECTION_FLOOD_PER_MINUTE",
                _int_between(0, 10_000_000),
                defaults.connection_flood_per_minute,
            ),
            trusted_proxies=read(
                "TRUSTED_PROXIES", _parse_proxies, defaults.trusted_proxies
            ),
            max_connections_per_ip=read(
                "MAX_CONNECTIONS_PER_IP",
                _int_between(1, 1_000_000),
                defaults.max_connections_per_ip,
            ),
            connection_rate_limit=read(
                "RATE_LIMIT_CONNECTIONS",
                _parse_rate,
                defaults.connection_rate_limit,
            ),
            max_rooms_per_connection=read(
                "MAX_ROOMS_PER_CONNECTION",
                _int_between(1, 10_000),
                defaults.max_rooms_per_connection,
            ),
            rate_policy=_rate_policy(read, defaults.rate_policy),
            max_queued_bytes=read(
                "MAX_QUEUED_BYTES_PER_CONNECTION",
                _int_between(64 * 1024, 1 << 34),
                defaults.max_queued_bytes,
            ),
            frames_per_second=read(
                "FRAMES_PER_SECOND", _float_between(1, 1e9), defaults.frames_per_second
            ),
            frame_burst=read(
                "FRAME_BURST", _float_between(1, 1e9), defaults.frame_burst
            ),
            redis_url=read("REDIS_URL", _parse_redis_url, defaults.redis_url),
            redis_prefix=read("REDIS_PREFIX", _parse_prefix, defaults.redis_prefix),
            node_timeout_seconds=read(
                "NODE_TIMEOUT_SECONDS",
                _float_between(3, 3600),
                defaults.node_timeout_seconds,
            ),
            log_format=read("LOG_FORMAT", _parse_log_format, defaults.log_format),
        )


_RATE_FIELDS = {
    "RATE_LIMIT_HALF_LIFE_SECONDS": "half_life",
    "RATE_LIMIT_THRESHOLD": "threshold",
    "RATE_LIMIT_DISCONNECT_SCORE": "disconnect_score",
    "RATE_LIMIT_MEMORY_SECONDS": "memory_seconds",
    "RATE_LIMIT_MESSAGE_COST": "message_cost",
    "RATE_LIMIT_MESSAGE_LENGTH_COST": "message_length_cost",
    "RATE_LIMIT_JOIN_COST": "join_cost",
    "RATE_LIMIT_BAD_REQUEST_COST": "bad_request_cost",
    "RATE_LIMIT_REQUEST_COST": "request_cost",
    "RATE_LIMIT_TYPING_COST": "typing_cost",
    "RATE_LIMIT_RENAME_COST": "rename_cost",
}


def _rate_policy(read: Callable[..., float], defaults: RatePolicy) -> RatePolicy:
    values = {
        field: read(name, _float_between(0, 1e9), getattr(defaults, field))
        for name, field in _RATE_FIELDS.items()
    }
    policy = RatePolicy(**values)
    if policy.half_life <= 0 or policy.threshold <= 0:
        raise ConfigError(
            "RATE_LIMIT_HALF_LIFE_SECONDS and RATE_LIMIT_THRESHOLD must be above 0"
        )
    if policy.disconnect_score < policy.threshold:
        raise ConfigError(
            "RATE_LIMIT_DISCONNECT_SCORE must be at least RATE_LIMIT_THRESHOLD"
        )
    return policy


def _parse_redis_url(name: str, raw: str) -> str | None:
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name}={raw!r}: use a URL like redis://localhost:6379/0")
    return raw


def _parse_prefix(name: str, raw: str) -> str:
    if not raw or any(c.isspace() for c in raw):
        raise ConfigError(f"{name}={raw!r}: use a short key prefix such as chat:")
    return raw


def _parse_log_format(name: str, raw: str) -> str:
    value = raw.lower()
    if value not in {"text", "json"}:
        raise ConfigError(f"{name}={raw!r}: use text or json")
    return value


def _parse_listing(name: str, raw: str) -> bool:
    value = raw.lower()
    if value not in {"listed", "unlisted"}:
        raise ConfigError(f"{name}={raw!r}: use listed or unlisted")
    return value == "listed"


def _parse_trips(name: str, raw: str) -> frozenset[str]:
    trips = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
    for trip in trips:
        if not re.fullmatch(r"[a-z2-7]{10}", trip):
            raise ConfigError(
                f"{name}: {trip!r} is not a trip (10 characters, a-z and 2-7)"
            )
    return trips


def _parse_proxies(name: str, raw: str) -> tuple[Network, ...]:
    try:
        return parse_networks(part for part in raw.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"{name}: {error}; use addresses or CIDRs") from None


def _parse_rate(name: str, raw: str) -> str:
    try:
        parse_rate_limit(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a rate like '30 per 10 seconds' or '5/second'"
        ) from None
    return raw


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
    return _number_between(int, "a whole number", low, high)


def _float_between(low: float, high: float) -> Callable[[str, str], float]:
    return _number_between(float, "a number", low, high)


N = TypeVar("N", int, float)


def _number_between(
    convert: Callable[[str], N], kind: str, low: N, high: N
) -> Callable[[str, str], N]:
    def parse(name: str, raw: str) -> N:
        try:
            value = convert(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not {kind}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}={value} must be between {low} and {high}")
        return value

    return parse
